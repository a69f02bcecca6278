//! The MCP server's way to Purser: JSON calls to the agent endpoints on the proxy's own port, with the
//! agent's name and key in `Proxy-Authorization`, as the agent itself would make them.

use std::net::SocketAddr;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What went wrong with one call.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Purser answered with a problem: a bad argument, an allowance that is not this agent's, a wrong key.
    #[error("{detail}")]
    Refused { status: u16, reason: String, detail: String },
    #[error("Purser is not reachable at {addr} ({cause}): start the Purser app, `purser serve` or `purser sandbox`")]
    Unreachable { addr: SocketAddr, cause: String },
    #[error("Purser's answer could not be read: {0}")]
    BadAnswer(String),
}

/// One agent's way to the running Purser.
#[derive(Clone)]
pub struct Link {
    addr: SocketAddr,
    agent: String,
    authorization: HeaderValue,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.debug_struct("Link").field("addr", &self.addr).field("agent", &self.agent).finish_non_exhaustive()
    }
}

impl Link {
    /// Agent `agent` with `key`, reaching Purser's proxy at `addr`.
    pub fn new(addr: SocketAddr, agent: &str, key: &str) -> Self {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{agent}:{key}"));
        let mut authorization =
            HeaderValue::from_str(&format!("Basic {basic}")).unwrap_or_else(|_| HeaderValue::from_static("Basic"));
        authorization.set_sensitive(true);
        Link { addr, agent: agent.to_string(), authorization, client: shared_client() }
    }

    /// The `Authorization` value an MCP client sends for this agent over HTTP.
    pub(super) fn authorization(&self) -> &HeaderValue {
        &self.authorization
    }

    /// The link an agent's proxy URL (`http://NAME:KEY@127.0.0.1:PORT`, as `purser env` and `purser run`
    /// set it) describes, when it names a loopback address.
    pub fn from_proxy_url(proxy_url: &str) -> Option<Self> {
        let url = url::Url::parse(proxy_url).ok()?;
        let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']');
        let ip: std::net::IpAddr =
            if host.eq_ignore_ascii_case("localhost") { [127, 0, 0, 1].into() } else { host.parse().ok()? };
        if url.scheme() != "http" || !ip.is_loopback() || url.username().is_empty() {
            return None;
        }
        let decode =
            |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        let name = decode(url.username())?;
        let key = decode(url.password()?)?;
        Some(Link::new(SocketAddr::new(ip, url.port()?), &name, &key))
    }

    /// The agent this link speaks for.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// Where it reaches Purser's proxy.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn get<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, LinkError> {
        self.call(Method::GET, path_and_query, Bytes::new()).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, LinkError> {
        let body = serde_json::to_vec(body).map_err(|e| LinkError::BadAnswer(e.to_string()))?;
        self.call(Method::POST, path, Bytes::from(body)).await
    }

    async fn call<T: DeserializeOwned>(&self, method: Method, path: &str, body: Bytes) -> Result<T, LinkError> {
        let req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header(header::PROXY_AUTHORIZATION, self.authorization.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| LinkError::BadAnswer(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| LinkError::Unreachable { addr: self.addr, cause: crate::http::client::error_chain(&e) })?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await.map_err(|e| LinkError::BadAnswer(e.to_string()))?.to_bytes();
        if !status.is_success() {
            let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            return Err(LinkError::Refused {
                status: status.as_u16(),
                reason: problem["reason"].as_str().unwrap_or("unknown").to_string(),
                detail: problem["detail"].as_str().map_or_else(|| format!("Purser answered {status}"), str::to_string),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| LinkError::BadAnswer(e.to_string()))
    }
}

/// One pooled client for every link in the process: an HTTP MCP request makes a link per call, and its calls
/// reuse the same kept-alive connections to the proxy (each request carries its own agent's key).
fn shared_client() -> Client<HttpConnector, Full<Bytes>> {
    static CLIENT: std::sync::OnceLock<Client<HttpConnector, Full<Bytes>>> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let mut connector = HttpConnector::new();
            connector.set_nodelay(true);
            Client::builder(TokioExecutor::new()).build(connector)
        })
        .clone()
}

/// A failed call as the MCP client reads it: a bad argument is "invalid params", a key Purser does not take
/// "invalid request", anything else an internal error; each with Purser's words and reason code.
impl From<LinkError> for rmcp::ErrorData {
    fn from(e: LinkError) -> Self {
        let message = e.to_string();
        match e {
            LinkError::Refused { status, reason, .. } => {
                let data = Some(serde_json::json!({ "reason": reason, "status": status }));
                match status {
                    400 | 404 => rmcp::ErrorData::invalid_params(message, data),
                    401 | 403 | 407 => rmcp::ErrorData::invalid_request(
                        format!("Purser did not take this agent's name and key: {message}"),
                        data,
                    ),
                    _ => rmcp::ErrorData::internal_error(message, data),
                }
            }
            LinkError::Unreachable { .. } | LinkError::BadAnswer(_) => rmcp::ErrorData::internal_error(message, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_give_a_link_only_on_loopback() {
        let link = Link::from_proxy_url("http://research:k%40y@127.0.0.1:8402").unwrap();
        assert_eq!(link.agent(), "research");
        assert_eq!(link.addr, "127.0.0.1:8402".parse().unwrap());
        let basic = base64::engine::general_purpose::STANDARD.encode("research:k@y");
        assert_eq!(link.authorization.to_str().unwrap(), format!("Basic {basic}"));
        assert!(Link::from_proxy_url("http://research:key@[::1]:8402").is_some());
        assert!(Link::from_proxy_url("http://research:key@10.0.0.5:8402").is_none());
        assert!(Link::from_proxy_url("http://127.0.0.1:8402").is_none());
        assert!(Link::from_proxy_url("https://research:key@127.0.0.1:8402").is_none());
        assert!(!format!("{link:?}").contains("k@y"));
    }
}
