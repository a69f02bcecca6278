//! `CONNECT` targets, and the blind tunnel used for hosts in the `pass_through` setting and for protocols
//! Purser cannot read: bytes are copied both ways untouched, and the ledger records the connection as not
//! inspected, with how many bytes went each way.

use std::pin::Pin;
use std::task::{Context, Poll};

use http::Request;
use http::uri::Authority;
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::Proxy;
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

/// Connects to the `CONNECT` target, within 10 seconds.
pub async fn dial(target: &ConnectTarget) -> Result<TcpStream, Failure> {
    let unreachable = |why: String| Failure::BadGateway {
        reason: "upstream_unreachable",
        detail: format!("cannot connect to {}: {why}", target.authority),
    };
    let connect = TcpStream::connect((target.host.as_str(), target.port));
    match tokio::time::timeout(std::time::Duration::from_secs(10), connect).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable("no connection within 10 s".into())),
    }
}

/// Copies bytes both ways, unread, until either side closes; the ledger records the connection as not
/// inspected, and how much went each way.
pub async fn relay<A>(
    proxy: &Proxy,
    agent: &Agent,
    target: &ConnectTarget,
    kind: Kind,
    agent_io: A,
    upstream: TcpStream,
) where
    A: AsyncRead + AsyncWrite + Unpin,
{
    let row = match proxy.ledger.open_uninspected(agent.id, &target.host, target.port, kind).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!("cannot record the uninspected connection to {}: {e}", target.authority);
            None
        }
    };
    let (mut agent_io, mut upstream) = (Counted::new(agent_io), Counted::new(upstream));
    let _ = tokio::io::copy_bidirectional(&mut agent_io, &mut upstream).await;
    // Bytes read from the agent went upstream, and the other way round, even when the copy ended in an error.
    if let Some(id) = row
        && let Err(e) = proxy.ledger.close_uninspected(id, agent_io.read_bytes, upstream.read_bytes).await
    {
        tracing::warn!("cannot record the end of an uninspected connection: {e}");
    }
}

/// A stream that counts the bytes read from it.
struct Counted<S> {
    inner: S,
    read_bytes: u64,
}

impl<S> Counted<S> {
    fn new(inner: S) -> Self {
        Counted { inner, read_bytes: 0 }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.read_bytes += (buf.filled().len() - before) as u64;
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
