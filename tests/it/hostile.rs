//! APIs that misbehave on purpose, over real sockets: each case ends in a named outcome for the agent and
//! the ledger, no sat leaves the wallet for it, and the proxy keeps serving another agent meanwhile.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use purser::sandbox::demo_api::DemoOptions;
use purser::sandbox::mint::InvoiceSpec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::harness::{Harness, Reply, Setup};
use crate::refusals::assert_refused;

/// What a hostile server does with one connection, after reading the request head.
#[derive(Clone)]
enum Behaviour {
    /// Answer with these bytes and close.
    Answer(Arc<Vec<u8>>),
    /// Send these bytes one every `gap`, forever (a slow-loris upstream).
    Dribble(Arc<Vec<u8>>, Duration),
}

/// A server on 127.0.0.1 that treats every connection as `behaviour` says.
async fn hostile(behaviour: Behaviour) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let behaviour = behaviour.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                match behaviour {
                    Behaviour::Answer(bytes) => {
                        let _ = s.write_all(&bytes).await;
                        let _ = s.shutdown().await;
                    }
                    Behaviour::Dribble(bytes, gap) => {
                        for b in bytes.iter().cycle() {
                            if s.write_all(&[*b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(gap).await;
                        }
                    }
                }
            });
        }
    });
    addr
}

fn response(head: &str, body: &[u8]) -> Behaviour {
    let mut bytes = format!("{head}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body);
    Behaviour::Answer(Arc::new(bytes))
}

/// Sends `path` to the hostile server at `addr` through the proxy, and checks the proxy still serves the
/// demo API for the same agent afterwards.
async fn through(h: &Harness, addr: SocketAddr, path: &str) -> Reply {
    let reply = h.forward(Method::GET, &format!("http://{addr}{path}"), "", &[]).await;
    assert_eq!(h.get("/joke").await.status, 200, "the proxy keeps serving after {path}");
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_challenges_are_refused_by_name_and_cost_nothing() {
    let h = Harness::start(Setup::default()).await;
    let invoice = h.sandbox.mint.mint(InvoiceSpec::sats(5, "hostile")).bolt11;

    // A challenge header of two megabytes: the API's answer cannot be read at all.
    let huge = format!("HTTP/1.1 402 Payment Required\r\nwww-authenticate: L402 macaroon=\"{}\"", "A".repeat(2 << 20));
    let addr = hostile(response(&huge, b"")).await;
    let reply = through(&h, addr, "/huge").await;
    assert_eq!((reply.status, reply.json()["reason"].as_str()), (502, Some("upstream_bad_response")));

    // Thousands of parameters before the invoice: only the first are read, so the invoice is never seen.
    let params: String = (0..5000).map(|n| format!("p{n}=v, ")).collect();
    let many = format!(
        "HTTP/1.1 402 Payment Required\r\nwww-authenticate: L402 {params}macaroon=\"AgE\", invoice=\"{invoice}\""
    );
    let addr = hostile(response(&many, b"")).await;
    assert_refused(&through(&h, addr, "/params").await, "malformed_challenge");

    // Invalid base64 in x402 and MPP challenges.
    let addr = hostile(response("HTTP/1.1 402 Payment Required\r\npayment-required: !!not*base64!!", b"")).await;
    assert_refused(&through(&h, addr, "/x402").await, "malformed_challenge");
    let mpp = "HTTP/1.1 402 Payment Required\r\nwww-authenticate: Payment id=\"1\", method=\"lightning\", intent=\"charge\", request=\"%%%\"";
    let addr = hostile(response(mpp, b"")).await;
    assert_refused(&through(&h, addr, "/mpp").await, "malformed_challenge");

    // Invalid UTF-8 in the challenge header and in the JSON body: nothing Purser can read, passed on as sent.
    let mut bad = b"HTTP/1.1 402 Payment Required\r\nwww-authenticate: L402 macaroon=\"\xff\xfe\", invoice=\"".to_vec();
    bad.extend_from_slice(invoice.as_bytes());
    bad.extend_from_slice(b"\"\r\ncontent-length: 3\r\nconnection: close\r\n\r\n\xff\xfe{");
    let addr = hostile(Behaviour::Answer(Arc::new(bad))).await;
    let reply = through(&h, addr, "/utf8").await;
    assert_eq!((reply.status, reply.header("purser-refused")), (402, None));
    assert_eq!(&reply.body[..], b"\xff\xfe{");

    // A body quoting less than its invoice asks.
    let body = format!(r#"{{"amount_sat": 1, "invoice": "{invoice}", "macaroon": "AgE"}}"#);
    let addr =
        hostile(response("HTTP/1.1 402 Payment Required\r\ncontent-type: application/json", body.as_bytes())).await;
    assert_refused(&through(&h, addr, "/overcharge").await, "price_mismatch");

    let rows = h.rows().await;
    let reasons: Vec<&str> = rows.iter().filter_map(|r| r.reason.as_deref()).collect();
    assert_eq!(reasons, ["malformed_challenge", "malformed_challenge", "malformed_challenge", "price_mismatch"]);
    assert_eq!(h.sandbox.wallet.pay_requests(), 1, "only the first /joke call paid; its proof served the rest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_overcharges_its_own_quote_is_refused() {
    let h =
        Harness::start(Setup { demo: DemoOptions { overcharge: true, ..DemoOptions::default() }, ..Setup::default() })
            .await;
    let reply = h.get("/premium").await;
    assert_refused(&reply, "price_mismatch");
    assert!(reply.json()["detail"].as_str().unwrap().contains("quotes 250 sats but its invoice asks 251 sats"));
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_upstream_times_out_while_other_agents_are_served() {
    let h = Harness::start(Setup { upstream_timeout: Duration::from_secs(3), ..Setup::default() }).await;
    let addr = hostile(Behaviour::Dribble(
        Arc::new(b"HTTP/1.1 402 Payment Required\r\nx: ".to_vec()),
        Duration::from_millis(100),
    ))
    .await;
    let url = format!("http://{addr}/slow");
    let slow = h.forward(Method::GET, &url, "", &[]);
    let others = async {
        for _ in 0..3 {
            assert_eq!(h.get("/joke").await.status, 200);
        }
    };
    let (slow, ()) = tokio::join!(slow, others);
    assert_eq!((slow.status, slow.json()["reason"].as_str()), (504, Some("upstream_timeout")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_after_payment_is_not_followed_and_the_proof_stays_home() {
    // The other host records whatever reaches it.
    let (elsewhere, mut seen) = crate::harness::canned_server("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
    let h = Harness::start(Setup::default()).await;
    let minted = h.sandbox.mint.mint(InvoiceSpec::sats(3, "redirect"));
    // First a challenge, then (to the proof) a redirect to another host.
    let challenge = format!(
        "HTTP/1.1 402 Payment Required\r\nwww-authenticate: L402 macaroon=\"none\", invoice=\"{}\"\r\ncontent-length: 0\r\n\r\n",
        minted.bolt11
    );
    let redirect = format!("HTTP/1.1 302 Found\r\nlocation: http://{elsewhere}/steal\r\ncontent-length: 0\r\n\r\n");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
            let answer = match (head.starts_with("get /pay "), head.contains("x-payment-hash:")) {
                (true, false) => challenge.as_str(),
                (true, true) => redirect.as_str(),
                // Pricing documents and anything else: none here.
                _ => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            };
            let _ = s.write_all(answer.as_bytes()).await;
            let _ = s.shutdown().await;
        }
    });
    let reply = h.forward(Method::GET, &format!("http://{addr}/pay"), "", &[("connection", "close")]).await;
    assert_eq!(reply.status, 302, "the redirect goes to the agent, unfollowed");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(seen.try_recv().is_err(), "nothing reached the other host");
    let row = h.rows().await.pop().unwrap();
    assert_eq!((row.status.as_str(), row.upstream_status), ("settled", Some(302)));
    assert_eq!(h.sandbox.wallet.pay_requests(), 1, "paid once");
}
