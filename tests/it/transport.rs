//! The transport around a payment: HTTPS upstreams through the gateway (an extra CA), `CONNECT` tunnels, and
//! the order of ledger writes and wallet calls.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use hyper_util::rt::TokioIo;
use purser::sandbox::demo_api::{self, DemoApi, DemoOptions};
use purser::sandbox::wallet_service::WalletServiceOptions;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{Harness, Setup, canned_server};

/// A test CA; its certificate is written to `pem_path` when one is given.
fn test_ca(pem_path: Option<&std::path::Path>) -> Issuer<'static, KeyPair> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    if let Some(path) = pem_path {
        std::fs::write(path, cert.pem()).unwrap();
    }
    Issuer::new(params, key)
}

/// An HTTPS demo API for 127.0.0.1 with a certificate from `ca`, sharing `h`'s mint so its wallet can pay.
async fn https_demo_api(h: &Harness, ca: &Issuer<'static, KeyPair>) -> std::net::SocketAddr {
    purser::install_crypto_provider();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, ca)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let tls =
        rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![leaf.der().clone()], key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let api = Arc::new(DemoApi::new(h.sandbox.mint.clone(), DemoOptions::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, api) = (acceptor.clone(), api.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    demo_api::serve_connection(TokioIo::new(tls), api).await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_api_is_paid_through_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let trusted = test_ca(Some(&dir.path().join("ca.pem")));
    let h = Harness::start(Setup { extra_ca_file: Some(dir.path().join("ca.pem")), ..Setup::default() }).await;

    let stranger = https_demo_api(&h, &test_ca(None)).await;
    let untrusted = h.gateway_to(&format!("/https/{stranger}/joke"), &[]).await;
    assert_eq!(untrusted.status, 502, "a certificate from an unknown CA must not be trusted");
    assert_eq!(untrusted.json()["reason"], "upstream_unreachable");
    assert!(untrusted.json()["detail"].as_str().unwrap().contains("certificate"));

    let addr = https_demo_api(&h, &trusted).await;
    let reply = h.gateway_to(&format!("/https/{addr}/joke"), &[]).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].scheme, "https");
    assert_eq!(rows[0].status, "settled");
    assert_eq!(rows[0].delivered, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_is_tunnelled_for_known_agents_only() {
    const RESP: &str = "HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\ntunnel";
    let (upstream, mut seen) = canned_server(RESP).await;
    let h = Harness::start(Setup::default()).await;
    let mut s = TcpStream::connect(h.proxy_addr).await.unwrap();
    let req = format!("CONNECT {upstream} HTTP/1.1\r\nhost: {upstream}\r\nproxy-authorization: {}\r\n\r\n", h.auth());
    s.write_all(req.as_bytes()).await.unwrap();
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    s.write_all(b"GET /inside HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let mut rest = String::new();
    s.read_to_string(&mut rest).await.unwrap();
    assert!(rest.ends_with("tunnel"), "{rest}");
    assert!(seen.recv().await.unwrap().starts_with("GET /inside HTTP/1.1"));

    let mut anon = TcpStream::connect(h.proxy_addr).await.unwrap();
    anon.write_all(format!("CONNECT {upstream} HTTP/1.1\r\nhost: {upstream}\r\n\r\n").as_bytes()).await.unwrap();
    let head = read_head(&mut anon).await;
    assert!(head.starts_with("HTTP/1.1 407"), "{head}");
}

async fn read_head(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        got.push(byte[0]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pending_row_is_written_before_the_wallet_is_asked() {
    let wallet = WalletServiceOptions { ignore_payments: true, ..WalletServiceOptions::default() };
    let h = Arc::new(Harness::start(Setup { wallet, ..Setup::default() }).await);
    let agent = h.clone();
    let request = tokio::spawn(async move { agent.forward(Method::GET, &agent.demo("/joke"), "", &[]).await });
    // Once the wallet holds the request, the ledger must already show it.
    let mut waited = Duration::ZERO;
    while h.sandbox.wallet.pay_requests() == 0 {
        assert!(waited < Duration::from_secs(10), "the wallet was never asked");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += Duration::from_millis(10);
    }
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "pending");
    assert_eq!(rows[0].amount_msat, Some(1000));
    assert_eq!(request.await.unwrap().status, 503);
    assert_eq!(h.rows().await[0].status, "unknown");
}
