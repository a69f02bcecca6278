//! Every Lightning 402 dialect paid end to end against the sandbox's demo API (real macaroons, real BOLT11,
//! real base64url JSON for MPP and x402), the offer Purser cannot pay passed on and recorded, price checks
//! against the advertised prices, dry runs, `Purser-Max-Sats`, and kept credentials listed and revoked.

use std::time::Duration;

use base64::Engine;
use http::Method;
use purser::ledger::Ledger;
use purser::ledger::alerts::AlertKind;
use purser::ledger::payments::{NewPayment, Outcome, Reservation};
use purser::policy::Rules;
use purser::proxy::control;
use purser::sandbox::demo_api::DemoOptions;
use purser::units::{Msats, Preimage};
use serde_json::Value;

use crate::harness::{Harness, Setup};
use crate::refusals::assert_refused;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_dialect_is_paid_and_recorded_with_its_name() {
    let h = Harness::start(Setup::default()).await;
    let cases = [
        ("/joke", "l402", "joke"),
        ("/legacy", "lsat", "answer"),
        ("/mpp", "mpp", "joke"),
        ("/x402", "x402", "joke"),
        ("/x402-v1", "x402", "joke"),
        ("/hash-only", "hash_only", "joke"),
        ("/multi", "l402", "joke"),
    ];
    for (path, kind, field) in cases {
        let reply = h.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
        assert!(reply.json().get(field).is_some(), "{path}: {:?}", reply.body);
        let rows = h.rows().await;
        let row = rows.last().unwrap();
        assert_eq!((row.path.as_str(), row.challenge_kind.as_str()), (path, kind));
        assert_eq!(row.status, "settled", "{path}");
        assert_eq!(row.delivered, Some(true), "{path}");
    }
    let rows = h.rows().await;
    assert_eq!(rows.len(), cases.len(), "one payment per call");
    let receipt = |path: &str| -> Value {
        let row = rows.iter().find(|r| r.path == path).unwrap();
        serde_json::from_str(row.receipt.as_deref().unwrap_or_else(|| panic!("{path}: no receipt"))).unwrap()
    };
    assert_eq!(receipt("/mpp")["status"], "success");
    assert_eq!(
        receipt("/mpp")["reference"],
        rows.iter().find(|r| r.path == "/mpp").unwrap().payment_hash.as_deref().unwrap()
    );
    assert_eq!(receipt("/x402")["success"], true);
    assert_eq!(
        receipt("/x402-v1")["transaction"],
        rows.iter().find(|r| r.path == "/x402-v1").unwrap().invoice.as_deref().unwrap()
    );
    assert!(rows.iter().find(|r| r.path == "/joke").unwrap().receipt.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_on_another_chain_is_passed_on_untouched_and_recorded() {
    let h = Harness::start(Setup::default()).await;
    let reply = h.get("/evm").await;
    assert_eq!(reply.status, 402);
    assert_eq!(reply.header("purser-refused"), None, "not a refusal of Purser's: the API's own 402");
    let offer = reply.header("payment-required").expect("the API's offer reaches the agent");
    let doc: Value = serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(offer).unwrap()).unwrap();
    assert_eq!(doc["accepts"][0]["network"], "eip155:8453");
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].status.as_str(), rows[0].reason.as_deref()), ("refused", Some("unsupported_scheme")));
    assert_eq!(rows[0].challenge_kind, "x402");
    assert!(rows[0].decision.contains("eip155:8453"), "{}", rows[0].decision);
    assert_eq!(h.sandbox.wallet.pay_requests(), 0, "nothing sent to the wallet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_above_the_advertised_price_goes_to_a_person_with_an_alert() {
    // Everything up to 1000 sats is auto-approved, yet /surge (advertised 10, invoice 20) is held.
    let h = Harness::start(Setup::default()).await;
    let url = h.demo("/surge");
    let agent = h.forward(Method::GET, &url, "", &[]);
    let approval = async {
        let held = h.held(1).await.remove(0);
        assert!(held["explanation"].as_str().unwrap().contains("2× its advertised 10 sats"), "{held}");
        let alerts = h.ledger.alerts(10).await.unwrap();
        assert!(alerts.iter().any(|a| a.kind == AlertKind::PriceAboveAdvertised), "{alerts:?}");
        control::call(&h.control, Method::POST, &format!("approvals/{}/approve", held["id"]), None).await.unwrap();
    };
    let (reply, ()) = tokio::join!(agent, approval);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let rows = h.rows().await;
    assert_eq!((rows[0].status.as_str(), rows[0].amount_msat), ("settled", Some(20_000)));
    assert!(rows[0].decision.contains("approved by a person"), "{}", rows[0].decision);
    // At the advertised price, the same API is paid without asking.
    assert_eq!(h.get("/joke").await.status, 200);

    let strict = Harness::start(Setup { refuse_price_mismatch: true, ..Setup::default() }).await;
    let reply = strict.get("/surge").await;
    assert_refused(&reply, "price_mismatch");
    assert_eq!(reply.json()["price_mismatch"]["advertised_msat"], 10_000);
    assert_eq!(strict.rows().await[0].reason.as_deref(), Some("price_mismatch"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_the_price_and_the_decision_without_paying() {
    let h = Harness::start(Setup { auto_sats: 100, ask_sats: 200, ..Setup::default() }).await;
    let dry = [("purser-dry-run", "1")];
    let joke = h.forward(Method::GET, &h.demo("/joke"), "", &dry).await;
    assert_eq!(joke.status, 200);
    assert_eq!(joke.header("purser-dry-run"), Some("1"));
    let v = joke.json();
    assert_eq!((v["dialect"].as_str(), v["amount_msat"].as_u64()), (Some("l402"), Some(1000)));
    assert_eq!((v["decision"].as_str(), v["would_pay"].as_bool()), (Some("allow"), Some(true)));
    assert_eq!(v["advertised_msat"], 1000);
    let premium = h.forward(Method::GET, &h.demo("/premium"), "", &dry).await.json();
    assert_eq!((premium["decision"].as_str(), premium["would_pay"].as_bool()), (Some("refuse"), Some(false)));
    assert_eq!(premium["reason"], "over_threshold_denied");
    let surge = h.forward(Method::GET, &h.demo("/surge"), "", &dry).await.json();
    assert_eq!(surge["decision"], "ask", "{surge}");
    let mpp = h.forward(Method::GET, &h.demo("/mpp"), "", &dry).await.json();
    assert_eq!((mpp["dialect"].as_str(), mpp["amount_msat"].as_u64()), (Some("mpp"), Some(3000)));
    let evm = h.forward(Method::GET, &h.demo("/evm"), "", &dry).await.json();
    assert_eq!((evm["decision"].as_str(), evm["reason"].as_str()), (Some("refuse"), Some("unsupported_scheme")));
    let free = h.forward(Method::GET, &h.demo("/"), "", &dry).await;
    assert_eq!((free.status, free.header("purser-dry-run")), (200, Some("no-payment-needed")));
    assert!(h.rows().await.is_empty(), "a dry run writes no payment");
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purser_max_sats_caps_what_one_request_may_pay() {
    let h = Harness::start(Setup::default()).await;
    let reply = h.forward(Method::GET, &h.demo("/premium"), "", &[("purser-max-sats", "100")]).await;
    assert_refused(&reply, "max_sats_exceeded");
    assert_eq!(h.rows().await[0].reason.as_deref(), Some("max_sats_exceeded"));
    // The cap covers the invoice and its fee reserve (10 sats at least): 1 sat asks for 11.
    let over = h.forward(Method::GET, &h.demo("/joke"), "", &[("purser-max-sats", "10")]).await;
    assert_refused(&over, "max_sats_exceeded");
    let ok = h.forward(Method::GET, &h.demo("/joke"), "", &[("purser-max-sats", "11")]).await;
    assert_eq!(ok.status, 200);
    let bad = h.forward(Method::GET, &h.demo("/joke"), "", &[("purser-max-sats", "lots")]).await;
    assert_eq!((bad.status, bad.json()["reason"].as_str()), (400, Some("bad_max_sats")));
    let rows = h.rows().await;
    let reasons: Vec<Option<&str>> = rows.iter().map(|r| r.reason.as_deref()).collect();
    assert_eq!(reasons, [Some("max_sats_exceeded"), Some("max_sats_exceeded"), None], "the 400 writes no row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_credentials_are_listed_with_their_expiry_and_can_be_revoked() {
    let h = Harness::start(Setup::default()).await;
    assert_eq!(h.get("/joke").await.status, 200);
    assert_eq!(h.get("/joke").await.status, 200);
    assert_eq!(h.rows().await.len(), 1, "the kept macaroon is reused");
    let kept = h.ledger.credentials(Some("research")).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].path.as_str(), kept[0].scheme.as_str(), kept[0].expired), ("/joke", "L402", false));
    let expires = kept[0].expires_at_ms.expect("the demo macaroon's expiration caveat is read");
    let in_an_hour = jiff::Timestamp::now().as_millisecond() + 3_600_000;
    assert!((expires - in_an_hour).abs() < 60_000, "{expires} vs {in_an_hour}");
    h.ledger.revoke_credential(kept[0].id).await.unwrap();
    assert!(h.ledger.credentials(None).await.unwrap().is_empty());
    assert!(h.ledger.revoke_credential(kept[0].id).await.is_err(), "revoking twice names the missing id");
    assert_eq!(h.get("/joke").await.status, 200);
    assert_eq!(h.rows().await.len(), 2, "after a revoke the next call pays again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_mpp_challenge_and_a_misstated_x402_amount_are_refused_unpaid() {
    let demo = DemoOptions { mpp_expired: true, x402_amount_off: true, ..DemoOptions::default() };
    let h = Harness::start(Setup { demo, ..Setup::default() }).await;
    assert_refused(&h.get("/mpp").await, "challenge_expired");
    let misstated = h.get("/x402").await;
    assert_refused(&misstated, "price_mismatch");
    assert!(misstated.json()["detail"].as_str().unwrap().contains("states 5 sats but its invoice asks 4 sats"));
    assert_refused(&h.get("/x402-v1").await, "price_mismatch");
    let rows = h.rows().await;
    let seen: Vec<(&str, &str)> =
        rows.iter().map(|r| (r.challenge_kind.as_str(), r.reason.as_deref().unwrap_or_default())).collect();
    assert_eq!(seen, [("mpp", "challenge_expired"), ("x402", "price_mismatch"), ("x402", "price_mismatch")]);
    assert_eq!(h.sandbox.wallet.pay_requests(), 0, "nothing sent to the wallet");
}

/// The usual-price check on a real ledger file: three settled 10-sat payments make 10 sats usual; a 20-sat
/// invoice (more than the 50 % margin above) waits for a person with an alert, and goes ahead once a person
/// approved it; a 14-sat one (within the margin) goes ahead at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_far_above_the_usual_price_waits_for_a_person() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = purser::ledger::testing::fresh(dir.path()).await.unwrap();
    let (agent, _) = ledger.add_agent("research").await.unwrap();
    // Up to 1000 sats would be auto-approved: only the price sends the 20-sat invoice to a person.
    let all = purser::ledger::policy_store::ScopeSpec::default();
    ledger.set_threshold(&all, Msats::from_sats(1000), Msats::from_sats(1000), None).await.unwrap();
    let payment = |n: u8, sats: u64| NewPayment {
        path: "/quote".into(),
        ..crate::harness::payment(agent.id, &agent.name, n, sats)
    };
    for n in 1..=3 {
        let Reservation::Reserved { payment_id, .. } =
            ledger.reserve(&payment(n, 10), purser::policy::Approved::Not, &Rules).await.unwrap()
        else {
            panic!("a usual payment goes ahead");
        };
        ledger
            .finish(payment_id, &Outcome::Settled { preimage: Preimage([n; 32]), fee: Msats(0) }, None)
            .await
            .unwrap();
    }
    let asked = ledger.reserve(&payment(9, 20), purser::policy::Approved::Not, &Rules).await.unwrap();
    let Reservation::NeedsApproval { explanation, alerts, .. } = asked else { panic!("{asked:?}") };
    assert!(explanation.contains("2× its usual 10 sats"), "{explanation}");
    assert_eq!(alerts.iter().map(|a| a.kind).collect::<Vec<_>>(), [AlertKind::PriceAboveUsual]);
    assert!(matches!(
        ledger.reserve(&payment(9, 20), purser::policy::Approved::Clicked, &Rules).await.unwrap(),
        Reservation::Reserved { .. }
    ));
    let usual = ledger.reserve(&payment(10, 14), purser::policy::Approved::Not, &Rules).await.unwrap();
    assert!(matches!(usual, Reservation::Reserved { .. }), "{usual:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_that_expires_while_a_person_decides_is_not_paid() {
    // Invoices live 3 s and must have 1 s left when paid; the person approves after 2.5 s.
    let demo = DemoOptions { invoice_expiry: Some(Duration::from_secs(3)), ..DemoOptions::default() };
    let setup = Setup { demo, auto_sats: 10, invoice_expiry_margin: Duration::from_secs(1), ..Setup::default() };
    let h = Harness::start(setup).await;
    let url = h.demo("/premium");
    let agent = h.forward(Method::GET, &url, "", &[]);
    let person = async {
        let held = h.held(1).await.remove(0);
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        control::call(&h.control, Method::POST, &format!("approvals/{}/approve", held["id"]), None).await.unwrap();
    };
    let (reply, ()) = tokio::join!(agent, person);
    assert_refused(&reply, "invoice_expired");
    assert!(reply.json()["detail"].as_str().unwrap().contains("approved too late"), "{:?}", reply.body);
    assert_eq!(h.sandbox.wallet.pay_requests(), 0, "nothing sent to the wallet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_kept_before_expiries_were_read_get_theirs_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let location = purser::ledger::testing::fresh_location(dir.path()).await;
    let ledger = Ledger::open_at(&location).await.unwrap();
    let (agent, _) = ledger.add_agent("research").await.unwrap();
    // An lsat-js style macaroon with `expiration=<ms>`, kept, then its expiry forgotten as an older
    // version of the ledger would have it.
    let _ = macaroon::initialize();
    let key = macaroon::MacaroonKey::generate_random();
    let mut mac = macaroon::Macaroon::create(None, &key, "id".into()).unwrap();
    mac.add_first_party_caveat("expiration=1000".into());
    let token = mac.serialize(macaroon::Format::V2).unwrap();
    let Reservation::Reserved { payment_id, .. } = ledger
        .reserve(&crate::harness::payment(agent.id, &agent.name, 1, 1), purser::policy::Approved::Not, &Rules)
        .await
        .unwrap()
    else {
        panic!("a 1-sat payment goes ahead");
    };
    let auth = format!("L402 {token}:{}", "01".repeat(32));
    ledger.keep_credential(agent.id, "http://api.example.com:80", "/a", &auth, payment_id).await.unwrap();
    sqlx::query("UPDATE credentials SET expires_at_ms = NULL").execute(ledger.pool()).await.unwrap();
    assert_eq!(ledger.credentials(None).await.unwrap()[0].expires_at_ms, None);
    drop(ledger);
    let reopened = Ledger::open_at(&location).await.unwrap();
    let kept = reopened.credentials(None).await.unwrap();
    assert_eq!((kept[0].expires_at_ms, kept[0].expired), (Some(1_000_000), true));
    assert_eq!(
        reopened.credential(agent.id, "http://api.example.com:80", "/a").await.unwrap(),
        None,
        "expired: not sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_use_proof_is_sent_again_when_the_paid_retry_fails() {
    // MPP, x402 and hash proofs answer one challenge: a lost retry must not mean a second payment.
    for path in ["/mpp", "/x402", "/hash-only"] {
        let demo = DemoOptions { fail_proofs: 1, ..DemoOptions::default() };
        let h = Harness::start(Setup { demo, ..Setup::default() }).await;
        let reply = h.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
        let rows = h.rows().await;
        assert_eq!(rows.len(), 1, "{path}: paid once");
        assert_eq!((rows[0].status.as_str(), rows[0].delivered), ("settled", Some(true)), "{path}");
        assert_eq!(h.sandbox.wallet.pay_requests(), 1, "{path}");
        assert!(h.ledger.credentials(None).await.unwrap().is_empty(), "{path}: the delivered proof is forgotten");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undelivered_single_use_proof_serves_the_next_identical_request() {
    for path in ["/mpp", "/x402"] {
        // Three 503s: the paid retry and both re-sends fail; the agent is told, and nothing more is paid.
        let demo = DemoOptions { fail_proofs: 3, ..DemoOptions::default() };
        let h = Harness::start(Setup { demo, ..Setup::default() }).await;
        let first = h.get(path).await;
        assert_eq!(first.status, 503, "{path}");
        let row = h.rows().await.pop().unwrap();
        assert_eq!(
            (row.status.as_str(), row.delivered, row.reason.as_deref()),
            ("settled", Some(false), Some("upstream_status_503"))
        );
        let kept = h.ledger.credentials(None).await.unwrap();
        assert!(kept.len() == 1 && kept[0].single_use, "{path}: {kept:?}");
        let second = h.get(path).await;
        assert_eq!(second.status, 200, "{path}: the kept proof is sent again: {:?}", second.body);
        assert_eq!(h.sandbox.wallet.pay_requests(), 1, "{path}: paid once");
        assert!(h.ledger.credentials(None).await.unwrap().is_empty(), "{path}: a single-use proof is gone once sent");
        assert_eq!(h.get(path).await.status, 200, "{path}: a third call pays for itself");
        assert_eq!(h.sandbox.wallet.pay_requests(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_without_a_feature_field_is_paid_like_any_other() {
    let h = Harness::start(Setup::default()).await;
    let first = h.get("/lnbits").await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert!(first.json().get("joke").is_some(), "{:?}", first.body);
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!((row.status.as_str(), row.challenge_kind.as_str()), ("settled", "l402"));
    assert_eq!(row.delivered, Some(true));
    assert_eq!(row.amount_msat, Some(3_000));
    // The invoice paid is the bare kind: a payment secret, no feature field.
    let invoice: lightning_invoice::SignedRawBolt11Invoice = row.invoice.as_deref().unwrap().parse().unwrap();
    assert!(invoice.features().is_none() && invoice.payment_secret().is_some());
    // The kept token serves the next call: paid once.
    assert_eq!(h.get("/lnbits").await.status, 200);
    assert_eq!(h.rows().await.len(), 1);
    assert_eq!(h.sandbox.wallet.pay_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cheapest_lightning_offer_is_paid_and_the_request_sent_again() {
    let h = Harness::start(Setup::default()).await;
    let reply = h.get("/offers").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert!(reply.json()["answer"].is_string());
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!((row.challenge_kind.as_str(), row.status.as_str()), ("l402_offers", "settled"));
    assert_eq!(row.amount_msat, Some(5_000), "the 5-sat offer, not the 9-sat one, the card one or the pack");
    assert_eq!(row.delivered, Some(true));
    assert_eq!(h.sandbox.wallet.pay_requests(), 1);
    // The credit was used: the next call pays again.
    assert_eq!(h.get("/offers").await.status, 200);
    assert_eq!(h.sandbox.wallet.pay_requests(), 2);
}

/// Offers priced in US cents, as a hosted provider prices them: converted at Purser's rate (the sandbox's
/// 1 BTC = 100,000 USD), the cheapest Lightning one is paid; an invoice asking more than that price allows
/// (2 %) is refused unpaid; with no rate, none is paid and the ledger says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_priced_in_a_currency_are_converted_at_purser_s_rate() {
    use purser::sandbox::demo_offers::SATS_PER_CENT;
    let usd = DemoOptions { offers_in_usd: true, ..DemoOptions::default() };
    let h = Harness::start(Setup { demo: usd.clone(), ..Setup::default() }).await;
    let reply = h.get("/offers").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let row = &h.rows().await[0];
    assert_eq!((row.challenge_kind.as_str(), row.status.as_str()), ("l402_offers", "settled"));
    assert_eq!(
        row.amount_msat,
        Some((2 * SATS_PER_CENT * 1000) as i64),
        "the 2-cent offer, not the 3-cent or card one"
    );

    let overcharged = DemoOptions { overcharge_offers: true, ..usd.clone() };
    let h = Harness::start(Setup { demo: overcharged, ..Setup::default() }).await;
    let reply = h.get("/offers").await;
    crate::refusals::assert_refused(&reply, "price_mismatch");
    assert_eq!(h.sandbox.wallet.pay_requests(), 0, "21 sats asked for a 2-cent offer (20 sats)");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = purser::rates::Source::new(
        "down feed",
        &format!("http://127.0.0.1:{closed}/price"),
        purser::rates::shape::Shape::Mempool,
    );
    let h = Harness::start(Setup { demo: usd, rate_sources: Some(vec![down]), ..Setup::default() }).await;
    let reply = h.get("/offers").await;
    assert_eq!(reply.status, 402, "the API's own 402");
    let row = &h.rows().await[0];
    assert_eq!(row.reason.as_deref(), Some("unsupported_scheme"));
    assert!(row.decision.contains("offers in USD cannot be priced"), "{}", row.decision);
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offers_invoice_that_differs_from_the_offer_is_refused_unpaid() {
    let demo = DemoOptions { overcharge_offers: true, ..DemoOptions::default() };
    let h = Harness::start(Setup { demo, ..Setup::default() }).await;
    let reply = h.get("/offers").await;
    assert_refused(&reply, "price_mismatch");
    assert_eq!(h.sandbox.wallet.pay_requests(), 0, "nothing paid");
    let rows = h.rows().await;
    assert_eq!((rows[0].challenge_kind.as_str(), rows[0].status.as_str()), ("l402_offers", "refused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_with_no_lightning_one_time_offer_are_passed_on_and_recorded() {
    let h = Harness::start(Setup::default()).await;
    // The example of l402-protocol/l402's README (version 0.2.2): a top-up in dollars and a subscription.
    let body = r#"{"version":"0.2.2","payment_request_url":"https://api.example.com/l402/payment-request","payment_context_token":"pct_abc123xyz","offers":[{"id":"offer_12345","title":"One-time Access","type":"top-up","balance":1,"amount":100,"currency":"USD","payment_methods":["lightning","onchain"]},{"id":"offer_67890","title":"Monthly Subscription","amount":1500,"currency":"EUR","type":"subscription","duration":"1 month","payment_methods":["credit_card","lightning","onchain"]}]}"#;
    let canned = format!(
        "HTTP/1.1 402 Payment Required\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let (addr, mut seen) = crate::harness::canned_server(Box::leak(canned.into_boxed_str())).await;
    let reply = h.forward(Method::GET, &format!("http://{addr}/resource"), "", &[]).await;
    assert_eq!(reply.status, 402);
    assert_eq!(reply.json()["payment_context_token"], "pct_abc123xyz", "the 402 as the server sent it");
    assert!(reply.headers.get("purser-refused").is_none());
    let asked: Vec<String> = std::iter::from_fn(|| seen.try_recv().ok()).collect();
    assert!(asked.iter().all(|r| !r.starts_with("POST")), "no invoice asked for: {asked:?}");
    let rows = h.rows().await;
    assert_eq!(
        (rows[0].challenge_kind.as_str(), rows[0].reason.as_deref()),
        ("l402_offers", Some("unsupported_scheme"))
    );
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_on_offers_names_the_chosen_offer_and_writes_nothing() {
    let h = Harness::start(Setup::default()).await;
    let dry = h.forward(Method::GET, &h.demo("/offers"), "", &[("purser-dry-run", "1")]).await.json();
    assert_eq!((dry["dialect"].as_str(), dry["amount_msat"].as_u64()), (Some("l402_offers"), Some(5_000)), "{dry}");
    assert_eq!(dry["would_pay"], true, "{dry}");
    assert!(h.rows().await.is_empty(), "a dry run writes nothing");
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offers_payment_the_api_does_not_honour_is_not_made_again() {
    // The API takes the payment but keeps answering 402 (it never learns of it).
    let demo = DemoOptions { reject_proofs: true, ..DemoOptions::default() };
    let h = Harness::start(Setup { demo, ..Setup::default() }).await;
    let first = h.get("/offers").await;
    assert_eq!(first.status, 402, "waited out, then the API's 402: {:?}", first.body);
    let row = h.rows().await.pop().unwrap();
    assert_eq!(
        (row.status.as_str(), row.delivered, row.reason.as_deref()),
        ("settled", Some(false), Some("asked_again"))
    );
    let second = h.get("/offers").await;
    assert_eq!(second.status, 503, "{:?}", second.body);
    assert_eq!(second.json()["reason"], "payment_in_flight");
    assert_eq!(h.sandbox.wallet.pay_requests(), 1, "paid once");
}
