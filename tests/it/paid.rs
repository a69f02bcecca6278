//! The paid flow for each challenge form, through both ways in, with the exact ledger rows.

use std::time::Duration;

use http::Method;
use http_body_util::BodyExt;
use lightning_invoice::Bolt11Invoice;
use purser::ledger::export::PaymentRow;
use purser::sandbox::demo_api::DemoOptions;

use crate::harness::{Harness, Reply, Setup, send};

/// The checks every settled row must pass: it names the request and the invoice it paid.
fn assert_settled(row: &PaymentRow, reply: &Reply, path: &str, kind: &str, sats: i64) {
    assert_eq!(row.status, "settled", "{row:?}");
    assert_eq!(row.path, path);
    assert_eq!(row.challenge_kind, kind);
    assert_eq!(row.amount_msat, Some(sats * 1000));
    // The sandbox wallet charges 1,000 ppm.
    assert_eq!(row.fee_msat, Some(sats));
    assert_eq!(row.upstream_status, Some(200));
    assert_eq!(row.delivered, Some(true));
    assert_eq!(row.agent, "research");
    assert_eq!(Some(row.request_id.as_str()), reply.header("purser-request-id"));
    let invoice: Bolt11Invoice = row.invoice.as_deref().unwrap().parse().unwrap();
    assert_eq!(row.payment_hash.as_deref(), Some(invoice.payment_hash().to_string().as_str()));
    assert_eq!(invoice.amount_milli_satoshis(), Some(sats as u64 * 1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l402_macaroon_form_through_the_forward_proxy() {
    let h = Harness::start(Setup::default()).await;
    let reply = h.get("/joke").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert!(reply.json()["joke"].is_string());
    assert_eq!(reply.header("via"), Some("1.1 purser"));
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_settled(&rows[0], &reply, "/joke", "l402", 1);
    assert_eq!(rows[0].method, "GET");
    assert_eq!(rows[0].host, h.sandbox.demo_addr.to_string());
    assert_eq!(h.sandbox.wallet.balance().0, 100_000_000 - 1_000 - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_through_the_gateway() {
    let h = Harness::start(Setup { auto_sats: 300, ask_sats: 300, ..Setup::default() }).await;
    let cases = [("/joke", "l402", 1), ("/fortune", "l402", 21), ("/legacy", "lsat", 5), ("/premium", "l402", 250)];
    for (path, kind, sats) in cases {
        let reply = h.gateway(Method::GET, path, "", &[]).await;
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
        let rows = h.rows().await;
        assert_settled(rows.last().unwrap(), &reply, path, kind, sats);
    }
    assert_eq!(h.rows().await.len(), cases.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_payment_hash_form_both_ways_in() {
    let h = Harness::start(Setup::default()).await;
    let body = r#"{"text":"one two three four five six seven"}"#;
    let json = [("content-type", "application/json")];
    let forward = h.forward(Method::POST, &h.demo("/summarize"), body, &json).await;
    assert_eq!(forward.status, 200, "{:?}", forward.body);
    assert_eq!(forward.json()["summary"], "one two three four five");
    assert_eq!(forward.json()["words"], 7);
    let gateway = h.gateway(Method::POST, "/summarize", body, &json).await;
    assert_eq!(gateway.status, 200, "{:?}", gateway.body);
    // Each payment hash buys one call: two calls, two payments.
    let rows = h.rows().await;
    assert_eq!(rows.len(), 2);
    assert_settled(&rows[0], &forward, "/summarize", "json_payment_hash", 21);
    assert_settled(&rows[1], &gateway, "/summarize", "json_payment_hash", 21);
    assert_eq!(rows[0].method, "POST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_credential_is_reused_and_nothing_is_paid_again() {
    let h = Harness::start(Setup::default()).await;
    for _ in 0..3 {
        assert_eq!(h.get("/joke").await.status, 200);
    }
    assert_eq!(h.rows().await.len(), 1);
    assert_eq!(h.sandbox.wallet.pay_requests(), 1);
    // A proof earned on /joke is offered to /legacy, rejected there, and kept for /joke.
    assert_eq!(h.get("/legacy").await.status, 200);
    assert_eq!(h.get("/joke").await.status, 200);
    assert_eq!(h.get("/legacy").await.status, 200);
    assert_eq!(h.rows().await.len(), 2);
    assert_eq!(h.sandbox.wallet.pay_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_credential_is_dropped_and_the_new_challenge_paid() {
    let demo = DemoOptions { single_use_tokens: true, ..DemoOptions::default() };
    let h = Harness::start(Setup { demo, ..Setup::default() }).await;
    assert_eq!(h.get("/joke").await.status, 200);
    assert_eq!(h.get("/joke").await.status, 200);
    let rows = h.rows().await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.status == "settled" && r.delivered == Some(true)));
    assert_ne!(rows[0].payment_hash, rows[1].payment_hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_free_call_is_not_paid_and_the_next_one_is() {
    let h = Harness::start(Setup::default()).await;
    assert_eq!(h.get("/daily").await.status, 200);
    assert!(h.rows().await.is_empty());
    let paid = h.get("/daily").await;
    assert_eq!(paid.status, 200);
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_settled(&rows[0], &paid, "/daily", "l402", 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_paid_answer_streams_unbuffered() {
    let h = Harness::start(Setup::default()).await;
    let auth = h.auth();
    let resp = send(h.proxy_addr, Method::GET, &h.demo("/stream"), "", &[("proxy-authorization", &auth)]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    // The upstream sends one event every 200 ms; a buffering proxy would hand over all five at once.
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame()).await.unwrap().unwrap().unwrap();
    let first = String::from_utf8(first.into_data().unwrap().to_vec()).unwrap();
    assert_eq!(first, "id: 0\ndata: tick 0\n\n");
    let rest = body.collect().await.unwrap().to_bytes();
    let rest = String::from_utf8(rest.to_vec()).unwrap();
    assert!(rest.contains("tick 4"), "{rest}");
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "settled");
    assert_eq!(rows[0].delivered, Some(true));
}

/// The durations of a `Server-Timing` value by name, in milliseconds.
fn server_timing(value: &str) -> std::collections::BTreeMap<String, f64> {
    value
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.trim().split(';');
            let name = parts.next()?.to_string();
            let dur = parts.find_map(|p| p.trim().strip_prefix("dur=")?.parse::<f64>().ok())?;
            Some((name, dur))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_answer_says_where_its_time_went() {
    let h = Harness::start(Setup::default()).await;
    let started = std::time::Instant::now();
    let reply = h.get("/joke").await;
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let timing = server_timing(reply.header("server-timing").expect("a paid answer carries Server-Timing"));
    let names: Vec<&str> = timing.keys().map(String::as_str).collect();
    assert_eq!(names, ["approval", "purser", "upstream", "wallet"]);
    // The sandbox wallet answers over the relay: a real round trip, and nobody was asked.
    assert!(timing["wallet"] > 0.0, "{timing:?}");
    assert!(timing["upstream"] > 0.0, "{timing:?}");
    assert_eq!(timing["approval"], 0.0);
    let accounted: f64 = timing.values().sum();
    assert!(accounted <= wall_ms, "{timing:?} add up to more than the {wall_ms} ms the call took");

    // The next call rides on the kept credential: nothing is paid, and no timing is added.
    let reply = h.get("/joke").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("server-timing"), None);
}
