//! `CONNECT` targets, and the blind tunnel used for hosts in the `pass_through` setting: bytes are copied
//! both ways untouched, and the ledger records the connection as not inspected.

use std::sync::Arc;

use http::uri::Authority;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::Proxy;
use super::body::{ProxyBody, empty};
use super::refusal::Failure;
use crate::ledger::agents::Agent;
use crate::ledger::uninspected::Kind;

/// Where a `CONNECT` goes: its host (without brackets) and port.
#[derive(Debug, Clone)]
pub struct ConnectTarget {
    pub authority: Authority,
    pub host: String,
    pub port: u16,
}

pub fn target(req: &Request<Incoming>) -> Result<ConnectTarget, Failure> {
    let bad = || Failure::BadRequest {
        reason: "bad_connect_target",
        detail: "CONNECT needs a host:port target, e.g. CONNECT api.example.com:443".into(),
    };
    let authority = req.uri().authority().cloned().ok_or_else(bad)?;
    let port = authority.port_u16().ok_or_else(bad)?;
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
    if host.is_empty() {
        return Err(bad());
    }
    Ok(ConnectTarget { authority, host, port })
}

/// 200, then the agent's bytes go to `target` and back, unread.
pub async fn pass_through(
    proxy: Arc<Proxy>,
    agent: &Agent,
    req: Request<Incoming>,
    target: ConnectTarget,
) -> Result<Response<ProxyBody>, Failure> {
    let upstream = TcpStream::connect((target.host.as_str(), target.port)).await.map_err(|e| Failure::BadGateway {
        reason: "upstream_unreachable",
        detail: format!("cannot connect to {}: {e}", target.authority),
    })?;
    let row = match proxy.ledger.open_uninspected(agent.id, &target.host, target.port, Kind::PassThrough).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!("cannot record the pass-through connection to {}: {e}", target.authority);
            None
        }
    };
    tokio::spawn(async move {
        let copied = match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let mut agent = TokioIo::new(upgraded);
                let mut upstream = upstream;
                tokio::io::copy_bidirectional(&mut agent, &mut upstream).await.unwrap_or((0, 0))
            }
            Err(e) => {
                tracing::debug!("CONNECT upgrade to {} failed: {e}", target.authority);
                (0, 0)
            }
        };
        if let Some(id) = row
            && let Err(e) = proxy.ledger.close_uninspected(id, copied.0, copied.1).await
        {
            tracing::warn!("cannot record the end of a pass-through connection: {e}");
        }
    });
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::OK;
    Ok(resp)
}
