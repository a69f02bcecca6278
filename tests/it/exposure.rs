//! What Purser exposes on its port: requests addressed to another name (DNS rebinding) are not answered,
//! oversized request heads are refused, and the local endpoints need their keys.

use http::Method;
use purser::proxy::control;

use crate::harness::{Harness, Setup, collect, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_addressed_to_another_name_are_not_answered() {
    let h = Harness::start(Setup::default()).await;
    let auth = h.auth();
    let token = std::fs::read_to_string(&h.control).unwrap();
    let token: control::ControlFile = serde_json::from_str(&token).unwrap();
    let bearer = format!("Bearer {}", token.token);
    let rebound = format!("evil.example:{}", h.proxy_addr.port());
    let cases: [(&str, (&str, &str)); 3] = [
        ("/_purser/agent", ("authorization", auth.as_str())),
        ("/_purser/approvals", ("authorization", bearer.as_str())),
        (&h.gateway_path("/joke"), ("proxy-authorization", auth.as_str())),
    ];
    for (path, key) in cases {
        let refused = collect(send(h.proxy_addr, Method::GET, path, "", &[("host", &rebound), key]).await).await;
        assert_eq!((refused.status, refused.json()["reason"].as_str()), (400, Some("host_not_allowed")), "{path}");
        let port = h.proxy_addr.port();
        for host in [h.proxy_addr.to_string(), format!("localhost:{port}"), format!("[::1]:{port}"), "127.0.0.1".into()]
        {
            let ok = collect(send(h.proxy_addr, Method::GET, path, "", &[("host", &host), key]).await).await;
            assert_eq!(ok.status, 200, "{path} with Host {host}: {:?}", ok.body);
        }
    }
    assert_eq!(h.sandbox.wallet.pay_requests(), 1, "the gateway paid once; the refused calls paid nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_heads_are_refused() {
    let h = Harness::start(Setup::default()).await;
    let names: Vec<String> = (0..300).map(|n| format!("x-h{n}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    let reply = h.forward(Method::GET, &h.demo("/joke"), "", &many).await;
    assert_eq!(reply.status, 431, "300 header fields");
    let big = "a".repeat(300 * 1024);
    let reply = h.forward(Method::GET, &h.demo("/joke"), "", &[("x-big", &big)]).await;
    assert_eq!(reply.status, 431, "a 300 KiB header");
    assert_eq!(h.get("/joke").await.status, 200, "still serving");
    assert_eq!(h.rows().await.len(), 1);
}

/// Agents and kept credentials are read from memory on the hot path; a key rotated by another process (the
/// CLI, another ledger handle on the same file) stops working as soon as the change is seen (a fraction of a
/// second), and one rotated through this ledger at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_elsewhere_stops_working_promptly() {
    let h = Harness::start(Setup::default()).await;
    assert_eq!(h.get("/joke").await.status, 200);
    let other = purser::ledger::Ledger::open(&purser::config::Settings::new(h.dir.path().to_path_buf()).ledger_path())
        .await
        .unwrap();
    let new_key = other.rotate_key("research").await.unwrap().unwrap();
    let started = std::time::Instant::now();
    loop {
        let status = h.get("/joke").await.status;
        if status == 407 {
            break;
        }
        assert_eq!(status, 200);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the old key still works");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let auth = purser::proxy::auth::basic("research", &new_key);
    let fresh =
        collect(send(h.proxy_addr, Method::GET, &h.demo("/joke"), "", &[("proxy-authorization", &auth)]).await).await;
    assert_eq!(fresh.status, 200, "the new key works");
    // Rotated through the proxy's own ledger: at once.
    h.ledger.rotate_key("research").await.unwrap();
    let stale =
        collect(send(h.proxy_addr, Method::GET, &h.demo("/joke"), "", &[("proxy-authorization", &auth)]).await).await;
    assert_eq!(stale.status, 407);
}

/// Slow or idle clients cannot hold the proxy's connections: 200 connections that send half a request and
/// then nothing are closed by the header-read timeout, while another agent is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_by_the_header_timeout_while_others_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::start(Setup { header_read_timeout: std::time::Duration::from_secs(1), ..Setup::default() }).await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(h.proxy_addr).await.unwrap();
        s.write_all(b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
        idle.push(s);
    }
    assert_eq!(h.get("/joke").await.status, 200, "another agent is served while they hang");
    for mut s in idle {
        let mut rest = Vec::new();
        // Closed by the proxy (an end of stream, a reset, or a 408 then the end): not left hanging.
        let closed = tokio::time::timeout(std::time::Duration::from_secs(15), s.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "a half-sent request still holds its connection");
        assert!(rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"), "{}", String::from_utf8_lossy(&rest));
    }
}
