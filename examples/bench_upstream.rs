//! The upstream the benchmarks (`scripts/bench`) put behind Purser and nginx: a plain HTTP/1.1 server on
//! loopback answering `/1k` with 1 KiB and `/1m` with 1 MiB, keeping connections alive.
//! Usage: cargo run --release --example bench_upstream -- 127.0.0.1:PORT

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&addr).await.expect("the address is free");
    println!("{}", listener.local_addr().unwrap());
    let small = Bytes::from(vec![b'k'; 1024]);
    let large = Bytes::from(vec![b'm'; 1024 * 1024]);
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let (small, large) = (small.clone(), large.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let body = if req.uri().path() == "/1m" { large.clone() } else { small.clone() };
                async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
