//! Protocol upgrades (WebSocket and the like) pass through: the agent's `Upgrade` request goes upstream on
//! a connection of its own over HTTP/1.1 (upgrades do not exist in HTTP/2), and after `101 Switching
//! Protocols` the bytes are copied both ways. Nothing inside an upgraded connection is paid for; a `402`
//! to the upgrade request itself reaches the agent as it is.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::Proxy;
use super::refusal::Failure;
use crate::http::body::{self, ProxyBody};
use crate::http::headers;
use crate::http::target::Target;

/// Whether the agent asks to switch protocols (`Connection: upgrade` with an `Upgrade` field).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub async fn forward(
    proxy: &Proxy,
    target: &Target,
    mut req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Failure> {
    let unreachable = |e: &dyn std::fmt::Display| Failure::BadGateway {
        reason: "upstream_unreachable",
        detail: format!("{} could not be reached for the upgrade: {e}", target.authority),
    };
    let agent_side = hyper::upgrade::on(&mut req);
    let (parts, incoming) = req.into_parts();
    let port = target.uri.port_u16().unwrap_or(if target.scheme == "https" { 443 } else { 80 });
    let connect = TcpStream::connect((target.host().trim_start_matches('[').trim_end_matches(']'), port));
    let tcp = match tokio::time::timeout(std::time::Duration::from_secs(10), connect).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return Err(unreachable(&e)),
        Err(_) => return Err(unreachable(&"no connection within 10 s")),
    };
    let _ = tcp.set_nodelay(true);
    let limit = proxy.settings.upstream_timeout;
    let too_slow = || unreachable(&format!("no answer within {} s", limit.as_secs()));
    let io: Box<dyn Io> = if target.scheme == "https" {
        let host = target.host().trim_start_matches('[').trim_end_matches(']').to_string();
        let name = ServerName::try_from(host).map_err(|e| unreachable(&e))?;
        let tls = tokio_rustls::TlsConnector::from(proxy.upgrade_tls.clone());
        let handshake = tokio::time::timeout(limit, tls.connect(name, tcp)).await.map_err(|_| too_slow())?;
        Box::new(handshake.map_err(|e| unreachable(&e))?)
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| unreachable(&e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!("upgrade connection to the upstream ended: {e}");
        }
    });

    let mut out = headers::to_upstream(&parts.headers, parts.version, false);
    if let Some(upgrade) = parts.headers.get(header::UPGRADE) {
        out.insert(header::UPGRADE, upgrade.clone());
    }
    out.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    if let Ok(host) = HeaderValue::from_str(&target.authority) {
        out.insert(header::HOST, host);
    }
    let mut upstream_req = Request::new(body::stream(incoming));
    *upstream_req.method_mut() = parts.method;
    *upstream_req.uri_mut() = target.path_and_query.parse().map_err(|e| unreachable(&e))?;
    *upstream_req.headers_mut() = out;
    let mut resp = tokio::time::timeout(limit, sender.send_request(upstream_req))
        .await
        .map_err(|_| too_slow())?
        .map_err(|e| unreachable(&e))?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        let (mut parts, incoming) = resp.into_parts();
        headers::to_agent(&mut parts.headers, parts.version);
        return Ok(Response::from_parts(parts, body::stream(incoming)));
    }
    let upstream_side = hyper::upgrade::on(&mut resp);
    let authority = target.authority.clone();
    let counted = proxy.count_connection();
    tokio::spawn(async move {
        let _counted = counted;
        match tokio::try_join!(agent_side, upstream_side) {
            Ok((agent, upstream)) => {
                let (mut agent, mut upstream) = (TokioIo::new(agent), TokioIo::new(upstream));
                let _ = tokio::io::copy_bidirectional(&mut agent, &mut upstream).await;
            }
            Err(e) => tracing::debug!("upgrade with {authority} failed: {e}"),
        }
    });
    let (parts, _) = resp.into_parts();
    Ok(Response::from_parts(parts, body::empty()))
}
