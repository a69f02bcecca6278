//! The rows recovery works on: payments whose outcome was not written because the process stopped (or the
//! wallet did not answer) — `pending` rows, split by whether the wallet was asked (the `paying` step), and
//! `unknown` rows. See [`crate::recovery`] for how each is resolved.

use sqlx::Row;

use super::{Ledger, Result};
use crate::units::PaymentHash;

/// A payment whose outcome is open.
#[derive(Debug, Clone)]
pub struct Unresolved {
    pub id: i64,
    pub agent_id: i64,
    pub scheme: String,
    /// `host[:port]`, lowercase.
    pub host: String,
    pub path: String,
    pub payment_hash: Option<PaymentHash>,
    pub invoice: Option<String>,
    /// `pending` or `unknown`.
    pub status: super::status::PaymentStatus,
    /// The wallet was asked to pay it (or, for `unknown`, may have been).
    pub wallet_asked: bool,
    pub proof_prefix: Option<String>,
}

impl Unresolved {
    /// `scheme://host:port`, as kept credentials name origins.
    pub fn origin(&self) -> String {
        let url = format!("{}://{}", self.scheme, self.host);
        crate::http::target::origin_of(&url).unwrap_or(url)
    }
}

impl Ledger {
    /// Records the `paying` step: the wallet is about to be asked to pay reserved row `payment_id`. `false`
    /// when the row is no longer reserved (then the wallet must not be asked).
    ///
    /// This commit is synced to disk before it returns (the ledger's `durable` connection): the row and the
    /// reservation before it survive a power cut, not only a killed process, before any sat can move.
    pub async fn mark_paying(&self, payment_id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE payments SET wallet_asked_at_ms = $1, updated_at_ms = $2 WHERE id = $3 AND status = 'pending' \
             AND wallet_asked_at_ms IS NULL",
        )
        .bind(self.now_ms())
        .bind(self.now_ms())
        .bind(payment_id)
        .execute(self.durable())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Paid rows created by `created_by_ms` whose retry never got an answer recorded (the process stopped
    /// between paying and delivering): recorded as not delivered (`interrupted`), so the API's "paid, not
    /// delivered" count shows them. Returns how many.
    pub async fn close_interrupted(&self, created_by_ms: i64) -> Result<u64> {
        let own = self.own_rows_only();
        let done = sqlx::query(
            "UPDATE payments SET delivered = 0, failure_reason = 'interrupted', updated_at_ms = $1 \
             WHERE status = 'settled' AND delivered IS NULL AND created_at_ms <= $2 AND ($3 IS NULL OR instance = $3)",
        )
        .bind(self.now_ms())
        .bind(created_by_ms)
        .bind(own)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Records paid row `payment_id` as not delivered (`interrupted`): its request ended before the payment's
    /// outcome was known.
    pub async fn mark_interrupted(&self, payment_id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE payments SET delivered = 0, failure_reason = 'interrupted', updated_at_ms = $1 \
             WHERE id = $2 AND status = 'settled' AND delivered IS NULL",
        )
        .bind(self.now_ms())
        .bind(payment_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The instance whose rows alone recovery may touch: on a team's server this one's (another's may still be
    /// paying or delivering); in a file `None`, every row (a renamed machine still resolves what it left).
    fn own_rows_only(&self) -> Option<String> {
        (self.engine == super::Engine::Postgres).then(|| self.instance.to_string())
    }

    /// Open payments last touched at or before `touched_by_ms`, oldest first; on a team's server only this
    /// instance's, each resolving its own with its own wallet.
    pub async fn unresolved(&self, touched_by_ms: i64) -> Result<Vec<Unresolved>> {
        let own = self.own_rows_only();
        let rows = sqlx::query(
            "SELECT id, agent_id, scheme, host, path, payment_hash, invoice, status, wallet_asked_at_ms, proof_prefix \
             FROM payments WHERE status IN ('pending', 'unknown') AND updated_at_ms <= $1 \
             AND ($2 IS NULL OR instance = $2) ORDER BY id",
        )
        .bind(touched_by_ms)
        .bind(own)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let status: super::status::PaymentStatus = r.get("status");
                Unresolved {
                    id: r.get("id"),
                    agent_id: r.get("agent_id"),
                    scheme: r.get("scheme"),
                    host: r.get("host"),
                    path: r.get("path"),
                    payment_hash: r.get::<Option<String>, _>("payment_hash").as_deref().and_then(PaymentHash::from_hex),
                    invoice: r.get("invoice"),
                    wallet_asked: status == super::status::PaymentStatus::Unknown
                        || r.get::<Option<i64>, _>("wallet_asked_at_ms").is_some(),
                    status,
                    proof_prefix: r.get("proof_prefix"),
                }
            })
            .collect())
    }
}
