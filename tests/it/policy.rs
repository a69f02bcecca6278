//! The spending policy over real sockets: thresholds and a person's approval through the control endpoint,
//! remembered rules, budgets (the tightest wins; calendar days in the user's zone by a controlled clock),
//! alerts once per crossing, pause, the circuit breaker, and hundreds of concurrent 402s on one budget.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use purser::ledger::alerts::AlertKind;
use purser::ledger::policy_store::ScopeSpec;
use purser::policy::{ManualClock, Period};
use purser::proxy::control;
use purser::sandbox::demo_api::DemoOptions;
use serde_json::{Value, json};

use crate::harness::{Harness, Reply, Setup};
use crate::refusals::{agent, assert_refused};

const JSON: [(&str, &str); 1] = [("content-type", "application/json")];

/// A paid POST that never reuses a proof: every call pays its own invoice (21 sats).
async fn summarize(h: &Harness, n: usize) -> Reply {
    h.forward(Method::POST, &h.demo("/summarize"), &format!(r#"{{"text":"call {n}"}}"#), &JSON).await
}

async fn answer(h: &Harness, id: &Value, action: &str, body: Option<Value>) -> Value {
    control::call(&h.control, Method::POST, &format!("approvals/{id}/{action}"), body).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_route_to_pay_ask_and_a_person_decides() {
    let h = Arc::new(Harness::start(Setup { auto_sats: 10, ask_sats: 300, ..Setup::default() }).await);
    // Within the auto-approve limit: paid at once.
    assert_eq!(h.get("/joke").await.status, 200);

    // Above it: held until a person approves.
    let agent_call = {
        let h = h.clone();
        tokio::spawn(async move { h.get("/fortune").await })
    };
    let waiting = h.held(1).await;
    assert_eq!(waiting[0]["amount_msat"], 21_000);
    assert_eq!(waiting[0]["agent"], "research");
    assert!(waiting[0]["explanation"].as_str().unwrap().contains("auto-approve limit of 10 sats"));
    assert!(waiting[0]["budget"]["remaining_msat"].as_u64().is_some(), "{}", waiting[0]);
    assert!(!agent_call.is_finished(), "the agent's request stays open while it waits");
    answer(&h, &waiting[0]["id"], "approve", None).await;
    assert_eq!(agent_call.await.unwrap().status, 200);
    let rows = h.rows().await;
    assert_eq!(rows[1].status, "settled");
    assert!(rows[1].decision.contains("approved by a person"), "{}", rows[1].decision);

    // Denied: a refusal that says so, and a ledger row.
    let agent_call = {
        let h = h.clone();
        tokio::spawn(async move { h.get("/premium").await })
    };
    let waiting = h.held(1).await;
    answer(&h, &waiting[0]["id"], "deny", None).await;
    assert_refused(&agent_call.await.unwrap(), "denied_by_user");
    let rows = h.rows().await;
    assert_eq!(rows[2].reason.as_deref(), Some("denied_by_user"));
    assert_eq!(rows[2].amount_msat, Some(250_000));
    assert_eq!(h.sandbox.wallet.pay_requests(), 2);

    // The control endpoint wants its token.
    let bad = crate::harness::collect(
        crate::harness::send(h.proxy_addr, Method::GET, "/_purser/approvals", "", &[("authorization", "Bearer nope")])
            .await,
    )
    .await;
    assert_eq!(bad.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_in_time_means_deny() {
    let h = Harness::start(Setup { auto_sats: 10, approval_timeout: Duration::from_secs(1), ..Setup::default() }).await;
    let reply = h.get("/fortune").await;
    assert_refused(&reply, "approval_timeout");
    assert_eq!(h.rows().await[0].reason.as_deref(), Some("approval_timeout"));
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_joined_requests_are_one_approval_released_only_as_shown() {
    let h = Arc::new(Harness::start(Setup { auto_sats: 10, ..Setup::default() }).await);
    let call = |h: &Arc<Harness>| {
        let h = h.clone();
        tokio::spawn(async move { h.get("/fortune").await })
    };
    let shown_calls: Vec<_> = (0..4).map(|_| call(&h)).collect();
    let waiting = h.held(4).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let shown = &waiting[0];
    assert_eq!((shown["count"].as_u64(), shown["total_msat"].as_u64()), (Some(4), Some(84_000)), "{shown}");
    // A fifth arrives after the person looked.
    let late = call(&h);
    h.held(5).await;
    let answered = answer(&h, &shown["id"], "approve", Some(json!({"count": 4}))).await;
    assert_eq!(answered["approval"]["count"], 4, "{answered}");
    for c in shown_calls {
        assert_eq!(c.await.unwrap().status, 200);
    }
    assert_eq!(h.sandbox.wallet.pay_requests(), 4);
    // The fifth waits on a new approval of its own, and a decision on that one answers it.
    let again = h.held(1).await;
    assert_eq!(again.len(), 1);
    assert_ne!(again[0]["id"], shown["id"]);
    assert_eq!(again[0]["count"], 1);
    assert!(!late.is_finished());
    answer(&h, &again[0]["id"], "deny", Some(json!({"count": 1}))).await;
    assert_refused(&late.await.unwrap(), "denied_by_user");
    assert_eq!(h.sandbox.wallet.pay_requests(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_rule_applies_to_the_next_request() {
    let h = Arc::new(Harness::start(Setup { auto_sats: 10, ..Setup::default() }).await);
    let first = {
        let h = h.clone();
        tokio::spawn(async move { summarize(&h, 1).await })
    };
    let waiting = h.held(1).await;
    let answered = answer(&h, &waiting[0]["id"], "approve", Some(json!({"remember_max_sats_per_day": 50}))).await;
    assert_eq!(answered["rule"]["max_per_day"], 50_000);
    assert_eq!(first.await.unwrap().status, 200);
    let rules = h.ledger.rules().await.unwrap();
    assert_eq!(rules.len(), 1);
    assert!(rules[0].source.contains("approval #"));

    // 21 more today fits the rule's 50: no one is asked.
    let second = summarize(&h, 2).await;
    assert_eq!(second.status, 200);
    assert!(h.rows().await[1].decision.contains(&format!("remembered rule #{}", rules[0].id)));
    // 63 would not: asked again.
    let third = {
        let h = h.clone();
        tokio::spawn(async move { summarize(&h, 3).await })
    };
    let waiting = h.held(1).await;
    answer(&h, &waiting[0]["id"], "deny", None).await;
    assert_refused(&third.await.unwrap(), "denied_by_user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tightest_of_several_budgets_decides() {
    let api = ScopeSpec { host: Some("127.0.0.1".into()), ..ScopeSpec::default() };
    let budgets = vec![
        (ScopeSpec::default(), Period::Day, 1_000),
        (agent("research"), Period::Day, 60),
        (api, Period::Lifetime, 100),
    ];
    let h = Harness::start(Setup { budgets, ..Setup::default() }).await;
    assert_eq!(summarize(&h, 1).await.status, 200);
    assert_eq!(summarize(&h, 2).await.status, 200);
    let refused = summarize(&h, 3).await;
    assert_refused(&refused, "budget_exceeded");
    let problem = refused.json();
    assert_eq!(problem["budget"]["scope"], "agent research");
    assert_eq!(problem["budget"]["period"], "daily");
    assert_eq!(problem["budget"]["limit_msat"], 60_000);
    assert_eq!(problem["budget"]["used_msat"], 42_042);
    assert_eq!(problem["budget"]["remaining_msat"], 17_958);
    assert!(problem["detail"].as_str().unwrap().contains("17.958 sats left"), "{problem}");
    let row = &h.rows().await[2];
    assert_eq!(row.reason.as_deref(), Some("budget_exceeded"));
    assert!(row.decision.contains("daily budget #"), "{}", row.decision);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_budget_starts_again_at_the_users_midnight() {
    // 22:40 UTC on 14 March 2026 is 23:40 in Berlin.
    let clock = ManualClock::new("2026-03-14T22:40:00Z".parse::<jiff::Timestamp>().unwrap().as_millisecond());
    let setup = Setup {
        clock: Some(clock.clone()),
        time_zone: Some("Europe/Berlin"),
        budgets: vec![(agent("research"), Period::Day, 40)],
        ..Setup::default()
    };
    let h = Harness::start(setup).await;
    assert_eq!(summarize(&h, 1).await.status, 200);
    assert_refused(&summarize(&h, 2).await, "budget_exceeded");
    // 22:59 UTC: still the 14th in Berlin.
    clock.advance_ms(19 * 60_000);
    assert_refused(&summarize(&h, 3).await, "budget_exceeded");
    // 23:01 UTC: the 15th has begun in Berlin (in UTC it is still the 14th).
    clock.advance_ms(2 * 60_000);
    assert_eq!(summarize(&h, 4).await.status, 200);
    let rows = h.rows().await;
    assert_eq!(rows.iter().filter(|r| r.status == "settled").count(), 2);
    assert_eq!(rows[3].created_at, "2026-03-14T23:01:00.000Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_alerts_fire_once_per_crossing() {
    let h = Harness::start(Setup { budgets: vec![(agent("research"), Period::Day, 100)], ..Setup::default() }).await;
    let mut events = h.events.subscribe();
    for n in 0..7 {
        summarize(&h, n).await;
    }
    let settled = h.rows().await.iter().filter(|r| r.status == "settled").count();
    assert_eq!(settled, 4);
    let alerts = h.ledger.alerts(100).await.unwrap();
    let crossings: Vec<&str> =
        alerts.iter().filter(|a| a.kind == AlertKind::BudgetCrossing).map(|a| a.message.as_str()).collect();
    assert_eq!(crossings.len(), 3, "{crossings:?}");
    for level in ["50 %", "80 %", "100 %"] {
        assert_eq!(crossings.iter().filter(|m| m.contains(level)).count(), 1, "{level}: {crossings:?}");
    }
    assert_eq!(alerts.iter().filter(|a| a.kind == AlertKind::FirstPaymentToApi).count(), 1);
    let mut raised = 0;
    while let Ok(e) = events.try_recv() {
        if e.name() == "alert:raised" {
            raised += 1;
        }
    }
    assert_eq!(raised, 4, "each alert is also an event, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_payments_until_resumed() {
    let h = Harness::start(Setup::default()).await;
    h.ledger.set_paused_all(true).await.unwrap();
    assert_refused(&summarize(&h, 1).await, "payments_paused");
    h.ledger.set_paused_all(false).await.unwrap();
    h.ledger.set_agent_paused("research", true).await.unwrap();
    let reply = summarize(&h, 2).await;
    assert_refused(&reply, "payments_paused");
    assert!(reply.json()["detail"].as_str().unwrap().contains("agent research is paused"));
    h.ledger.set_agent_paused("research", false).await.unwrap();
    assert_eq!(summarize(&h, 3).await.status, 200);
    assert_eq!(h.sandbox.wallet.pay_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_trips_when_a_paid_endpoint_asks_again() {
    let demo = DemoOptions { reject_proofs: true, ..DemoOptions::default() };
    let h = Harness::start(Setup { demo, ..Setup::default() }).await;
    let first = h.get("/joke").await;
    assert_eq!(first.status, 402, "the upstream's second 402 reaches the agent");
    let rows = h.rows().await;
    assert_eq!(rows[0].status, "settled");
    assert_eq!(rows[0].upstream_status, Some(402));
    assert_eq!(rows[0].delivered, Some(false));
    let second = h.get("/joke").await;
    assert_refused(&second, "loop_detected");
    assert_eq!(h.sandbox.wallet.pay_requests(), 1, "nothing more is paid into the loop");
    assert!(h.ledger.alerts(10).await.unwrap().iter().any(|a| a.kind == AlertKind::BreakerTripped));
    assert_eq!(h.ledger.reset_breakers(None, None).await.unwrap(), 1);
    assert_eq!(h.get("/joke").await.status, 402);
    assert_eq!(h.sandbox.wallet.pay_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_402s_never_overspend() {
    let h = Arc::new(
        Harness::start(Setup { budgets: vec![(agent("research"), Period::Lifetime, 93)], ..Setup::default() }).await,
    );
    let calls: Vec<_> = (0..500)
        .map(|n| {
            let h = h.clone();
            tokio::spawn(async move { summarize(&h, n).await })
        })
        .collect();
    let mut paid = 0;
    for c in calls {
        let reply = c.await.unwrap();
        if reply.status == 200 {
            paid += 1;
        } else {
            assert_refused(&reply, "budget_exceeded");
        }
    }
    let rows = h.rows().await;
    assert_eq!(rows.len(), 500, "every request has its row");
    let settled: Vec<_> = rows.iter().filter(|r| r.status == "settled").collect();
    assert_eq!(settled.len(), paid);
    let spent: i64 = settled.iter().map(|r| r.amount_msat.unwrap() + r.fee_msat.unwrap()).sum();
    assert!(spent <= 93_000, "spent {spent} msat of a 93 sat budget");
    // 21 sats + 10 sats of fee reserve while pending: three fit in 93, and a fourth would not, whether the
    // three are still pending (124) or settled (21.021 each: 94.063).
    assert_eq!(paid, 3);
    assert_eq!(h.sandbox.wallet.pay_requests(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_budgets_with_a_path_prefix_cover_whole_segments() {
    // The demo API's port is not known before it starts: scope by host, with a path prefix.
    let on = |prefix: &str, agent: Option<&str>| ScopeSpec {
        agent: agent.map(str::to_string),
        host: Some("127.0.0.1".into()),
        path_prefix: Some(prefix.into()),
    };
    let budgets =
        vec![(on("/summarize", None), Period::Lifetime, 40), (on("/sum", Some("research")), Period::Lifetime, 1)];
    let h = Harness::start(Setup { budgets, ..Setup::default() }).await;
    // `/sum` is not a segment of `/summarize`: its 1 sat budget does not apply.
    assert_eq!(summarize(&h, 1).await.status, 200);
    let refused = summarize(&h, 2).await;
    assert_refused(&refused, "budget_exceeded");
    assert!(refused.json()["budget"]["scope"].as_str().unwrap().ends_with("/summarize"), "{}", refused.json());
}

/// Scopes match what was sent, however the path is written: `/v1//x`, `/v1/%78` and `/v1/a/../x` are all
/// `/v1/x` to a budget on `/v1/x`, and the ledger records them so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_scope_catches_every_spelling_of_its_path() {
    let h = Harness::start(Setup::default()).await;
    let invoice = h.sandbox.mint.mint(purser::sandbox::mint::InvoiceSpec::sats(5, "scoped")).bolt11;
    let response: &'static str = Box::leak(
        format!(
            "HTTP/1.1 402 Payment Required\r\nwww-authenticate: L402 macaroon=\"AgE\", invoice=\"{invoice}\"\r\n\
             content-length: 0\r\n\r\n"
        )
        .into_boxed_str(),
    );
    let (addr, _) = crate::harness::canned_server(response).await;
    let scope = ScopeSpec { host: Some("127.0.0.1".into()), path_prefix: Some("/v1/x".into()), ..ScopeSpec::default() };
    h.ledger.add_budget(&scope, Period::Lifetime, purser::units::Msats::from_sats(1), None, None).await.unwrap();
    for spelling in ["/v1//x", "/v1/%78", "/v1/a/../x", "/v1/./x/"] {
        let reply = h.forward(Method::GET, &format!("http://{addr}{spelling}"), "", &[]).await;
        assert_refused(&reply, "budget_exceeded");
    }
    let paths: Vec<String> = h.rows().await.iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/v1/x", "/v1/x", "/v1/x", "/v1/x/"]);
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
}
