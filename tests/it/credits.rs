//! Prepaid credit bought by a top-up offer (the L402 offers form), against the sandbox's `/credit` endpoint
//! over real sockets: bought only where a person allows top-ups at that API (a remembered rule, a task
//! allowance), held at the API until the API asks to be paid again, and capped by a budget on what is held.

use http::Method;
use purser::ledger::allowances::{AllowanceAsk, OpenedBy};
use purser::ledger::policy_store::ScopeSpec;
use purser::policy::Period;
use purser::sandbox::demo_offers::{CREDIT_PACK_CALLS, CREDIT_PACK_SATS};
use purser::units::Msats;

use crate::harness::{Harness, Setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credit_is_bought_where_a_rule_allows_it_and_held_until_the_api_asks_again() {
    let h = Harness::start(Setup::default()).await;
    let host = h.sandbox.demo_addr.to_string();
    // A token kept from another endpoint of this API goes with the agent's requests there: the API then
    // knows the caller by it, so the paid retry must carry it too.
    assert_eq!(h.get("/joke").await.status, 200);
    let paid_before = h.sandbox.wallet.pay_requests();

    // No one allowed top-ups here: the 402 goes to the agent as it came, and the ledger says how to allow them.
    let passed = h.get("/credit").await;
    assert_eq!(passed.status, 402, "{:?}", passed.body);
    assert!(passed.headers.get("purser-refused").is_none(), "the API's own 402");
    let row = h.rows().await.pop().unwrap();
    assert_eq!((row.challenge_kind.as_str(), row.reason.as_deref()), ("l402_offers", Some("unsupported_scheme")));
    let why = row.decision.clone();
    assert!(why.contains("credit-30 (top-up, 30 SAT, by lightning)"), "{why}");
    assert!(why.contains(&format!("purser rule add --agent research --api {host}")), "{why}");
    assert_eq!(h.sandbox.wallet.pay_requests(), paid_before);

    // A remembered rule for this agent on this API allows them: one pack bought, the call answered.
    h.ledger.add_rule("research", &host, None, Msats::from_sats(100), "test").await.unwrap();
    let bought = h.get("/credit").await;
    assert_eq!(bought.status, 200, "{:?}", bought.body);
    let top_up = h.rows().await.pop().unwrap();
    assert_eq!(
        (top_up.challenge_kind.as_str(), top_up.status.as_str(), top_up.amount_msat),
        ("l402_top_up", "settled", Some(CREDIT_PACK_SATS as i64 * 1000))
    );
    let held = h.ledger.held_at_apis().await.unwrap();
    assert_eq!((held.len(), held[0].host.as_str()), (1, host.as_str()));
    assert_eq!((held[0].held_msat, held[0].credits, held[0].open_sessions), (CREDIT_PACK_SATS * 1000, 1, 0));

    // The pack's other calls are answered from the credit: nothing more is paid, the credit stays held.
    for _ in 1..CREDIT_PACK_CALLS {
        assert_eq!(h.get("/credit").await.status, 200);
    }
    assert_eq!(h.sandbox.wallet.pay_requests(), paid_before + 1);
    assert_eq!(h.ledger.held_at_apis().await.unwrap()[0].credits, 1);

    // The API asks again: the first pack is used up, a second bought under the same rule.
    assert_eq!(h.get("/credit").await.status, 200);
    assert_eq!(h.sandbox.wallet.pay_requests(), paid_before + 2);
    let held = h.ledger.held_at_apis().await.unwrap();
    assert_eq!((held[0].held_msat, held[0].credits), (CREDIT_PACK_SATS * 1000, 1), "only the new pack is held");
    let top_ups = h.rows().await.into_iter().filter(|r| r.challenge_kind == "l402_top_up").count();
    assert_eq!(top_ups, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_allowance_allows_top_ups_and_a_held_budget_caps_them() {
    let h = Harness::start(Setup::default()).await;
    let host = h.sandbox.demo_addr.to_string();
    let ask = AllowanceAsk {
        agent: "research".into(),
        purpose: "summaries".into(),
        max: Msats::from_sats(100),
        per_payment_max: None,
        apis: vec![host.clone()],
        duration_ms: 3_600_000,
        plan: None,
        fiat: None,
    };
    let allowance = h.ledger.open_allowance(&ask, OpenedBy::Person { confirmed: false }).await.unwrap();

    // What may be held at this API is less than a pack: the top-up is refused, unpaid.
    let api = ScopeSpec::parse(None, Some(&host));
    let cap =
        h.ledger.add_budget(&api, Period::Held, Msats::from_sats(CREDIT_PACK_SATS - 1), None, None).await.unwrap();
    let refused = h.forward(Method::GET, &h.demo("/credit"), "", &[]).await;
    assert_eq!(
        (refused.status, refused.header("purser-refused")),
        (402, Some("budget_exceeded")),
        "{:?}",
        refused.body
    );
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);

    // With room for it, the allowance pays the pack and counts it.
    h.ledger.remove_budget(cap.id).await.unwrap();
    assert_eq!(h.get("/credit").await.status, 200);
    assert_eq!(h.sandbox.wallet.pay_requests(), 1);
    let row = h.rows().await.pop().unwrap();
    assert_eq!((row.challenge_kind.as_str(), row.allowance_id), ("l402_top_up", Some(allowance.id)));
    let used = h.ledger.allowance(allowance.id).await.unwrap();
    let paid = row.amount_msat.unwrap_or_default() + row.fee_msat.unwrap_or_default();
    assert_eq!((used.used_msat, paid as u64 >= CREDIT_PACK_SATS * 1000), (paid as u64, true), "{used:?}");
}

/// Calls that all find no credit buy one pack between them: the others are told to try again (or are served
/// from it), never a pack each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_buy_one_pack() {
    let h = Harness::start(Setup::default()).await;
    let host = h.sandbox.demo_addr.to_string();
    h.ledger.add_rule("research", &host, None, Msats::from_sats(1_000), "test").await.unwrap();
    let replies = futures_util::future::join_all((0..6).map(|_| h.get("/credit"))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert!(statuses.contains(&200), "{statuses:?}");
    for r in replies.iter().filter(|r| r.status != 200) {
        assert_eq!((r.status, r.json()["reason"].as_str()), (503, Some("payment_in_flight")), "{:?}", r.body);
        assert!(r.header("retry-after").is_some());
    }
    assert_eq!(h.sandbox.wallet.pay_requests(), 1, "{statuses:?}");
    // Those told to wait are served from the pack when they try again.
    for _ in statuses.iter().filter(|s| **s != 200) {
        assert_eq!(h.get("/credit").await.status, 200);
    }
    assert_eq!(h.sandbox.wallet.pay_requests(), 1);
}
