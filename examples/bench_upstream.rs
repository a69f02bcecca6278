//! The upstream the benchmarks (`scripts/bench`) put behind Purser, nginx and mitmproxy: an HTTP/1.1 server on
//! loopback answering `/1k` with 1 KiB and `/1m` with 1 MiB, keeping connections alive. With `--tls DIR` it
//! speaks HTTPS with a certificate for 127.0.0.1 from a CA of its own, written to `DIR/ca.pem` for the
//! proxies to trust.
//! Usage: cargo run --release --example bench_upstream -- 127.0.0.1:PORT [--tls DIR]

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let tls = match (args.next().as_deref(), args.next()) {
        (Some("--tls"), Some(dir)) => Some(tls_acceptor(std::path::Path::new(&dir))),
        _ => None,
    };
    let listener = TcpListener::bind(&addr).await.expect("the address is free");
    println!("{}", listener.local_addr().unwrap());
    let small = Bytes::from(vec![b'k'; 1024]);
    let large = Bytes::from(vec![b'm'; 1024 * 1024]);
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let (small, large, tls) = (small.clone(), large.clone(), tls.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let body = if req.uri().path() == "/1m" { large.clone() } else { small.clone() };
                async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
            });
            match tls {
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(stream).await else { return };
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                }
                None => {
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                }
            }
        });
    }
}

/// A CA of its own (its certificate written to `dir/ca.pem`) and a leaf for 127.0.0.1 and localhost.
fn tls_acceptor(dir: &std::path::Path) -> tokio_rustls::TlsAcceptor {
    purser::install_crypto_provider();
    let ca = purser::ca::Authority::generate_named("Purser bench upstream").expect("a CA");
    std::fs::create_dir_all(dir).expect("the TLS directory");
    std::fs::write(dir.join("ca.pem"), ca.cert_pem()).expect("ca.pem written");
    let leaf = ca.leaf_for(&["127.0.0.1", "localhost"]).expect("a leaf");
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .expect("a server certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}
