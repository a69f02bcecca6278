//! Every way a payment is refused or cannot happen: the agent's answer and the ledger row for each.

use std::time::Duration;

use http::Method;
use lightning_invoice::Currency;
use purser::ledger::alerts::AlertKind;
use purser::sandbox::demo_api::DemoOptions;
use purser::sandbox::mint::FeatureField;
use purser::sandbox::wallet_service::WalletServiceOptions;

use purser::ledger::policy_store::ScopeSpec;
use purser::policy::Period;

use crate::harness::{Harness, Reply, Setup, canned_server, collect, send};

pub fn agent(name: &str) -> ScopeSpec {
    ScopeSpec { agent: Some(name.into()), ..ScopeSpec::default() }
}

/// A refusal as DESIGN.md says: 402, the challenge kept, `Purser-Refused`, a problem body naming the reason.
pub fn assert_refused(reply: &Reply, reason: &str) {
    assert_eq!(reply.status, 402, "{:?}", reply.body);
    assert_eq!(reply.header("purser-refused"), Some(reason));
    assert_eq!(reply.header("content-type"), Some("application/problem+json"));
    let problem = reply.json();
    assert_eq!(problem["reason"], reason);
    assert_eq!(problem["status"], 402);
    assert_eq!(Some(problem["request_id"].as_str().unwrap()), reply.header("purser-request-id"));
    assert!(!problem["detail"].as_str().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_agents_get_407() {
    let h = Harness::start(Setup::default()).await;
    let none = collect(send(h.proxy_addr, Method::GET, &h.demo("/joke"), "", &[]).await).await;
    let wrong_key = purser::proxy::auth::basic("research", "not-the-key");
    let wrong =
        collect(send(h.proxy_addr, Method::GET, &h.demo("/joke"), "", &[("proxy-authorization", &wrong_key)]).await)
            .await;
    let gateway = collect(send(h.proxy_addr, Method::GET, &h.gateway_path("/joke"), "", &[]).await).await;
    for reply in [none, wrong, gateway] {
        assert_eq!(reply.status, 407);
        assert_eq!(reply.header("proxy-authenticate"), Some("Basic realm=\"Purser\""));
        assert_eq!(reply.json()["reason"], "proxy_auth_required");
    }
    assert!(h.rows().await.is_empty());
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_ask_limit() {
    let h = Harness::start(Setup { auto_sats: 10, ask_sats: 100, ..Setup::default() }).await;
    let reply = h.get("/premium").await;
    assert_refused(&reply, "over_threshold_denied");
    assert_eq!(reply.json()["threshold"]["ask_max_msat"], 100_000);
    // The upstream's two challenges are kept for the agent.
    assert_eq!(reply.headers.get_all("www-authenticate").iter().count(), 2);
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "refused");
    assert_eq!(rows[0].reason.as_deref(), Some("over_threshold_denied"));
    assert_eq!(rows[0].amount_msat, Some(250_000));
    assert!(rows[0].decision.contains("above the ask limit of 100 sats for the whole wallet"), "{}", rows[0].decision);
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_cap_holds_under_concurrency() {
    // 21 sats + 10 sats of fee reserve while pending: two fit under 70, a third would not, whether the two are
    // still pending (93) or settled (21.021 each: 73.042).
    let h =
        Harness::start(Setup { budgets: vec![(agent("research"), Period::Lifetime, 70)], ..Setup::default() }).await;
    let h = std::sync::Arc::new(h);
    let mut tasks = Vec::new();
    for n in 0..8 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let body = format!(r#"{{"text":"call {n}"}}"#);
            h.forward(Method::POST, &h.demo("/summarize"), &body, &[("content-type", "application/json")]).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let reply = t.await.unwrap();
        if reply.status == 200 {
            ok += 1;
        } else {
            assert_refused(&reply, "budget_exceeded");
        }
    }
    assert_eq!(ok, 2);
    let rows = h.rows().await;
    assert_eq!(rows.iter().filter(|r| r.status == "settled").count(), 2);
    assert_eq!(rows.iter().filter(|r| r.reason.as_deref() == Some("budget_exceeded")).count(), 6);
    let spent: i64 =
        rows.iter().filter(|r| r.status == "settled").map(|r| r.amount_msat.unwrap() + r.fee_msat.unwrap()).sum();
    assert!(spent <= 70_000, "spent {spent} msat");
    assert_eq!(h.sandbox.wallet.pay_requests(), 2);
}

/// A connection string for a wallet nobody runs, on `relay`.
fn ghost_wallet(relay: &str) -> String {
    use nostr_sdk::nips::nip47::NostrWalletConnectURI;
    let app = nostr_sdk::Keys::generate();
    let wallet = nostr_sdk::Keys::generate();
    let relay = nostr_sdk::RelayUrl::parse(relay).unwrap();
    NostrWalletConnectURI::new(wallet.public_key(), vec![relay], app.secret_key().clone(), None).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_wallet_pays_when_the_first_cannot_be_reached() {
    // The first wallet's relay is down; the sandbox wallet stands behind it.
    let setup =
        Setup { wallet_uri: Some(ghost_wallet("ws://127.0.0.1:1")), sandbox_as_fallback: true, ..Setup::default() };
    let h = Harness::start(setup).await;
    let reply = h.get("/joke").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let rows = h.rows().await;
    assert_eq!((rows.len(), rows[0].status.as_str()), (1, "settled"));
    assert_eq!(h.sandbox.wallet.pay_requests(), 1, "paid once, by the fallback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_is_down_gives_503() {
    let uri = ghost_wallet("ws://127.0.0.1:1");
    // The ledger's clock held mid-way through a 10-minute window, so "once" does not depend on the hour.
    let clock =
        purser::policy::ManualClock::new("2026-03-14T22:45:00Z".parse::<jiff::Timestamp>().unwrap().as_millisecond());
    let h = Harness::start(Setup { wallet_uri: Some(uri), clock: Some(clock), ..Setup::default() }).await;
    let reply = h.get("/joke").await;
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert!(reply.header("retry-after").is_some());
    assert_eq!(reply.json()["reason"], "wallet_unreachable");
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "refused");
    assert_eq!(rows[0].reason.as_deref(), Some("wallet_unreachable"));
    // A person hears about it once, not once per request.
    h.get("/joke").await;
    let alerts = h.ledger.alerts(10).await.unwrap();
    assert_eq!(alerts.iter().filter(|a| a.kind == AlertKind::WalletDown).count(), 1, "{alerts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_that_does_not_answer_gives_503() {
    // The relay is up; no wallet answers on it.
    let h0 = Harness::start(Setup::default()).await;
    let uri = ghost_wallet(h0.sandbox.relay_url.as_str());
    let h = Harness::start(Setup { wallet_uri: Some(uri), ..Setup::default() }).await;
    let reply = h.get("/joke").await;
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("30"));
    assert_eq!(reply.json()["reason"], "wallet_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_without_answer_stays_unknown_and_counted() {
    let wallet = WalletServiceOptions { ignore_payments: true, ..WalletServiceOptions::default() };
    let h =
        Harness::start(Setup { wallet, budgets: vec![(agent("research"), Period::Lifetime, 40)], ..Setup::default() })
            .await;
    let reply = h.get("/fortune").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["reason"], "wallet_timeout");
    let rows = h.rows().await;
    assert_eq!(rows[0].status, "unknown");
    // The 21 sats (and up to 10 of fee) may have left: a second 21 would pass the 40 sat limit.
    let again = h.get("/fortune").await;
    assert_refused(&again, "budget_exceeded");
    assert_eq!(h.sandbox.wallet.pay_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preimage_that_does_not_match_is_not_used() {
    let wallet = WalletServiceOptions { bad_preimage: true, ..WalletServiceOptions::default() };
    let h = Harness::start(Setup { wallet, ..Setup::default() }).await;
    let reply = h.get("/joke").await;
    assert_eq!(reply.status, 502, "{:?}", reply.body);
    assert_eq!(reply.json()["reason"], "bad_preimage");
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "bad_preimage");
    assert_eq!(rows[0].upstream_status, None, "the request must not be retried");
    assert_eq!(rows[0].delivered, None);
}

async fn refused_invoice(demo: DemoOptions, path: &str, reason: &str) {
    let h = Harness::start(Setup { demo, ..Setup::default() }).await;
    let reply = if path == "/summarize" {
        h.forward(Method::POST, &h.demo(path), "{}", &[("content-type", "application/json")]).await
    } else {
        h.get(path).await
    };
    assert_refused(&reply, reason);
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "refused");
    assert_eq!(rows[0].reason.as_deref(), Some(reason));
    assert!(rows[0].invoice.as_deref().unwrap().starts_with("ln"));
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_invoice_is_refused() {
    // Expiring within the 30 s safety margin counts as expired.
    refused_invoice(
        DemoOptions { invoice_expiry: Some(Duration::from_secs(10)), ..DemoOptions::default() },
        "/joke",
        "invoice_expired",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_on_another_network_is_refused() {
    refused_invoice(
        DemoOptions { currency: Some(Currency::Bitcoin), ..DemoOptions::default() },
        "/joke",
        "wrong_network",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amountless_invoice_is_refused() {
    refused_invoice(DemoOptions { amountless: true, ..DemoOptions::default() }, "/joke", "amountless_invoice").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_naming_another_hash_is_refused() {
    refused_invoice(
        DemoOptions { wrong_payment_hash: true, ..DemoOptions::default() },
        "/summarize",
        "payment_hash_mismatch",
    )
    .await;
}

/// Routing fees are bounded: an invoice whose route hint alone charges more than the fee reserve (the larger
/// of 1 % and 10 sats) is refused unpaid; one within it is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_whose_route_hints_cost_more_than_the_fee_cap_is_refused() {
    let dear = lightning_invoice::RoutingFees { base_msat: 10_001, proportional_millionths: 0 };
    refused_invoice(DemoOptions { route_hint: Some(dear), ..DemoOptions::default() }, "/joke", "fee_too_high").await;
    let cheap = lightning_invoice::RoutingFees { base_msat: 1_000, proportional_millionths: 1_000 };
    let h = Harness::start(Setup {
        demo: DemoOptions { route_hint: Some(cheap), ..DemoOptions::default() },
        ..Setup::default()
    })
    .await;
    assert_eq!(h.get("/joke").await.status, 200);
}

/// A wallet that takes more routing fee than the cap: the payment stands, its fee is counted as taken, and an
/// alert says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_fee_above_the_cap_is_counted_and_raises_an_alert() {
    // Half the amount as fee: 10.5 sats on 21, above the 10 sat cap.
    let wallet = WalletServiceOptions { fee_ppm: 500_000, ..WalletServiceOptions::default() };
    let h = Harness::start(Setup { wallet, ..Setup::default() }).await;
    assert_eq!(h.get("/fortune").await.status, 200);
    let rows = h.rows().await;
    assert_eq!((rows[0].status.as_str(), rows[0].fee_msat), ("settled", Some(10_500)));
    let alerts = h.ledger.alerts(10).await.unwrap();
    let fee = alerts.iter().find(|a| a.kind == AlertKind::FeeAboveCap).expect("a fee alert");
    assert!(fee.message.contains("10.500 sats") && fee.message.contains("10 sats allowed"), "{}", fee.message);
}

/// An L402 token whose macaroon names another payment hash than its invoice's (Aperture's identifier layout)
/// cannot be made valid by paying: refused unpaid, in both the `macaroon=` and the `token=` forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l402_token_minted_for_another_invoice_is_refused() {
    for path in ["/joke", "/fortune"] {
        refused_invoice(
            DemoOptions { wrong_payment_hash: true, ..DemoOptions::default() },
            path,
            "token_invoice_mismatch",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_too_large_to_replay_is_refused() {
    let h = Harness::start(Setup { body_buffer_limit_bytes: 16, ..Setup::default() }).await;
    let body = format!(r#"{{"text":"{}"}}"#, "word ".repeat(20));
    let reply = h.forward(Method::POST, &h.demo("/summarize"), &body, &[("content-type", "application/json")]).await;
    assert_refused(&reply, "body_too_large");
    assert_eq!(h.rows().await[0].reason.as_deref(), Some("body_too_large"));
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_challenge_is_refused_by_name() {
    const RESP: &str =
        "HTTP/1.1 402 Payment Required\r\ncontent-length: 0\r\nwww-authenticate: L402 macaroon=\"abc\"\r\n\r\n";
    let (addr, _) = canned_server(RESP).await;
    let h = Harness::start(Setup::default()).await;
    let reply = h.forward(Method::GET, &format!("http://{addr}/x"), "", &[]).await;
    assert_refused(&reply, "malformed_challenge");
    let row = &h.rows().await[0];
    assert_eq!(row.reason.as_deref(), Some("malformed_challenge"));
    assert_eq!(row.challenge_kind, "unreadable");
    assert_eq!(row.invoice, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_402_without_a_lightning_challenge_passes_through() {
    const RESP: &str =
        "HTTP/1.1 402 Payment Required\r\ncontent-length: 9\r\nwww-authenticate: Bearer realm=\"x\"\r\n\r\nsubscribe";
    let (addr, _) = canned_server(RESP).await;
    let h = Harness::start(Setup::default()).await;
    let reply = h.forward(Method::GET, &format!("http://{addr}/x"), "", &[]).await;
    assert_eq!(reply.status, 402);
    assert_eq!(reply.header("purser-refused"), None);
    assert_eq!(&reply.body[..], b"subscribe");
    assert!(h.rows().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_gives_502() {
    let h = Harness::start(Setup::default()).await;
    let reply = h.forward(Method::GET, "http://127.0.0.1:1/x", "", &[]).await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.header("content-type"), Some("application/problem+json"));
    assert_eq!(reply.json()["reason"], "upstream_unreachable");
    let not_proxied =
        collect(send(h.proxy_addr, Method::GET, "/", "", &[("proxy-authorization", &h.auth())]).await).await;
    assert_eq!(not_proxied.status, 400);
    assert_eq!(not_proxied.json()["reason"], "not_proxied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_headers_and_the_agent_key_stay_behind() {
    const RESP: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close, x-upstream-private\r\nx-upstream-private: 1\r\n\r\nok";
    let (addr, mut requests) = canned_server(RESP).await;
    let h = Harness::start(Setup::default()).await;
    let headers = [("connection", "x-agent-private"), ("x-agent-private", "1"), ("x-kept", "yes")];
    let reply = h.gateway_to(&format!("/http/{addr}/echo?q=1"), &headers).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-upstream-private"), None);
    let seen = requests.recv().await.unwrap().to_ascii_lowercase();
    assert!(seen.starts_with("get /echo?q=1 http/1.1\r\n"), "{seen}");
    assert!(seen.contains("x-kept: yes"));
    assert!(seen.contains("via: 1.1 purser"));
    assert!(seen.contains(&format!("host: {addr}")));
    for gone in ["proxy-authorization", "x-agent-private"] {
        assert!(!seen.contains(gone), "{gone} reached the upstream: {seen}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_requiring_an_unknown_feature_is_refused_by_name() {
    let demo = DemoOptions { invoice_features: Some(FeatureField::With(vec![100])), ..DemoOptions::default() };
    let h = Harness::start(Setup { demo, ..Setup::default() }).await;
    let reply = h.get("/joke").await;
    assert_refused(&reply, "unsupported_invoice_feature");
    assert!(reply.json()["detail"].as_str().unwrap().contains("requires feature bit 100"), "{:?}", reply.body);
    assert_eq!(h.rows().await[0].reason.as_deref(), Some("unsupported_invoice_feature"));
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_optional_feature_is_paid() {
    let demo = DemoOptions { invoice_features: Some(FeatureField::With(vec![101])), ..DemoOptions::default() };
    let h = Harness::start(Setup { demo, ..Setup::default() }).await;
    assert_eq!(h.get("/joke").await.status, 200);
    assert_eq!(h.rows().await[0].status, "settled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallets_refusal_of_an_invoice_purser_accepted_is_the_last_word() {
    // A wallet that demands a feature field, as one built on lightning-invoice's full check would.
    let wallet = WalletServiceOptions { strict_invoices: true, ..WalletServiceOptions::default() };
    let h =
        Harness::start(Setup { wallet, budgets: vec![(ScopeSpec::default(), Period::Day, 100)], ..Setup::default() })
            .await;
    let reply = h.get("/lnbits").await;
    assert_refused(&reply, "payment_failed");
    let detail = reply.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("this wallet cannot pay the invoice"), "{detail}");
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].status.as_str(), rows[0].reason.as_deref()), ("failed", Some("payment_failed")));
    assert_eq!(h.sandbox.wallet.pay_requests(), 1);
    let uses = h.ledger.budget_uses(&Default::default()).await.unwrap();
    assert!(uses.iter().all(|u| u.used == purser::units::Msats(0)), "nothing is counted: {uses:?}");
    // Invoices the wallet takes still go through.
    assert_eq!(h.get("/joke").await.status, 200);
}
