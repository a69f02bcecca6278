//! Proofs of payment kept per agent and origin (`scheme://host:port`) and sent with that agent's later
//! requests to that origin. Each proof remembers the path it was paid for: a request uses the proof earned
//! on its own path when there is one, else the newest for the origin (servers like Aperture price a whole
//! service with one token). A proof the server rejects on its own path is dropped.

use sqlx::Row;

use super::{Ledger, Result};

/// A kept proof and where it was earned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub authorization: String,
    pub path: String,
}

impl Ledger {
    /// The proof to send with a request for `path` on `origin`.
    pub async fn credential(&self, agent_id: i64, origin: &str, path: &str) -> Result<Option<Credential>> {
        let row = sqlx::query(
            "SELECT authorization, path FROM credentials WHERE agent_id = ? AND origin = ? \
             ORDER BY (path = ?) DESC, created_at_ms DESC LIMIT 1",
        )
        .bind(agent_id)
        .bind(origin)
        .bind(path)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| Credential { authorization: r.get("authorization"), path: r.get("path") }))
    }

    pub async fn keep_credential(
        &self,
        agent_id: i64,
        origin: &str,
        path: &str,
        authorization: &str,
        payment_id: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO credentials (agent_id, origin, path, authorization, payment_id, created_at_ms) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (agent_id, origin, path) DO UPDATE SET \
             authorization = excluded.authorization, payment_id = excluded.payment_id, created_at_ms = excluded.created_at_ms",
        )
        .bind(agent_id)
        .bind(origin)
        .bind(path)
        .bind(authorization)
        .bind(payment_id)
        .bind(self.now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Drops a proof the server rejected.
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
