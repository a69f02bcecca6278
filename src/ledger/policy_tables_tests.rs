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

/// Budgets that may cap what is held at an API came with the table made again (SQLite cannot change a CHECK
/// in place): a ledger from before keeps every budget with its id, and its alerts keep naming them.
#[tokio::test]
async fn a_ledger_from_before_held_budgets_keeps_its_budgets_and_their_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = super::sqlite_pool(1, "NORMAL").connect(&url).await.unwrap();
    let all = sqlx::migrate!("./migrations");
    let before: Vec<_> = all.migrations.iter().filter(|m| m.version < 20261208000000).cloned().collect();
    assert!(before.len() < all.migrations.len(), "the change is the newest migration or an earlier one");
    let older = sqlx::migrate::Migrator { migrations: before.into(), ..sqlx::migrate::Migrator::DEFAULT };
    older.run(&pool).await.unwrap();
    for sql in [
        "INSERT INTO agents (name, key_sha256, created_at_ms) VALUES ('alpha', 'h', 0)",
        "INSERT INTO budgets (id, agent_id, host, period, limit_msat, created_at_ms) VALUES (7, 1, 'a.example', 'day', 5000, 0)",
        "INSERT INTO alerts (kind, budget_id, message, created_at_ms) VALUES ('budget_crossing', 7, 'crossed', 0)",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let ledger = Ledger::open(&path).await.unwrap();
    let budgets = ledger.budgets().await.unwrap();
    let kept: Vec<_> = budgets.iter().map(|b| (b.id, b.limit.0)).collect();
    assert_eq!((kept.len(), kept.last()), (2, Some(&(7, 5000))), "the default budget and this one: {kept:?}");
    let named: Option<i64> = sqlx::query_scalar("SELECT budget_id FROM alerts").fetch_one(ledger.pool()).await.unwrap();
    assert_eq!(named, Some(7), "the alert still names its budget");
    let api = ScopeSpec::parse(None, Some("a.example"));
    let held = ledger.add_budget(&api, crate::policy::Period::Held, Msats::from_sats(9), None, None).await.unwrap();
    assert_eq!(held.period, crate::policy::Period::Held);
    let with_path = ScopeSpec::parse(None, Some("a.example/v1"));
    let refused = ledger.add_budget(&with_path, crate::policy::Period::Held, Msats::from_sats(9), None, None).await;
    assert!(refused.unwrap_err().to_string().contains("the API as a whole"));
    // Deleting a budget still leaves its alerts, unnamed: the foreign key came back with the table.
    ledger.remove_budget(7).await.unwrap();
    let named: Option<i64> = sqlx::query_scalar("SELECT budget_id FROM alerts").fetch_one(ledger.pool()).await.unwrap();
    assert_eq!(named, None);
}
