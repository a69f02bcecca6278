//! Agents: a name and a key. The key is shown once when the agent is made; only its SHA-256 is stored.

use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Error, Ledger, Result};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Agent {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub name: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created_at_ms: i64,
    /// Its payments are stopped until resumed.
    pub paused: bool,
}

fn agent_from_row(r: &super::engine::DbRow) -> Agent {
    Agent {
        id: r.get("id"),
        name: r.get("name"),
        created_at_ms: r.get("created_at_ms"),
        paused: super::engine::flag(r, "paused"),
    }
}

fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Names go into proxy URLs (`http://NAME:KEY@…`), so they stay URL-safe: 1–64 letters, digits, `-`, `_`, `.`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl Ledger {
    /// Creates an agent and returns it with its key (32 hex characters, URL-safe).
    pub async fn add_agent(&self, name: &str) -> Result<(Agent, String)> {
        if !valid_name(name) {
            return Err(Error::BadAgentName(name.to_string()));
        }
        let mut raw = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut raw);
        let key = hex::encode(raw);
        let now = self.now_ms();
        let res = sqlx::query_scalar::<_, i64>(
            "INSERT INTO agents (name, key_sha256, created_at_ms) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(key_hash(&key))
        .bind(now)
        .fetch_one(self.pool())
        .await;
        self.hot().invalidate();
        match res {
            Ok(id) => Ok((Agent { id, name: name.to_string(), created_at_ms: now, paused: false }, key)),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::AgentExists(name.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives an agent a new key, returning it; the old key stops working at once. `None` if no such agent.
    pub async fn rotate_key(&self, name: &str) -> Result<Option<String>> {
        let mut raw = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut raw);
        let key = hex::encode(raw);
        let done = sqlx::query("UPDATE agents SET key_sha256 = $1 WHERE name = $2")
            .bind(key_hash(&key))
            .bind(name)
            .execute(self.pool())
            .await?;
        self.hot().invalidate();
        Ok((done.rows_affected() == 1).then_some(key))
    }

    pub async fn agents(&self) -> Result<Vec<Agent>> {
        let rows = sqlx::query("SELECT id, name, created_at_ms, paused FROM agents ORDER BY name")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(agent_from_row).collect())
    }

    /// The agent with this name and key, or `None` when either is wrong.
    pub async fn authenticate(&self, name: &str, key: &str) -> Result<Option<Agent>> {
        // A name no agent can have is not looked up, nor remembered as unknown.
        if !valid_name(name) {
            return Ok(None);
        }
        let entry = match self.hot().agent(name) {
            Some(entry) => entry,
            None => {
                let generation = self.hot().generation();
                let row = sqlx::query("SELECT id, name, key_sha256, created_at_ms, paused FROM agents WHERE name = $1")
                    .bind(name)
                    .fetch_optional(self.pool())
                    .await?;
                let entry = row.map(|r| (r.get::<String, _>("key_sha256"), agent_from_row(&r)));
                self.hot().put_agent(name, generation, entry.clone());
                entry
            }
        };
        Ok(entry.and_then(|(stored, agent)| {
            let given = key_hash(key);
            // Both are hex digests of equal length; compare without an early exit.
            let same = stored.len() == given.len()
                && stored.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
            same.then_some(agent)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn add_list_and_authenticate() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = crate::ledger::testing::fresh(dir.path()).await.unwrap();
        let (agent, key) = ledger.add_agent("research").await.unwrap();
        assert_eq!(key.len(), 32);
        assert_eq!(ledger.authenticate("research", &key).await.unwrap(), Some(agent.clone()));
        assert_eq!(ledger.authenticate("research", "wrong").await.unwrap(), None);
        assert_eq!(ledger.authenticate("nobody", &key).await.unwrap(), None);
        assert!(matches!(ledger.add_agent("research").await, Err(Error::AgentExists(_))));
        assert!(matches!(ledger.add_agent("a b").await, Err(Error::BadAgentName(_))));
        assert_eq!(ledger.agents().await.unwrap(), vec![agent]);
    }

    #[tokio::test]
    async fn a_name_no_agent_can_have_is_neither_looked_up_nor_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = crate::ledger::testing::fresh(dir.path()).await.unwrap();
        for name in ["x".repeat(200 * 1024), "a b".into(), String::new()] {
            assert_eq!(ledger.authenticate(&name, "k").await.unwrap(), None);
            assert!(ledger.hot().agent(&name).is_none(), "not kept in memory");
        }
        // A valid unknown name is remembered as unknown (so a stream of requests asks SQLite once).
        assert_eq!(ledger.authenticate("nobody", "k").await.unwrap(), None);
        assert_eq!(ledger.hot().agent("nobody"), Some(None));
    }
}
