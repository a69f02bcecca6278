//! Streamable HTTP at `/_purser/mcp` on the proxy's own port: the agent's name and key (`Authorization: Basic`
//! or `Proxy-Authorization`) are checked, then `rmcp`'s stateless service answers. Requests whose `Host` or
//! `Origin` is not a loopback address are refused, so a web page cannot reach it through DNS rebinding.

use std::sync::{Arc, OnceLock};

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::link::Link;
use super::tools::PurserTools;
use crate::http::body::ProxyBody;
use crate::proxy::Proxy;
use crate::proxy::refusal::Failure;

/// The path of the MCP endpoint.
pub const PATH: &str = "/_purser/mcp";

type Service = StreamableHttpService<PurserTools, NeverSessionManager>;

fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let loopback = ["localhost", "127.0.0.1", "[::1]", "::1"];
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            .with_allowed_hosts(loopback);
        StreamableHttpService::new(|| Ok(PurserTools::over_http()), Arc::new(NeverSessionManager::default()), config)
    })
}

/// Answers one MCP request from an agent.
pub async fn handle(proxy: &Proxy, mut req: Request<Incoming>) -> Result<Response<ProxyBody>, Failure> {
    // A page from elsewhere is turned away before the key is asked for (no browser login prompt for it).
    if let Some(origin) = req.headers().get(http::header::ORIGIN)
        && !loopback_origin(origin.as_bytes())
    {
        return Err(Failure::Forbidden {
            reason: "origin_not_allowed",
            detail: "Purser's MCP endpoint answers MCP clients and pages on this machine's loopback address only"
                .into(),
        });
    }
    let unknown = |f: Failure| if matches!(f, Failure::ProxyAuthRequired) { Failure::AuthRequired } else { f };
    let (name, key) = crate::proxy::agent_api::credentials(req.headers()).ok_or(Failure::AuthRequired)?;
    crate::proxy::auth::check_agent(proxy, &name, &key).await.map_err(unknown)?;
    let addr = proxy.local_addr.get().copied().ok_or_else(|| Failure::Unavailable {
        reason: "starting".into(),
        detail: "Purser is still starting".into(),
        retry_after_secs: 1,
    })?;
    req.extensions_mut().insert(Arc::new(Link::new(addr, &name, &key)));
    let resp = service().handle(req).await;
    Ok(resp.map(|body| body.map_err(|never| match never {}).boxed()))
}

/// Whether an `Origin` is `http://` on a loopback address, any port.
fn loopback_origin(origin: &[u8]) -> bool {
    std::str::from_utf8(origin)
        .ok()
        .and_then(|o| o.strip_prefix("http://"))
        .is_some_and(crate::proxy::handler::loopback_authority)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_pages_are_origins_it_answers() {
        for ok in ["http://localhost:3000", "http://127.0.0.1", "http://[::1]:8080"] {
            assert!(super::loopback_origin(ok.as_bytes()), "{ok}");
        }
        for no in [
            "null",
            "http://evil.example",
            "https://localhost",
            "http://localhost.evil.example:80",
            "http://127.0.0.1.nip.io",
        ] {
            assert!(!super::loopback_origin(no.as_bytes()), "{no}");
        }
    }
}
