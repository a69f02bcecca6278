//! `CONNECT`: an authenticated agent's TLS traffic tunnelled untouched to the host it names. (Interception
//! of HTTPS is a later step; until then Purser cannot see a 402 inside a tunnel.)

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::body::{ProxyBody, empty};
use super::refusal::Failure;

pub async fn connect(req: Request<Incoming>) -> Result<Response<ProxyBody>, Failure> {
    let authority = req.uri().authority().map(|a| a.to_string()).ok_or_else(|| Failure::BadRequest {
        reason: "bad_connect_target",
        detail: "CONNECT needs a host:port target".into(),
    })?;
    let upstream = TcpStream::connect(&authority).await.map_err(|e| Failure::BadGateway {
        reason: "upstream_unreachable",
        detail: format!("cannot connect to {authority}: {e}"),
    })?;
    tokio::spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let mut agent = TokioIo::new(upgraded);
                let mut upstream = upstream;
                let _ = tokio::io::copy_bidirectional(&mut agent, &mut upstream).await;
            }
            Err(e) => tracing::debug!("CONNECT upgrade to {authority} failed: {e}"),
        }
    });
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::OK;
    Ok(resp)
}
