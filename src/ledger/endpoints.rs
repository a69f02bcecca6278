//! One API's endpoints as the ledger has seen them, for the APIs screen: how often each was paid, what it
//! cost, and its usual price (the mean of its last 20 settled payments, as the price checks read it). Prices
//! differ by endpoint, so a usual price is only ever per endpoint.

use serde::Serialize;
use sqlx::Row;

use super::{Ledger, Result};

/// The most endpoints listed for one API, busiest first.
pub const MAX_ENDPOINTS: i64 = 200;

/// One endpoint of an API.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct EndpointSummary {
    pub path: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub payments: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub settled: i64,
    /// Settled amounts and fees.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub spent_msat: i64,
    /// The mean of its last 20 settled amounts; `None` before its first.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub usual_price_msat: Option<i64>,
}

/// What an endpoint's last settled payments cost, for a quote.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct RecentPrices {
    /// How many settled payments the figures come from (at most the last 20).
    pub payments: i64,
    pub median_msat: u64,
    pub highest_msat: u64,
}

impl Ledger {
    /// The median and highest of `agent_id`'s last 20 settled payments to `host` + `path` (an agent's quote
    /// never tells what other agents paid); `None` before the first.
    pub async fn recent_prices(&self, agent_id: i64, host: &str, path: &str) -> Result<Option<RecentPrices>> {
        let mut amounts: Vec<i64> = sqlx::query_scalar(
            "SELECT amount_msat FROM payments WHERE agent_id = $1 AND host = $2 AND path = $3 \
             AND status = 'settled' AND amount_msat IS NOT NULL ORDER BY id DESC LIMIT 20",
        )
        .bind(agent_id)
        .bind(host)
        .bind(path)
        .fetch_all(self.pool())
        .await?;
        if amounts.is_empty() {
            return Ok(None);
        }
        amounts.sort_unstable();
        let n = amounts.len();
        let median = if n % 2 == 1 { amounts[n / 2] } else { (amounts[n / 2 - 1] + amounts[n / 2]) / 2 };
        Ok(Some(RecentPrices {
            payments: n as i64,
            median_msat: median.max(0) as u64,
            highest_msat: amounts[n - 1].max(0) as u64,
        }))
    }

    /// `host`'s endpoints (paths as recorded), the ones it was paid most on first.
    pub async fn endpoints(&self, host: &str) -> Result<Vec<EndpointSummary>> {
        let rows = sqlx::query(
            "WITH recent AS (SELECT path, amount_msat, \
               ROW_NUMBER() OVER (PARTITION BY path ORDER BY id DESC) AS nth \
               FROM payments WHERE host = $1 AND status = 'settled' AND amount_msat IS NOT NULL), \
             usual AS (SELECT path, CAST(ROUND(AVG(amount_msat)) AS BIGINT) AS usual FROM recent \
               WHERE nth <= 20 GROUP BY path) \
             SELECT p.path, COUNT(*) AS payments, \
               COUNT(CASE WHEN p.status = 'settled' THEN 1 END) AS settled, \
               CAST(COALESCE(SUM(CASE WHEN p.status = 'settled' \
                 THEN COALESCE(p.amount_msat, 0) + COALESCE(p.fee_msat, 0) END), 0) AS BIGINT) AS spent, \
               u.usual \
             FROM payments p LEFT JOIN usual u ON u.path = p.path WHERE p.host = $1 \
             GROUP BY p.path, u.usual ORDER BY spent DESC, payments DESC, p.path LIMIT $2",
        )
        .bind(host)
        .bind(MAX_ENDPOINTS)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| EndpointSummary {
                path: r.get("path"),
                payments: r.get("payments"),
                settled: r.get("settled"),
                spent_msat: r.get("spent"),
                usual_price_msat: r.get("usual"),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each endpoint's usual price is its own: an API priced 1 sat on one path and 21 on another reads as
    /// 1 and 21, never as an 11-sat average; only the last 20 settled payments count.
    #[tokio::test]
    async fn usual_prices_are_per_endpoint_and_recent() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = crate::ledger::testing::fresh(dir.path()).await.unwrap();
        ledger.add_agent("a").await.unwrap();
        let rows: [(&str, &str, i64, &str); 6] = [
            ("api.example", "/cheap", 1_000, "settled"),
            ("api.example", "/cheap", 1_000, "settled"),
            ("api.example", "/dear", 21_000, "settled"),
            ("api.example", "/dear", 99_000, "refused"),
            ("api.example", "/unpaid", 5_000, "failed"),
            ("other.example", "/cheap", 7_000, "settled"),
        ];
        for (i, (host, path, amount, status)) in rows.into_iter().enumerate() {
            insert(&ledger, i as i64, host, path, amount, status).await;
        }
        // Thirty older settled payments at 50 sats on /dear, then twenty at 21: the old ones no longer count.
        for i in 0..50 {
            insert(&ledger, 100 + i, "api.example", "/dear", if i < 30 { 50_000 } else { 21_000 }, "settled").await;
        }
        let found = ledger.endpoints("api.example").await.unwrap();
        let by = |path: &str| found.iter().find(|e| e.path == path).unwrap().clone();
        assert_eq!(found[0].path, "/dear", "the most spent on first");
        assert_eq!((by("/cheap").usual_price_msat, by("/cheap").settled, by("/cheap").payments), (Some(1_000), 2, 2));
        assert_eq!(by("/dear").usual_price_msat, Some(21_000));
        assert_eq!((by("/dear").settled, by("/dear").payments), (51, 52));
        assert_eq!(by("/dear").spent_msat, 21_000 + 30 * 50_000 + 20 * 21_000);
        assert_eq!((by("/unpaid").usual_price_msat, by("/unpaid").spent_msat), (None, 0));
        assert_eq!(found.len(), 3, "another host's endpoints stay out");
        let recent = ledger.recent_prices(1, "api.example", "/dear").await.unwrap().unwrap();
        assert_eq!((recent.payments, recent.median_msat, recent.highest_msat), (20, 21_000, 21_000));
        let cheap = ledger.recent_prices(1, "api.example", "/cheap").await.unwrap().unwrap();
        assert_eq!((cheap.payments, cheap.median_msat), (2, 1_000));
        assert_eq!(ledger.recent_prices(1, "api.example", "/unpaid").await.unwrap(), None);
    }

    async fn insert(ledger: &Ledger, n: i64, host: &str, path: &str, amount_msat: i64, status: &str) {
        sqlx::query(
            "INSERT INTO payments (request_id, agent_id, method, scheme, host, path, challenge_kind, amount_msat, \
             fee_msat, payment_hash, status, decision, created_at_ms, updated_at_ms) \
             VALUES ($1, 1, 'GET', 'https', $2, $3, 'l402', $4, 0, $7, $6, 'test', $5, $5)",
        )
        .bind(format!("req_{n}"))
        .bind(host)
        .bind(path)
        .bind(amount_msat)
        .bind(n)
        .bind(status)
        .bind(format!("{n:064x}"))
        .execute(ledger.pool())
        .await
        .unwrap();
    }
}
