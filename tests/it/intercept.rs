//! HTTPS inside `CONNECT`: opened with Purser's CA and paid like plain HTTP (HTTP/1.1 and HTTP/2 to the
//! agent), pass-through hosts left untouched and recorded, agents that refuse the CA recorded, protocol
//! upgrades passed through.

use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{Harness, Setup, https_demo_api, test_ca};

/// A `reqwest` client that goes through `h` as its HTTPS proxy and trusts `ca_pem`.
fn client(h: &Harness, ca_pem: &str, http1_only: bool) -> reqwest::Client {
    purser::install_crypto_provider();
    let mut b = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(h.proxy_url()).unwrap())
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .timeout(Duration::from_secs(20));
    if http1_only {
        b = b.http1_only();
    }
    b.build().unwrap()
}

/// A harness whose proxy trusts a test CA, and an HTTPS demo API with a certificate from it.
async fn https_setup(pass_through: Vec<String>) -> (Harness, std::net::SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ca = test_ca(Some(&dir.path().join("ca.pem")));
    let h = Harness::start(Setup { extra_ca_file: Some(dir.path().join("ca.pem")), pass_through, ..Setup::default() })
        .await;
    let api = https_demo_api(&h, &ca).await;
    (h, api, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_through_connect_is_paid_over_http2_and_http1() {
    let (h, api, _ca_dir) = https_setup(Vec::new()).await;
    let purser_ca = h.purser_ca_pem();

    let h2 = client(&h, &purser_ca, false).get(format!("https://{api}/joke")).send().await.unwrap();
    assert_eq!(h2.version(), reqwest::Version::HTTP_2, "the agent offered h2 and Purser's TLS accepts it");
    assert_eq!(h2.status(), 200);
    assert!(h2.headers().contains_key("purser-request-id"), "the answer came through Purser");
    assert!(h2.text().await.unwrap().contains("micro-manager"));

    let h1 = client(&h, &purser_ca, true).get(format!("https://{api}/fortune")).send().await.unwrap();
    assert_eq!(h1.version(), reqwest::Version::HTTP_11);
    assert_eq!(h1.status(), 200);
    assert!(h1.text().await.unwrap().contains("rate limit"));

    let rows = h.rows().await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, path) in rows.iter().zip(["/joke", "/fortune"]) {
        assert_eq!((row.scheme.as_str(), row.path.as_str()), ("https", path));
        assert_eq!(row.host, api.to_string());
        assert_eq!(row.status, "settled");
        assert_eq!(row.delivered, Some(true));
    }
    assert!(h.ledger.uninspected_hosts().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_stops_an_open_tunnel() {
    let (h, api, _ca_dir) = https_setup(Vec::new()).await;
    let agent = client(&h, &h.purser_ca_pem(), false);
    let first = agent.get(format!("https://{api}/joke")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    h.ledger.rotate_key(&h.agent).await.unwrap();
    // The same pooled HTTP/2 connection, inside the tunnel opened with the old key.
    let second = agent.get(format!("https://{api}/joke")).send().await.unwrap();
    assert_eq!(second.status(), 407, "the old key must stop working inside an open tunnel too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_that_is_not_http_is_tunnelled_blind_and_recorded() {
    // A server that speaks first, like SMTP: its client sends nothing until it has read the greeting.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"220 ready\r\n").await.unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(&buf).await.unwrap();
    });
    let h = Harness::start(Setup::default()).await;
    let mut s = TcpStream::connect(h.proxy_addr).await.unwrap();
    let connect = format!("CONNECT {server} HTTP/1.1\r\nhost: {server}\r\nproxy-authorization: {}\r\n\r\n", h.auth());
    s.write_all(connect.as_bytes()).await.unwrap();
    assert!(read_head(&mut s).await.starts_with("HTTP/1.1 200"));
    let mut greeting = [0u8; 11];
    tokio::time::timeout(Duration::from_secs(15), s.read_exact(&mut greeting)).await.unwrap().unwrap();
    assert_eq!(&greeting, b"220 ready\r\n");
    s.write_all(b"QUIT").await.unwrap();
    let mut echo = [0u8; 4];
    s.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"QUIT");
    let hosts = wait_for_uninspected(&h).await;
    assert_eq!(hosts[0].kind, "not_http");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_needs_the_agents_key() {
    let (h, api, _ca_dir) = https_setup(Vec::new()).await;
    let mut s = TcpStream::connect(h.proxy_addr).await.unwrap();
    s.write_all(format!("CONNECT {api} HTTP/1.1\r\nhost: {api}\r\n\r\n").as_bytes()).await.unwrap();
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 407"), "{head}");
    let mut s = TcpStream::connect(h.proxy_addr).await.unwrap();
    let wrong = purser::proxy::auth::basic(&h.agent, "not-the-key");
    s.write_all(format!("CONNECT {api} HTTP/1.1\r\nhost: {api}\r\nproxy-authorization: {wrong}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    assert!(read_head(&mut s).await.starts_with("HTTP/1.1 407"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_through_hosts_are_tunnelled_untouched_and_recorded() {
    let (h, api, ca_dir) = https_setup(vec!["127.0.0.1".into()]).await;
    // The agent sees the API's own certificate: it trusts the API's CA, not Purser's.
    let api_ca = std::fs::read_to_string(ca_dir.path().join("ca.pem")).unwrap();
    let resp = client(&h, &api_ca, false).get(format!("https://{api}/joke")).send().await.unwrap();
    assert_eq!(resp.status(), 402, "nothing inside a pass-through tunnel is paid");
    assert!(!resp.headers().contains_key("purser-request-id"), "Purser never saw the request");
    drop(resp);
    assert!(h.rows().await.is_empty());
    let hosts = wait_for_uninspected(&h).await;
    assert_eq!(hosts[0].host, "127.0.0.1");
    assert_eq!(hosts[0].port, api.port());
    assert_eq!(hosts[0].kind, "pass_through");
    assert_eq!(hosts[0].agents, std::slice::from_ref(&h.agent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_refuses_purser_s_certificate_is_recorded() {
    let (h, api, ca_dir) = https_setup(Vec::new()).await;
    let api_ca = std::fs::read_to_string(ca_dir.path().join("ca.pem")).unwrap();
    let err = client(&h, &api_ca, false).get(format!("https://{api}/joke")).send().await.unwrap_err();
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    let hosts = wait_for_uninspected(&h).await;
    assert_eq!(hosts[0].kind, "certificate_rejected");
    assert!(h.rows().await.is_empty());
}

async fn wait_for_uninspected(h: &Harness) -> Vec<purser::ledger::uninspected::UninspectedHost> {
    for _ in 0..200 {
        let hosts = h.ledger.uninspected_hosts().await.unwrap();
        if !hosts.is_empty() {
            return hosts;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no uninspected connection was recorded");
}

/// An upstream that switches to an echo protocol on `Upgrade: echo`, then echoes every byte; over TLS with
/// a certificate from `ca` when one is given.
async fn echo_upgrade_server(ca: Option<&rcgen::Issuer<'static, rcgen::KeyPair>>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = ca.map(|ca| {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap().signed_by(&key, ca).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let tls = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![cert.der().clone()], key);
        tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls.unwrap()))
    });
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let mut s: Box<dyn Stream> = match acceptor {
                    Some(a) => match a.accept(tcp).await {
                        Ok(tls) => Box::new(tls),
                        Err(_) => return,
                    },
                    None => Box::new(tcp),
                };
                let head = read_head(&mut s).await.to_ascii_lowercase();
                if !(head.contains("upgrade: echo") && head.contains("connection: upgrade")) {
                    let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
                    return;
                }
                s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n")
                    .await
                    .unwrap();
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_upgrades_pass_through() {
    let upstream = echo_upgrade_server(None).await;
    let h = Harness::start(Setup::default()).await;
    let mut s = TcpStream::connect(h.proxy_addr).await.unwrap();
    let req = format!(
        "GET http://{upstream}/ws HTTP/1.1\r\nhost: {upstream}\r\nproxy-authorization: {}\r\n\
         connection: Upgrade\r\nupgrade: echo\r\n\r\n",
        h.auth()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    for word in [&b"ping"[..], b"second frame"] {
        s.write_all(word).await.unwrap();
        let mut back = vec![0u8; word.len()];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut back)).await.unwrap().unwrap();
        assert_eq!(back, word);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_inside_connect_is_read_like_any_request() {
    let h = Harness::start(Setup::default()).await;
    let demo = h.sandbox.demo_addr;
    let mut s = TcpStream::connect(h.proxy_addr).await.unwrap();
    s.write_all(
        format!("CONNECT {demo} HTTP/1.1\r\nhost: {demo}\r\nproxy-authorization: {}\r\n\r\n", h.auth()).as_bytes(),
    )
    .await
    .unwrap();
    assert!(read_head(&mut s).await.starts_with("HTTP/1.1 200"));
    s.write_all(format!("GET /joke HTTP/1.1\r\nhost: {demo}\r\nconnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut rest = String::new();
    s.read_to_string(&mut rest).await.unwrap();
    assert!(rest.starts_with("HTTP/1.1 200"), "{rest}");
    assert!(rest.contains("micro-manager"));
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "settled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_inside_an_https_tunnel_pass_through() {
    let dir = tempfile::tempdir().unwrap();
    let ca = test_ca(Some(&dir.path().join("ca.pem")));
    let h = Harness::start(Setup { extra_ca_file: Some(dir.path().join("ca.pem")), ..Setup::default() }).await;
    let upstream = echo_upgrade_server(Some(&ca)).await;
    let mut tcp = TcpStream::connect(h.proxy_addr).await.unwrap();
    let connect =
        format!("CONNECT {upstream} HTTP/1.1\r\nhost: {upstream}\r\nproxy-authorization: {}\r\n\r\n", h.auth());
    tcp.write_all(connect.as_bytes()).await.unwrap();
    assert!(read_head(&mut tcp).await.starts_with("HTTP/1.1 200"));
    // The agent trusts Purser's CA only, and speaks HTTP/1.1 inside.
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(h.purser_ca_pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp).await.unwrap();
    let req = format!("GET /ws HTTP/1.1\r\nhost: {upstream}\r\nconnection: Upgrade\r\nupgrade: echo\r\n\r\n");
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(tls.read(&mut byte).await.unwrap(), 1, "closed early: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    tls.write_all(b"over tls").await.unwrap();
    let mut back = [0u8; 8];
    tokio::time::timeout(Duration::from_secs(5), tls.read_exact(&mut back)).await.unwrap().unwrap();
    assert_eq!(&back, b"over tls");
}

pub async fn read_head<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await.unwrap_or(0) == 0 {
            break;
        }
        got.push(byte[0]);
    }
    String::from_utf8_lossy(&got).into_owned()
}
