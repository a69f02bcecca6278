//! The UI's summaries read running totals and day ranges; these tests hold them to the same figures
//! computed the slow way, straight from every payment, after inserts, updates and deletes.

use std::collections::BTreeMap;

use sqlx::Row;

use super::queries::{GroupBy, PaymentFilter, SortBy};
use super::status::PaymentStatus;
use super::{Ledger, PolicySettings};
use crate::policy::clock::ManualClock;

/// A ledger in Berlin time (with its DST change inside the window) holding `n` varied payments over 40 days.
async fn ledger_with_payments(n: i64) -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    // 2026-11-02T10:00Z: the window reaches back over Berlin's change to winter time on 2026-10-25.
    let now_ms = 1_793_613_600_000;
    let policy =
        PolicySettings { time_zone: crate::policy::period::time_zone("Europe/Berlin").unwrap(), ..Default::default() };
    let ledger = crate::ledger::testing::fresh(dir.path())
        .await
        .unwrap()
        .with_clock(ManualClock::new(now_ms))
        .with_policy(policy);
    for name in ["alpha", "beta", "gamma"] {
        ledger.add_agent(name).await.unwrap();
    }
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
         INSERT INTO payments (request_id, agent_id, method, scheme, host, path, challenge_kind, amount_msat, fee_msat, \
         payment_hash, status, decision, delivered, created_at_ms, updated_at_ms) \
         SELECT 'req_' || i, 1 + i % 3, 'GET', 'https', 'api' || (i % 5) || '.example.com', '/p', \
         CASE WHEN i % 4 = 0 THEN 'mpp' ELSE 'l402' END, \
         CASE WHEN i % 11 = 0 THEN NULL ELSE 1000 * (1 + i % 17) END, CASE WHEN i % 3 = 0 THEN NULL ELSE i % 9 END, \
         '0000000000000000000000000000000000000000000000000000000000' || (100000 + i), \
         CASE i % 6 WHEN 0 THEN 'refused' WHEN 1 THEN 'failed' WHEN 2 THEN 'pending' ELSE 'settled' END, 'test', \
         CASE WHEN i % 7 = 0 THEN NULL ELSE i % 2 END, $1 - i * 3456789, $1 - i * 3456789 FROM n",
    )
    .bind(now_ms)
    .bind(n)
    .execute(ledger.pool())
    .await
    .unwrap();
    (dir, ledger)
}

/// Moves payments between every kind of group, changes amounts, and deletes some.
async fn churn(ledger: &Ledger) {
    for sql in [
        "UPDATE payments SET status = 'settled', fee_msat = 7 WHERE status = 'pending' AND id % 2 = 0",
        "UPDATE payments SET delivered = 0 WHERE status = 'settled' AND id % 5 = 0",
        "UPDATE payments SET amount_msat = NULL WHERE id % 13 = 0",
        "UPDATE payments SET host = 'moved.example.com', agent_id = 3 WHERE id % 17 = 0",
        "DELETE FROM payments WHERE id % 19 = 0",
    ] {
        sqlx::query(sql).execute(ledger.pool()).await.unwrap();
    }
}

async fn direct_apis(ledger: &Ledger) -> Vec<(String, i64, i64, i64, i64, i64)> {
    let rows = sqlx::query(
        "SELECT host, COUNT(*), COUNT(CASE WHEN status = 'settled' THEN 1 END), \
         COUNT(CASE WHEN status = 'settled' AND delivered = 1 THEN 1 END), \
         COUNT(CASE WHEN status = 'settled' AND delivered = 0 THEN 1 END), \
         CAST(COALESCE(SUM(CASE WHEN status = 'settled' THEN COALESCE(amount_msat, 0) + COALESCE(fee_msat, 0) END), 0) AS BIGINT) AS spent \
         FROM payments GROUP BY host ORDER BY spent DESC, host",
    )
    .fetch_all(ledger.pool())
    .await
    .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))).collect()
}

async fn assert_summaries_match(ledger: &Ledger) {
    let apis: Vec<_> = ledger
        .apis()
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.host, a.payments, a.settled, a.delivered, a.paid_not_delivered, a.spent_msat))
        .collect();
    assert_eq!(apis, direct_apis(ledger).await);

    let per_agent: BTreeMap<String, u64> =
        ledger.spend_per_agent().await.unwrap().into_iter().map(|(k, v)| (k, v.0)).collect();
    let direct: Vec<(String, i64)> = sqlx::query_as(
        "SELECT a.name, CAST(COALESCE(SUM(COALESCE(p.amount_msat, 0) + COALESCE(p.fee_msat, 0)), 0) AS BIGINT) FROM agents a \
         LEFT JOIN payments p ON p.agent_id = a.id AND p.status = 'settled' GROUP BY a.name",
    )
    .fetch_all(ledger.pool())
    .await
    .unwrap();
    assert_eq!(per_agent, direct.into_iter().map(|(k, v)| (k, v as u64)).collect());

    let filters = [
        PaymentFilter::default(),
        PaymentFilter { agent: Some("beta".into()), ..Default::default() },
        PaymentFilter {
            host: Some("api3.example.com".into()),
            status: Some(PaymentStatus::Settled),
            ..Default::default()
        },
        PaymentFilter { agent: Some("gamma".into()), status: Some(PaymentStatus::Failed), ..Default::default() },
        PaymentFilter { status: Some(PaymentStatus::Paying), ..Default::default() },
        PaymentFilter { challenge_kind: Some("mpp".into()), ..Default::default() },
        PaymentFilter { agent: Some("nobody".into()), ..Default::default() },
    ];
    for filter in filters {
        let page = ledger.payment_page(&filter, SortBy::Newest, 0, 1000).await.unwrap();
        let all = ledger.export_csv(&filter).await.unwrap();
        // The CSV lists every match (one header line): the count must agree with it.
        assert_eq!(page.total as usize, all.lines().count() - 1, "{filter:?}");
    }
}

#[tokio::test]
async fn summaries_and_counts_agree_with_the_payments_themselves() {
    let (_dir, ledger) = ledger_with_payments(600).await;
    assert_summaries_match(&ledger).await;
    churn(&ledger).await;
    assert_summaries_match(&ledger).await;
    // New payments written the usual way are counted too.
    let (agent, _) = ledger.add_agent("delta").await.unwrap();
    let p = crate::ledger::payments::NewPayment::sample(agent.id, "delta", "api1.example.com", 9, 3);
    ledger.record_refusal(&p, "budget_exceeded", "test").await.unwrap();
    assert_summaries_match(&ledger).await;
}

#[tokio::test]
async fn spend_per_day_sums_each_calendar_day_in_the_configured_zone() {
    let (_dir, ledger) = ledger_with_payments(1000).await;
    churn(&ledger).await;
    for group in [GroupBy::Api, GroupBy::Agent] {
        let got = ledger.spend_per_day(14, group).await.unwrap();
        // The slow way: every settled payment's day in Berlin time, summed in Rust.
        let key = if group == GroupBy::Api { "p.host" } else { "a.name" };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT p.created_at_ms, {key}, COALESCE(p.amount_msat, 0) + COALESCE(p.fee_msat, 0) \
             FROM payments p JOIN agents a ON a.id = p.agent_id WHERE p.status = 'settled'"
        )))
        .fetch_all(ledger.pool())
        .await
        .unwrap();
        let tz = ledger.policy().time_zone.clone();
        let day_of = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap().to_zoned(tz.clone()).date();
        let today = day_of(ledger.now_ms());
        let first = today.checked_sub(jiff::Span::new().days(13)).unwrap();
        let mut want: BTreeMap<(String, String), u64> = BTreeMap::new();
        for r in rows {
            let day = day_of(r.get(0));
            if day >= first && day <= today {
                *want.entry((day.to_string(), r.get(1))).or_default() += r.get::<i64, _>(2) as u64;
            }
        }
        let got: BTreeMap<(String, String), u64> = got.into_iter().map(|d| ((d.day, d.key), d.msat)).collect();
        assert!(got.keys().any(|(day, _)| day.as_str() < "2026-10-25"), "the window crosses the DST change");
        assert_eq!(got, want, "{group:?}");
    }
}

/// Today's total carries its fees apart, and offers passed on unpaid (another chain) are not refusals.
#[tokio::test]
async fn totals_show_fees_apart_and_count_only_real_refusals() {
    let (_dir, ledger) = ledger_with_payments(400).await;
    // The newest refusal (today's) becomes an offer passed on.
    sqlx::query(
        "UPDATE payments SET failure_reason = 'unsupported_scheme' \
         WHERE id = (SELECT id FROM payments WHERE status = 'refused' ORDER BY created_at_ms DESC LIMIT 1)",
    )
    .execute(ledger.pool())
    .await
    .unwrap();
    let totals = ledger.totals().await.unwrap();
    let day_start = crate::policy::Period::Day.window_start_ms(ledger.now_ms(), &ledger.policy().time_zone).unwrap();
    let direct = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'settled' THEN COALESCE(fee_msat, 0) END), 0) AS BIGINT), \
         COUNT(CASE WHEN status = 'refused' AND COALESCE(failure_reason, '') <> 'unsupported_scheme' THEN 1 END), \
         COUNT(CASE WHEN status = 'refused' THEN 1 END) FROM payments WHERE created_at_ms >= $1",
    )
    .bind(day_start)
    .fetch_one(ledger.pool())
    .await
    .unwrap();
    assert_eq!(totals.today_fee_msat as i64, direct.get::<i64, _>(0));
    assert_eq!(totals.refused_count_today as i64, direct.get::<i64, _>(1));
    assert!(totals.today_fee_msat <= totals.today_msat);
    assert!(direct.get::<i64, _>(2) > direct.get::<i64, _>(1), "some of today's refusals were offers passed on");
}
