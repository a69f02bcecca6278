//! Limits and figures in a person's currency, over real sockets with the sandbox's wallet and demo API: a
//! threshold and a daily budget in dollars at the sandbox's play rate (the acceptance), a budget crossed at
//! exactly the right sat amount, each row keeping the rate it was decided at (and the budget summing those,
//! not today's price), CSV columns, every rate source down (the payment goes to a person with
//! `rate_unavailable`), a stale cache, and `Purser-Max-Fiat`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::Method;
use purser::ledger::policy_store::ScopeSpec;
use purser::ledger::queries::PaymentFilter;
use purser::policy::fiat::FiatThreshold;
use purser::policy::{ManualClock, Period};
use purser::proxy::control;
use purser::rates::shape::Shape;
use purser::rates::{Money, Source};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::allowances::own;
use crate::harness::{Harness, Setup};
use crate::refusals::assert_refused;

fn usd(amount: &str) -> Money {
    Money::parse_amount("USD", amount).unwrap()
}

/// Dollar limits for every payment: paid at once up to `auto`, asked up to `ask`.
fn dollars(auto: &str, ask: &str) -> FiatThreshold {
    FiatThreshold {
        currency: "USD".into(),
        auto_max_micros: usd(auto).micros,
        ask_max_micros: usd(ask).micros,
        confirm_above_micros: None,
    }
}

async fn answer(h: &Harness, id: &Value, action: &str) {
    control::call(&h.control, Method::POST, &format!("approvals/{id}/{action}"), None).await.unwrap();
}

/// A mempool-shaped price server whose USD price (in whole dollars) the test moves; 0 makes it answer 503.
async fn price_server(usd_per_btc: Arc<AtomicU64>) -> Source {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let price = usd_per_btc.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let answer = match price.load(Ordering::SeqCst) {
                    0 => {
                        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string()
                    }
                    p => {
                        let body = format!(r#"{{"time":1764633600,"USD":{p}}}"#);
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    }
                };
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    Source::new("test feed", &format!("http://{addr}/api/v1/prices"), Shape::Mempool)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_sandbox_dollar_limits_pay_ask_and_refuse_at_the_play_rate() {
    let h = Arc::new(Harness::start(Setup { auto_sats: 1_000, ask_sats: 100_000, ..Setup::default() }).await);
    h.ledger.set_display_currency(Some("USD")).await.unwrap();
    h.ledger.set_fiat_threshold(&ScopeSpec::default(), dollars("0.05", "10")).await.unwrap();
    h.ledger.add_fiat_budget(&ScopeSpec::default(), Period::Day, usd("1"), None, None).await.unwrap();

    // 21 sats is $0.021 at the sandbox's 1 BTC = $100,000: paid at once, and the decision names the rate.
    assert_eq!(h.get("/fortune").await.status, 200);
    let rows = h.rows().await;
    let paid = &rows[0];
    assert_eq!(paid.status, "settled");
    assert!(paid.decision.contains("auto-approve limit of $0.05 (50 sats)"), "{}", paid.decision);
    assert!(paid.decision.contains("1 BTC = $100,000.00 (sandbox play rate"), "{}", paid.decision);
    assert_eq!(paid.fiat_currency.as_deref(), Some("USD"));
    assert_eq!(paid.fiat_per_btc, Some(100_000.0));
    assert_eq!(paid.fiat_source.as_deref(), Some("sandbox play rate"));
    // 21 sats and the wallet's 21 msat fee: $0.021021.
    assert_eq!(paid.fiat_value, Some(0.021021));

    // 250 sats is $0.25: above "pay at once up to $0.05", so a person is asked, in both denominations.
    let call = {
        let h = h.clone();
        tokio::spawn(async move { h.get("/premium").await })
    };
    let waiting = h.held(1).await;
    assert!(
        waiting[0]["explanation"].as_str().unwrap().contains("auto-approve limit of $0.05 (50 sats)"),
        "{}",
        waiting[0]
    );
    assert_eq!(waiting[0]["fiat"], serde_json::json!({"currency": "USD", "micros": 250_000}));
    answer(&h, &waiting[0]["id"], "approve").await;
    assert_eq!(call.await.unwrap().status, 200);

    // Spent so far: $0.021021 + $0.25025. Each 21-sat call is paid at once and needs 31 sats ($0.031) with
    // its fee reserve while in flight: the one that would pass $1 is refused, and not one before it.
    let mut paid_after = 0;
    loop {
        let spent: i64 = h.rows().await.iter().filter(|r| r.status == "settled").map(|r| micros(r.fiat_value)).sum();
        let reply = h.get("/fortune").await;
        if 1_000_000 - spent < 31_000 {
            assert_refused(&reply, "budget_exceeded");
            let detail = reply.json()["detail"].as_str().unwrap().to_string();
            assert!(detail.contains("daily budget") && detail.contains("($1.00)"), "{detail}");
            assert!(detail.contains(&format!("{} used", Money { currency: "USD".into(), micros: spent })), "{detail}");
            assert!(detail.contains("1 BTC = $100,000.00"), "{detail}");
            break;
        }
        assert_eq!(reply.status, 200, "${spent} µ spent: {:?}", reply.body);
        paid_after += 1;
    }
    // $0.271271 spent before, 21.021 sats a call: 34 calls fit.
    assert_eq!(paid_after, 34);
    let spent: f64 = h.rows().await.iter().filter(|r| r.status == "settled").filter_map(|r| r.fiat_value).sum();
    assert!(spent <= 1.0, "{spent}");
}

/// A recorded value in millionths.
fn micros(units: Option<f64>) -> i64 {
    (units.unwrap_or(0.0) * 1e6).round() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dollar_budget_is_crossed_at_exactly_the_right_sat_amount() {
    let h = Harness::start(Setup { auto_sats: 100_000, ask_sats: 100_000, ..Setup::default() }).await;
    h.ledger.set_display_currency(Some("USD")).await.unwrap();
    // One 21-sat payment with its 21-msat fee: $0.021021 at the play rate.
    assert_eq!(h.get("/fortune").await.status, 200);
    // The next needs 31 sats (21 and a 10-sat fee reserve): $0.031 exactly. A budget one millionth of a dollar
    // short of $0.021021 + $0.031 refuses it…
    let short = h.ledger.add_fiat_budget(&ScopeSpec::default(), Period::Day, usd("0.05202"), None, None).await.unwrap();
    let reply = h.get("/fortune").await;
    assert_refused(&reply, "budget_exceeded");
    assert!(reply.json()["detail"].as_str().unwrap().contains("$0.030999 (30.999 sats) left"), "{}", reply.json());
    // …and one at exactly that sum pays it.
    h.ledger.remove_budget(short.id).await.unwrap();
    h.ledger.add_fiat_budget(&ScopeSpec::default(), Period::Day, usd("0.052021"), None, None).await.unwrap();
    assert_eq!(h.get("/fortune").await.status, 200);
    // $0.009979 is left: not enough for even a 1-sat call (1 sat and its 10-sat reserve).
    assert_refused(&h.get("/joke").await, "budget_exceeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_row_keeps_its_rate_and_the_budget_sums_those_not_todays_price() {
    let price = Arc::new(AtomicU64::new(100_000));
    let clock = ManualClock::new(1_764_633_600_000);
    let h = Harness::start(Setup {
        rate_sources: Some(vec![price_server(price.clone()).await]),
        clock: Some(clock.clone()),
        ..Setup::default()
    })
    .await;
    h.ledger.set_display_currency(Some("USD")).await.unwrap();
    h.ledger.add_fiat_budget(&ScopeSpec::default(), Period::Day, usd("1"), None, None).await.unwrap();
    assert_eq!(h.get("/fortune").await.status, 200);
    // The price doubles (past the minute a rate is cached): the next payment is worth twice as much…
    price.store(200_000, Ordering::SeqCst);
    clock.advance_ms(61_000);
    assert_eq!(h.get("/fortune").await.status, 200);
    let rows = h.rows().await;
    assert_eq!((rows[0].fiat_per_btc, rows[1].fiat_per_btc), (Some(100_000.0), Some(200_000.0)));
    assert_eq!((rows[0].fiat_value, rows[1].fiat_value), (Some(0.021021), Some(0.042042)));
    // …and the first keeps its own value: $0.063063 used, $0.936937 left, which buys 468.4685 sats now.
    let now = purser::rates::RatesAtHand {
        rates: vec![purser::rates::Rate { currency: "USD".into(), per_btc: 200_000.0, source: "now".into(), at_ms: 0 }],
        missing: vec![],
    };
    let uses = h.ledger.budget_uses(&now).await.unwrap();
    let dollar_budget = uses.iter().find(|u| u.budget.limit_fiat.is_some()).unwrap();
    assert_eq!(dollar_budget.used_fiat, Some(usd("0.063063")));
    assert_eq!(dollar_budget.remaining(), purser::units::Msats(468_468));

    // The CSV carries the currency, the rate, its source and the value.
    let csv = h.ledger.export_csv(&PaymentFilter::default()).await.unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with("fiat_currency,fiat_per_btc,fiat_source,fiat_value,instance"), "{header}");
    let instance = h.ledger.instance();
    assert!(csv.lines().nth(1).unwrap().ends_with(&format!("USD,200000.0,test feed,0.042042,{instance}")), "{csv}");

    // The feed goes down and the cached rate grows older than five minutes: no rate converts the budget,
    // so the next payment waits for a person, told why.
    price.store(0, Ordering::SeqCst);
    clock.advance_ms(301_000);
    let h = Arc::new(h);
    let call = {
        let h = h.clone();
        tokio::spawn(async move { h.get("/joke").await })
    };
    let waiting = h.held(1).await;
    let why = waiting[0]["explanation"].as_str().unwrap();
    assert!(why.starts_with("rate_unavailable: daily budget"), "{why}");
    assert!(why.contains("test feed: answered 503"), "{why}");
    answer(&h, &waiting[0]["id"], "deny").await;
    assert_refused(&call.await.unwrap(), "denied_by_user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_source_down_a_dollar_threshold_asks_and_purser_max_fiat_refuses() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = Source::new("down feed", &format!("http://127.0.0.1:{closed}/price"), Shape::Mempool);
    let h = Arc::new(Harness::start(Setup { rate_sources: Some(vec![down]), ..Setup::default() }).await);
    h.ledger.set_fiat_threshold(&ScopeSpec::default(), dollars("1", "5")).await.unwrap();

    // A 1-sat call under "pay at once up to $1" is not paid automatically without a rate: a person decides.
    let call = {
        let h = h.clone();
        tokio::spawn(async move { h.get("/joke").await })
    };
    let waiting = h.held(1).await;
    let why = waiting[0]["explanation"].as_str().unwrap();
    assert!(why.starts_with("rate_unavailable: the threshold for the whole wallet ($1.00 at once"), "{why}");
    assert!(why.contains("down feed"), "{why}");
    answer(&h, &waiting[0]["id"], "approve").await;
    assert_eq!(call.await.unwrap().status, 200);
    assert!(h.rows().await[0].decision.contains("approved by a person (rate_unavailable"), "{:?}", h.rows().await);
    assert_eq!(h.rows().await[0].fiat_currency, None, "no rate, so no value recorded");

    // The agent's own cap in dollars cannot be checked without a rate, and nobody else set it: refused.
    let reply = h.gateway(Method::GET, "/fortune", "", &[("purser-max-fiat", "0.10 USD")]).await;
    assert_refused(&reply, "rate_unavailable");
    assert!(reply.json()["detail"].as_str().unwrap().contains("Purser-Max-Fiat"), "{}", reply.json());
    // A cap that is not money is the agent's mistake.
    let reply = h.gateway(Method::GET, "/fortune", "", &[("purser-max-fiat", "ten bucks")]).await;
    assert_eq!((reply.status, reply.json()["reason"].as_str()), (400, Some("bad_max_fiat")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purser_max_fiat_refuses_an_invoice_worth_more_and_passes_one_worth_less() {
    let h = Harness::start(Setup::default()).await;
    // A currency nobody here uses is not converted: no agent makes Purser ask the sources for it.
    let reply = h.gateway(Method::GET, "/fortune", "", &[("purser-max-fiat", "0.10 USD")]).await;
    assert_refused(&reply, "rate_unavailable");
    assert!(reply.json()["detail"].as_str().unwrap().contains("not a currency the person uses"), "{}", reply.json());
    h.ledger.set_display_currency(Some("USD")).await.unwrap();
    // 21 sats and a 10-sat fee reserve: $0.031 at the play rate.
    let reply = h.gateway(Method::GET, "/fortune", "", &[("purser-max-fiat", "0.03 USD")]).await;
    assert_refused(&reply, "max_fiat_exceeded");
    assert!(reply.json()["detail"].as_str().unwrap().contains("($0.031)"), "{}", reply.json());
    assert_eq!(h.gateway(Method::GET, "/fortune", "", &[("purser-max-fiat", "USD 0.031")]).await.status, 200);
    assert_eq!(h.sandbox.wallet.payments().len(), 1, "only the second was paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dollar_confirm_limit_guards_allowances_and_agents_read_dollar_limits() {
    let h = Harness::start(Setup::default()).await;
    h.ledger.set_passphrase_hash(Some(&purser::consent::hash("correct horse battery").unwrap())).await.unwrap();
    let limits = FiatThreshold { confirm_above_micros: Some(usd("0.10").micros), ..dollars("0.05", "5") };
    h.ledger.set_fiat_threshold(&ScopeSpec::default(), limits).await.unwrap();
    h.ledger.add_fiat_budget(&ScopeSpec::default(), Period::Day, usd("1"), None, None).await.unwrap();

    // 300 sats is $0.30 at the play rate, above the $0.10 confirm limit: a click does not approve it.
    let asked =
        own(&h, Method::POST, "/_purser/allowances", serde_json::json!({"purpose": "fortunes", "max_sats": 300})).await;
    let id = asked.json()["id"].as_i64().unwrap();
    let path = format!("allowances/{id}/approve");
    let click = control::call(&h.control, Method::POST, &path, Some(serde_json::json!({}))).await.unwrap_err();
    assert!(click.to_string().contains("needs your passphrase"), "{click}");
    // 50 sats ($0.05) is below it: a click is enough.
    let lower =
        control::call(&h.control, Method::POST, &path, Some(serde_json::json!({"max_sats": 50}))).await.unwrap();
    assert_eq!(lower["state"], "active", "{lower}");

    // The agent reads its limits as set, in dollars, and what they buy now.
    let overview = own(&h, Method::GET, "/_purser/agent", Value::Null).await.json();
    let threshold = &overview["thresholds"][0];
    assert_eq!(threshold["auto_approve_up_to_msat"], 50_000, "{overview}");
    assert_eq!(threshold["set_in"]["auto_max_micros"], 50_000, "{overview}");
    let budget = overview["budgets"].as_array().unwrap().iter().find(|b| !b["limit_fiat"].is_null()).unwrap();
    assert_eq!(
        (budget["limit_fiat"]["micros"].as_i64(), budget["limit_msat"].as_u64()),
        (Some(1_000_000), Some(1_000_000))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowance_in_dollars_is_asked_lowered_spent_and_raised_in_dollars() {
    let h = Arc::new(Harness::start(Setup::default()).await);
    h.ledger.set_display_currency(Some("USD")).await.unwrap();
    let ask = serde_json::json!({"purpose": "fortunes", "max_fiat": "0.10 USD", "max_fiat_per_payment": "0.05 USD"});
    let asked = own(&h, Method::POST, "/_purser/allowances", ask).await.json();
    assert_eq!(asked["asked_max_fiat"], serde_json::json!({"currency": "USD", "micros": 100_000}), "{asked}");
    let id = asked["id"].as_i64().unwrap();
    let path = format!("allowances/{id}/approve");
    // It is answered in its own denomination.
    let in_sats = control::call(&h.control, Method::POST, &path, Some(serde_json::json!({"max_sats": 60}))).await;
    assert!(in_sats.unwrap_err().to_string().contains("is set in USD"));
    let lower = serde_json::json!({"max_fiat": "0.06 USD"});
    let active = control::call(&h.control, Method::POST, &path, Some(lower)).await.unwrap();
    assert_eq!((active["state"].as_str(), active["max_fiat"]["micros"].as_i64()), (Some("active"), Some(60_000)));

    // Two 21-sat calls ($0.021021 each, $0.031 with the fee reserve) fit $0.06, each counted at its rate.
    for _ in 0..2 {
        assert_eq!(h.get("/fortune").await.status, 200);
    }
    let rows = h.rows().await;
    assert!(rows.iter().all(|r| r.allowance_id == Some(id) && r.fiat_value == Some(0.021021)), "{rows:?}");
    assert!(rows[1].decision.contains(&format!("within allowance #{id}")), "{}", rows[1].decision);
    assert_eq!(h.ledger.allowance(id).await.unwrap().used_fiat, Some(usd("0.042042")));

    // The third would pass it: an overage, offered to the person as a raise in dollars.
    let third = {
        let h = h.clone();
        tokio::spawn(async move { h.get("/fortune").await })
    };
    let held = h.held(1).await.remove(0);
    assert_eq!(held["budget"]["allowance"]["raise_to_fiat"], serde_json::json!({"currency": "USD", "micros": 80_000}));
    let raise = serde_json::json!({"max_fiat": "0.08 USD"});
    let raised = control::call(&h.control, Method::POST, &format!("allowances/{id}/raise"), Some(raise)).await.unwrap();
    assert_eq!(raised["max_fiat"]["micros"], 80_000);
    control::call(&h.control, Method::POST, &format!("approvals/{}/approve", held["id"]), None).await.unwrap();
    assert_eq!(third.await.unwrap().status, 200);
    assert_eq!(h.ledger.allowance(id).await.unwrap().used_fiat, Some(usd("0.063063")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rate_sources_ten_percent_apart_raise_a_stored_alert() {
    let (low, high) = (Arc::new(AtomicU64::new(100_000)), Arc::new(AtomicU64::new(110_000)));
    let named = |mut s: Source, name: &str| {
        s.name = name.into();
        s
    };
    let sources = vec![named(price_server(low).await, "low feed"), named(price_server(high).await, "high feed")];
    let h = Harness::start(Setup { rate_sources: Some(sources), ..Setup::default() }).await;
    h.ledger.set_fiat_threshold(&ScopeSpec::default(), dollars("1", "5")).await.unwrap();
    // Neither confirms the other: the higher is used (a limit in dollars then buys fewer sats), and the
    // disagreement is recorded for the person.
    assert_eq!(h.get("/joke").await.status, 200);
    assert!(h.rows().await[0].decision.contains("1 BTC = $110,000.00"), "{:?}", h.rows().await);
    let mut alerts = Vec::new();
    for _ in 0..100 {
        alerts = h.ledger.alerts(10).await.unwrap();
        if alerts.iter().any(|a| a.kind == purser::ledger::alerts::AlertKind::RateDisagreement) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let alert = alerts.iter().find(|a| a.kind == purser::ledger::alerts::AlertKind::RateDisagreement);
    let message = alert.map(|a| a.message.clone()).unwrap_or_else(|| panic!("no rate alert in {alerts:?}"));
    assert!(
        message.contains("100000.00") && message.contains("110000.00") && message.contains("9.1 % apart"),
        "{message}"
    );
}
