//! Seeing inside `CONNECT`: Purser answers `200`, then looks at the agent's first bytes. TLS is accepted
//! with a leaf for the requested host minted by Purser's CA (HTTP/2 or HTTP/1.1, as the agent's ALPN
//! offers); plain HTTP is read as it is; anything else (or nothing within a few seconds, as with protocols
//! where the server speaks first) is tunnelled blind and recorded as not inspected. Either way each request inside is handled exactly like a
//! plain-HTTP one (402 → policy → pay → retry → ledger), for the agent that authenticated the `CONNECT`.
//!
//! Built on hyper and rustls directly rather than a MITM library: the requests inside must run through
//! the same handler as every other request, and the listener, the agent check and the upstream client
//! already exist here.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::Proxy;
use super::prefixed::Prefixed;
use super::refusal::Failure;
use super::tunnel::{self, ConnectTarget};
use crate::http::body::{ProxyBody, empty};
use crate::ledger::agents::Agent;
use crate::ledger::uninspected::Kind;

/// The first byte of every TLS connection (a handshake record).
const TLS_HANDSHAKE: u8 = 0x16;

/// How long the agent has to send its first bytes (or finish its TLS handshake) inside a tunnel. A client of
/// a protocol where the server speaks first sends nothing: after this its tunnel is passed through blind.
const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(3);

/// Answers an authenticated `CONNECT`: pass-through hosts are tunnelled untouched, every other is opened.
/// `credentials` (name, key) are checked again for each request inside.
/// How a request inside a tunnel is served: the handler's own service, handed in, so a tunnel's requests are
/// handled exactly as any other.
pub type Inside = fn(
    Arc<Proxy>,
    Arc<(String, String)>,
    &'static str,
    http::uri::Authority,
    Request<Incoming>,
) -> Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>>;

pub async fn connect(
    proxy: Arc<Proxy>,
    agent: Agent,
    credentials: (String, String),
    req: Request<Incoming>,
    handle: Inside,
) -> Result<Response<ProxyBody>, Failure> {
    let target = tunnel::target(&req)?;
    if proxy.settings.passes_through(&target.host) {
        let upstream = tunnel::dial(&target).await?;
        let counted = proxy.count_connection();
        tokio::spawn(async move {
            let _counted = counted;
            match hyper::upgrade::on(req).await {
                Ok(upgraded) => {
                    let io = TokioIo::new(upgraded);
                    tunnel::relay(&proxy, &agent, &target, Kind::PassThrough, io, upstream).await;
                }
                Err(e) => tracing::debug!("CONNECT upgrade to {} failed: {e}", target.authority),
            }
        });
        return Ok(ok());
    }
    let credentials = Arc::new(credentials);
    let counted = proxy.count_connection();
    tokio::spawn(async move {
        let _counted = counted;
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => inside(proxy, agent, credentials, target, TokioIo::new(upgraded), handle).await,
            Err(e) => tracing::debug!("CONNECT upgrade to {} failed: {e}", target.authority),
        }
    });
    Ok(ok())
}

fn ok() -> Response<ProxyBody> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::OK;
    resp
}

async fn inside<S>(
    proxy: Arc<Proxy>,
    agent: Agent,
    credentials: Arc<(String, String)>,
    target: ConnectTarget,
    mut io: S,
    handle: Inside,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut first = [0u8; 1];
    let first_byte = match tokio::time::timeout(FIRST_BYTES_TIMEOUT, io.read(&mut first)).await {
        Ok(Ok(1)) => Some(first[0]),
        Ok(_) => return,
        Err(_) => None,
    };
    let io = Prefixed::new(Bytes::copy_from_slice(&first[..usize::from(first_byte.is_some())]), io);
    match first_byte {
        Some(TLS_HANDSHAKE) => {}
        Some(b) if b.is_ascii_uppercase() => return serve(proxy, credentials, "http", target, io, handle).await,
        // Not HTTP, and not TLS: a protocol Purser cannot read. Tunnel it blind, and say so in the ledger.
        _ => {
            let Ok(upstream) = tunnel::dial(&target).await else { return };
            return tunnel::relay(&proxy, &agent, &target, Kind::NotHttp, io, upstream).await;
        }
    }
    let accept = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io);
    let start = match tokio::time::timeout(FIRST_BYTES_TIMEOUT, accept).await {
        Ok(Ok(start)) => start,
        Ok(Err(e)) => {
            tracing::debug!("no TLS ClientHello from the agent for {}: {e}", target.authority);
            return;
        }
        Err(_) => return,
    };
    // The name the agent asked for; an agent that connects to an address sends none.
    let name = start.client_hello().server_name().map(str::to_string).unwrap_or_else(|| target.host.clone());
    let config = match proxy.leaves.server_config(&name) {
        Ok(config) => config,
        Err(e) => {
            tracing::warn!("cannot make a certificate for {name}: {e}");
            return;
        }
    };
    let handshake = match tokio::time::timeout(FIRST_BYTES_TIMEOUT, start.into_stream(config)).await {
        Ok(handshake) => handshake,
        Err(_) => return,
    };
    match handshake {
        Ok(tls) => serve(proxy, credentials, "https", target, tls, handle).await,
        Err(e) => {
            if rejected_certificate(&e) {
                tracing::info!(
                    agent = agent.name,
                    host = target.host,
                    "the agent does not trust Purser's certificate: point it at `purser env`'s CA bundle, or add \
                     the host to pass_through"
                );
                if let Err(e) =
                    proxy.ledger.open_uninspected(agent.id, &target.host, target.port, Kind::CertificateRejected).await
                {
                    tracing::warn!("cannot record the refused certificate: {e}");
                }
            } else {
                tracing::debug!("TLS with the agent for {} failed: {e}", target.authority);
            }
        }
    }
}

/// Whether the agent ended the handshake because it does not trust the certificate it was shown.
fn rejected_certificate(e: &std::io::Error) -> bool {
    use rustls::AlertDescription as A;
    matches!(
        e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::AlertReceived(A::UnknownCA | A::BadCertificate | A::CertificateUnknown | A::AccessDenied))
    )
}

/// Serves the requests inside one tunnel until the agent closes it.
async fn serve<S>(
    proxy: Arc<Proxy>,
    credentials: Arc<(String, String)>,
    scheme: &'static str,
    target: ConnectTarget,
    io: S,
    handle: Inside,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let authority = target.authority.clone();
    let header_read_timeout = proxy.settings.header_read_timeout;
    let service = service_fn(move |req| handle(proxy.clone(), credentials.clone(), scheme, authority.clone(), req));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_headers(super::MAX_REQUEST_HEADERS)
        .max_buf_size(super::MAX_REQUEST_HEAD_BYTES);
    builder.http2().max_header_list_size(super::MAX_REQUEST_HEAD_BYTES as u32);
    if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(io), service).await {
        tracing::debug!("connection inside the tunnel to {} ended: {e}", target.authority);
    }
}
