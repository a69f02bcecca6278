//! The sandbox's Nostr relay: nostr-relay-builder's in-process relay, reached through an accept loop of
//! Purser's own. The loop sets `TCP_NODELAY` on every connection, which the relay's own listener does not:
//! without it each small WebSocket frame may wait out a delayed ACK, about 40 ms per wallet round trip. The
//! WebSocket handshake is hyper's upgrade; the upgraded stream is handed to the relay.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};

use base64::Engine;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use nostr_relay_builder::prelude::{LocalRelay, RateLimit, RelayBuilder, RelayUrl};
use sha1::{Digest, Sha1};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Error;

/// A running sandbox relay; it stops when [`SandboxRelay::shutdown`] is called or it is dropped.
pub struct SandboxRelay {
    relay: LocalRelay,
    url: RelayUrl,
    stop: watch::Sender<bool>,
}

impl SandboxRelay {
    pub fn url(&self) -> &RelayUrl {
        &self.url
    }

    /// Stops accepting, closes every connection and frees the port.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
        self.relay.shutdown();
    }
}

impl Drop for SandboxRelay {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts a relay on 127.0.0.1 (a free port), without rate limits: it serves this machine only, and a public
/// relay's 60 events a minute would hold up a benchmark or a busy agent after a minute's worth of payments.
pub async fn start() -> Result<SandboxRelay, Error> {
    let unlimited = RateLimit { max_reqs: 10_000, notes_per_minute: u32::MAX };
    let relay = LocalRelay::new(RelayBuilder::default().addr(Ipv4Addr::LOCALHOST.into()).rate_limit(unlimited));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.map_err(|e| Error::Relay(e.to_string()))?;
    let addr = listener.local_addr().map_err(|e| Error::Relay(e.to_string()))?;
    let url = RelayUrl::parse(&format!("ws://{addr}")).map_err(|e| Error::Relay(e.to_string()))?;
    let (stop, mut stopped) = watch::channel(false);
    let serving = relay.clone();
    tokio::spawn(async move {
        // Dropped with this task when the relay stops: every connection closes with it.
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let accepted = tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, peer)) = accepted else {
                // Out of file descriptors and the like: wait a little rather than spin.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let relay = serving.clone();
            connections.spawn(serve(relay, stream, peer));
            while connections.try_join_next().is_some() {}
        }
    });
    Ok(SandboxRelay { relay, url, stop })
}

/// One connection: the WebSocket handshake, then the relay's own session on the upgraded stream, both in this
/// task (so stopping the relay ends it).
async fn serve(relay: LocalRelay, stream: tokio::net::TcpStream, peer: SocketAddr) {
    let upgrading = std::sync::Arc::new(std::sync::Mutex::new(None));
    let handed = upgrading.clone();
    let service = service_fn(move |mut req: Request<Incoming>| {
        let accepted = handshake(&req);
        if accepted.status() == StatusCode::SWITCHING_PROTOCOLS {
            *handed.lock().unwrap() = Some(hyper::upgrade::on(&mut req));
        }
        async move { Ok::<_, Infallible>(accepted) }
    });
    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades().await;
    let upgrade = upgrading.lock().unwrap().take();
    if let Some(Ok(upgraded)) = match upgrade {
        Some(upgrade) => Some(upgrade.await),
        None => None,
    } {
        let _ = relay.take_connection(TokioIo::new(upgraded), peer).await;
    }
}

/// The answer to a WebSocket opening handshake (RFC 6455 §4.2.2), or `400` for anything else.
fn handshake<B>(req: &Request<B>) -> Response<Empty<Bytes>> {
    let key = req.headers().get("sec-websocket-key").filter(|_| req.headers().contains_key(header::UPGRADE));
    let Some(key) = key else {
        let mut refused = Response::new(Empty::new());
        *refused.status_mut() = StatusCode::BAD_REQUEST;
        return refused;
    };
    // The key with the protocol's GUID, SHA-1, base64.
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header("sec-websocket-accept", accept)
        .body(Empty::new())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handshake_answers_with_the_accept_key_rfc_6455_gives() {
        // RFC 6455 §1.3's example.
        let req = Request::builder()
            .header("upgrade", "websocket")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(())
            .unwrap();
        let answer = handshake(&req);
        assert_eq!(answer.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(answer.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let plain = Request::builder().body(()).unwrap();
        assert_eq!(handshake(&plain).status(), StatusCode::BAD_REQUEST);
    }
}
