//! The payment path keeps budgets, thresholds and rules in memory; these tests change them the ways a
//! person can — through this ledger, and from another process — and check that the next payment obeys.

use crate::policy::{Approved, Rules};

use super::Ledger;
use super::payments::{NewPayment, Reservation};
use super::policy_store::ScopeSpec;
use crate::units::Msats;

fn payment(agent_id: i64, n: u8) -> NewPayment {
    NewPayment::sample(agent_id, "alpha", "api.example.com", n, 5)
}

fn reserved(r: &Reservation) -> bool {
    matches!(r, Reservation::Reserved { .. })
}

#[tokio::test]
async fn a_policy_change_applies_to_the_very_next_payment() {
    let dir = tempfile::tempdir().unwrap();
    let location = crate::ledger::testing::fresh_location(dir.path()).await;
    let ledger = Ledger::open_at(&location).await.unwrap();
    let (agent, _) = ledger.add_agent("alpha").await.unwrap();
    let any = ScopeSpec::default();
    ledger.set_threshold(&any, Msats::from_sats(10), Msats::from_sats(1000), None).await.unwrap();
    assert!(reserved(&ledger.reserve(&payment(agent.id, 1), Approved::Not, &Rules).await.unwrap()));
    // Read from memory this time: the same answer.
    assert!(reserved(&ledger.reserve(&payment(agent.id, 2), Approved::Not, &Rules).await.unwrap()));

    // Another process (the CLI) lowers the auto-approve limit: the next payment goes to a person.
    let other = Ledger::open_at(&location).await.unwrap();
    let other = other.pool();
    sqlx::query("UPDATE thresholds SET auto_max_msat = 0").execute(other).await.unwrap();
    let asked = ledger.reserve(&payment(agent.id, 3), Approved::Not, &Rules).await.unwrap();
    assert!(matches!(asked, Reservation::NeedsApproval { .. }), "{asked:?}");

    // This ledger adds a budget with no room left: refused at once.
    sqlx::query("UPDATE thresholds SET auto_max_msat = 100000").execute(other).await.unwrap();
    assert!(reserved(&ledger.reserve(&payment(agent.id, 4), Approved::Not, &Rules).await.unwrap()));
    let daily = crate::policy::Period::Day;
    ledger.add_budget(&any, daily, Msats::from_sats(12), None, None).await.unwrap();
    let refused = ledger.reserve(&payment(agent.id, 5), Approved::Not, &Rules).await.unwrap();
    assert!(matches!(refused, Reservation::Refused { reason: "budget_exceeded", .. }), "{refused:?}");

    // The other process removes it again: paid.
    sqlx::query("DELETE FROM budgets").execute(other).await.unwrap();
    assert!(reserved(&ledger.reserve(&payment(agent.id, 6), Approved::Not, &Rules).await.unwrap()));
}
