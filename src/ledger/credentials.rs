//! Proofs of payment kept per agent and origin (`scheme://host:port`), sent with that agent's later
//! requests to that origin until the server rejects them.

use sqlx::Row;

use super::{Ledger, Result, now_ms};

impl Ledger {
    pub async fn credential(&self, agent_id: i64, origin: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT authorization FROM credentials WHERE agent_id = ? AND origin = ?")
            .bind(agent_id)
            .bind(origin)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.get("authorization")))
    }

    pub async fn keep_credential(&self, agent_id: i64, origin: &str, authorization: &str, payment_id: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO credentials (agent_id, origin, authorization, payment_id, created_at_ms) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (agent_id, origin) DO UPDATE SET authorization = excluded.authorization, \
             payment_id = excluded.payment_id, created_at_ms = excluded.created_at_ms",
        )
        .bind(agent_id)
        .bind(origin)
        .bind(authorization)
        .bind(payment_id)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Drops a credential the server rejected, unless it was already replaced by a newer one.
    pub async fn drop_credential(&self, agent_id: i64, origin: &str, authorization: &str) -> Result<()> {
        sqlx::query("DELETE FROM credentials WHERE agent_id = ? AND origin = ? AND authorization = ?")
            .bind(agent_id)
            .bind(origin)
            .bind(authorization)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
