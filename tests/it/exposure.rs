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
    let cases: [(&str, (&str, &str)); 4] = [
        ("/_purser/agent", ("authorization", auth.as_str())),
        ("/_purser/payments", ("authorization", auth.as_str())),
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
    let other = purser::ledger::Ledger::open_at(&h.location).await.unwrap();
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

/// Past the cap on open agent connections a new one is answered `503 too_many_connections` at once, while
/// requests held for a person count apart (eight of them leave room under a cap of four).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_agents_get_a_clear_503_and_held_approvals_count_apart() {
    use std::sync::Arc;
    let h = Arc::new(Harness::start(Setup { auto_sats: 10, max_agent_connections: 4, ..Setup::default() }).await);
    // One after another: a request counts against the cap until it is held.
    let mut held = Vec::new();
    for n in 1..=8 {
        let h2 = h.clone();
        held.push(tokio::spawn(async move { h2.get("/fortune").await }));
        h.held(n).await;
    }
    assert_eq!(h.get("/joke").await.status, 200, "held requests leave the cap to other agents");
    // Idle connections fill the cap; the next agent is told so, and why. An earlier request's connection may
    // still be closing on the proxy's side and take one of the places, so idle ones are added until the cap
    // is reached: at least two are needed, which the eight held requests would not leave if they counted.
    let mut idle = Vec::new();
    let (mut refused, mut last) = (None, None);
    for _ in 0..250 {
        if idle.len() < 6 {
            idle.push(tokio::net::TcpStream::connect(h.proxy_addr).await.unwrap());
        }
        let reply = h.get("/joke").await;
        if reply.status == 503 {
            refused = Some(reply);
            break;
        }
        last = Some((reply.status, String::from_utf8_lossy(&reply.body).into_owned()));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let refused = refused.unwrap_or_else(|| panic!("a connection past the cap is refused; the last answer: {last:?}"));
    assert!(idle.len() >= 2, "refused with {} idle connections: held requests took places under the cap", idle.len());
    assert_eq!(refused.json()["reason"], "too_many_connections", "{:?}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("1"));
    // Room again once they close.
    drop(idle);
    let mut served = false;
    for _ in 0..250 {
        if h.get("/joke").await.status == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(served, "closed connections free the cap");
    for a in h.held(8).await {
        control::call(
            &h.control,
            Method::POST,
            &format!("approvals/{}/deny", a["id"]),
            Some(serde_json::json!({"count": 8})),
        )
        .await
        .unwrap();
    }
    for c in held {
        assert_eq!(c.await.unwrap().status, 402);
    }
}

/// An agent name of 200 KiB in `Proxy-Authorization` is refused before any lookup and leaves nothing in
/// memory; neither does a flood of made-up names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_or_made_up_agent_names_cost_no_memory() {
    let h = Harness::start(Setup::default()).await;
    let before = h.ledger.cache_footprint()[0];
    // 200 KiB of name is past the request head limit once encoded (431); 150 KiB reaches the name check (407).
    for (kib, status) in [(200, 431), (150, 407)] {
        let huge = purser::proxy::auth::basic(&"n".repeat(kib * 1024), "key");
        let reply =
            collect(send(h.proxy_addr, Method::GET, &h.demo("/joke"), "", &[("proxy-authorization", &huge)]).await)
                .await;
        assert_eq!(reply.status, status, "{kib} KiB");
        assert_eq!(h.ledger.cache_footprint()[0], before, "a name no agent can have is not remembered");
    }
    for i in 0..300 {
        let made_up = purser::proxy::auth::basic(&format!("agent-{i}-{}", "x".repeat(40)), "key");
        let reply =
            collect(send(h.proxy_addr, Method::GET, &h.demo("/joke"), "", &[("proxy-authorization", &made_up)]).await)
                .await;
        assert_eq!(reply.status, 407);
    }
    let (entries, bytes) = h.ledger.cache_footprint()[0];
    assert!(entries <= 301 && bytes < 301 * 300, "{entries} entries, {bytes} bytes for 300 unknown names");
}

/// The CLI reaches the control endpoint through an owner-only Unix socket, never the recorded port: with
/// Purser stopped and another program listening on its port, `purser approvals` sends it nothing, so the
/// token stays unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_never_sends_the_control_token_to_whoever_holds_the_port() {
    use std::os::unix::fs::PermissionsExt;
    use tokio::io::AsyncReadExt;
    let h = Harness::start(Setup::default()).await;
    let cf: control::ControlFile = serde_json::from_str(&std::fs::read_to_string(&h.control).unwrap()).unwrap();
    let socket = std::path::PathBuf::from(cf.socket.clone().expect("control.json names the socket"));
    assert!(socket.starts_with(h.dir.path()));
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(control::call(&h.control, Method::GET, "approvals", None).await.unwrap().is_array());

    // Purser stops (its socket goes); an impostor listens where control.json says the proxy was.
    let impostor = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stale = control::ControlFile { url: format!("http://{}", impostor.local_addr().unwrap()), ..cf };
    std::fs::remove_file(&socket).unwrap();
    std::fs::write(&h.control, serde_json::to_string(&stale).unwrap()).unwrap();
    let heard = tokio::spawn(async move {
        let mut heard = Vec::new();
        if let Ok(Ok((mut s, _))) = tokio::time::timeout(std::time::Duration::from_secs(3), impostor.accept()).await {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), s.read_to_end(&mut heard)).await;
        }
        heard
    });
    let out = crate::cli::purser(h.dir.path()).arg("approvals").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach Purser"), "{err}");
    let heard = heard.await.unwrap();
    assert!(!String::from_utf8_lossy(&heard).contains(&stale.token), "the impostor read the token");
    assert!(heard.is_empty(), "the impostor was not even called: {}", String::from_utf8_lossy(&heard));
}
