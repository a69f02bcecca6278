//! After a paid retry: whether the API delivered what was paid for, the single-use proof the retry used up,
//! and the endpoint's breaker when payments there stop being delivered.

use sqlx::Row;

use super::alerts::{self, Alert, AlertKind, NewAlert};
use super::{Ledger, Result};
use crate::policy::Judge;

/// A single-use proof a paid retry carried and the API answered: forgotten as the delivery is recorded.
#[derive(Debug, Clone, Copy)]
pub struct UsedProof<'a> {
    pub agent_id: i64,
    /// `scheme://host:port`.
    pub origin: &'a str,
    /// The proof as it was sent.
    pub authorization: &'a str,
}

type AnyQuery<'q> = sqlx::query::Query<'q, super::engine::Db, sqlx::any::AnyArguments>;

/// The delivery's own write; its six parameters come first.
const UPDATE: &str = "UPDATE payments SET upstream_status = $1, delivered = $2, receipt = COALESCE($3, receipt), \
     failure_reason = COALESCE($4, failure_reason), updated_at_ms = $5 WHERE id = $6 RETURNING host, path, agent_id";

/// Forgets a used proof, its three parameters numbered from `$first`.
fn forget_sql(first: usize) -> String {
    format!(
        "DELETE FROM credentials WHERE agent_id = ${} AND origin = ${} AND \"authorization\" = ${}",
        first,
        first + 1,
        first + 2
    )
}

fn bind_forget<'q>(query: AnyQuery<'q>, used: &UsedProof) -> AnyQuery<'q> {
    query.bind(used.agent_id).bind(used.origin.to_string()).bind(used.authorization.to_string())
}

impl Ledger {
    /// Writes the status the upstream answered the paid retry with (2xx and 3xx count as delivered; `None`
    /// means no answer), forgets the single-use proof the retry `used` up, and trips the endpoint's breaker
    /// when it answered 402 again or the last payments in a row were not delivered. Returns the alerts that
    /// raised.
    pub async fn record_delivery(
        &self,
        payment_id: i64,
        upstream_status: Option<u16>,
        receipt: Option<&str>,
        used: Option<&UsedProof<'_>>,
        judge: &dyn Judge,
    ) -> Result<Vec<Alert>> {
        let delivered = upstream_status.is_some_and(|s| (200..400).contains(&s));
        let now = self.now_ms();
        // Why a paid request was not delivered: the API's status, or no answer at all.
        let not_delivered = match upstream_status {
            _ if delivered => None,
            None => Some("no_answer".to_string()),
            Some(402) => Some("asked_again".to_string()),
            Some(status) => Some(format!("upstream_status_{status}")),
        };
        let update = |sql: String| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(upstream_status.map(i64::from))
                .bind(i64::from(delivered))
                .bind(receipt)
                .bind(not_delivered.clone())
                .bind(now)
                .bind(payment_id)
        };
        if delivered {
            // Nothing for the breaker to weigh: one statement (two on SQLite when a proof was used).
            match used {
                None => {
                    update(UPDATE.into()).fetch_optional(self.pool()).await?;
                }
                Some(u) if self.engine().writes_together() => {
                    let sql = format!("WITH used AS ({}) {UPDATE}", forget_sql(7));
                    bind_forget(update(sql), u).fetch_optional(self.pool()).await?;
                }
                Some(u) => {
                    update(UPDATE.into()).fetch_optional(self.pool()).await?;
                    bind_forget(sqlx::query(sqlx::AssertSqlSafe(forget_sql(1))), u).execute(self.pool()).await?;
                }
            }
            if used.is_some() {
                self.hot().invalidate_credentials();
            }
            return Ok(Vec::new());
        }
        let mut tx = self.begin_writing().await?;
        let row = update(UPDATE.into()).fetch_one(&mut *tx).await?;
        if let Some(u) = used {
            bind_forget(sqlx::query(sqlx::AssertSqlSafe(forget_sql(1))), u).execute(&mut *tx).await?;
        }
        let endpoint = (row.get("host"), row.get("path"), row.get("agent_id"));
        let ids = self.weigh_breaker(&mut tx, payment_id, endpoint, upstream_status, judge, now).await?;
        tx.commit().await?;
        if used.is_some() {
            self.hot().invalidate_credentials();
        }
        self.alerts_by_id(&ids).await
    }

    /// Trips the breaker of the endpoint (`host`, `path`) a payment by `agent_id` was not delivered at, when
    /// the policy says so; returns the alerts it recorded.
    async fn weigh_breaker(
        &self,
        tx: &mut super::engine::Conn,
        payment_id: i64,
        (host, path, agent_id): (String, String, i64),
        upstream_status: Option<u16>,
        judge: &dyn Judge,
        now: i64,
    ) -> Result<Vec<i64>> {
        let failures = self.policy().breaker_failures;
        let recent: Vec<Option<bool>> = if upstream_status == Some(402) {
            Vec::new()
        } else {
            sqlx::query_scalar::<_, Option<i64>>(
                "SELECT delivered FROM payments WHERE host = $1 AND path = $2 AND status = 'settled' AND delivered IS NOT NULL \
                 ORDER BY id DESC LIMIT $3",
            )
            .bind(&host)
            .bind(&path)
            .bind(i64::from(failures.max(1)))
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|d| d.map(|d| d != 0))
            .collect()
        };
        let Some(reason) = judge.breaker_trip(upstream_status, &recent, failures) else {
            return Ok(Vec::new());
        };
        sqlx::query(
            "INSERT INTO breakers (host, path, reason, tripped_at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (host, path) DO UPDATE SET reason = excluded.reason, tripped_at_ms = excluded.tripped_at_ms",
        )
        .bind(&host)
        .bind(&path)
        .bind(&reason)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let alert = NewAlert {
            kind: AlertKind::BreakerTripped,
            agent_id: Some(agent_id),
            host: Some(host.clone()),
            budget_id: None,
            message: format!("payments to {host}{path} are stopped: {reason}"),
            dedupe_key: Some(format!("breaker:{host}{path}:{now}")),
        };
        Ok(alerts::record(tx, &alert, Some(payment_id), now).await?.into_iter().collect())
    }
}
