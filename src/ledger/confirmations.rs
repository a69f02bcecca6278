//! What confirmations need stored: the passphrase's Argon2id hash (never the passphrase), the option that
//! every approval needs it, and the count of wrong tries with the lock they lead to. Kept in `settings`, so
//! the proxy, the desktop app and the CLI see one count and one lock.

use sqlx::Row;

use super::alerts::{self, Alert, AlertKind, NewAlert};
use super::{Ledger, Result};

const HASH: &str = "passphrase_hash";
const EVERY: &str = "confirm_every_approval";
const FAILURES: &str = "confirm_failures";
const LOCKED_UNTIL: &str = "confirm_locked_until_ms";

/// A wrong try, counted.
#[derive(Debug, Clone, PartialEq)]
pub struct WrongTry {
    /// Wrong tries left before the lock.
    pub tries_left: u32,
    /// Set when this try locked confirmations, with the alert that says so.
    pub locked_until_ms: Option<i64>,
    pub alert: Option<Alert>,
}

impl Ledger {
    /// The stored passphrase hash (PHC string), if a passphrase is set.
    pub async fn passphrase_hash(&self) -> Result<Option<String>> {
        self.setting(HASH).await
    }

    /// Stores a new passphrase hash, or removes it (`None`); wrong tries start again from zero.
    pub async fn set_passphrase_hash(&self, hash: Option<&str>) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        match hash {
            Some(h) => put(&mut tx, HASH, h).await?,
            None => {
                sqlx::query("DELETE FROM settings WHERE key = $1").bind(HASH).execute(&mut *tx).await?;
            }
        }
        put(&mut tx, FAILURES, "0").await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether every approval needs the passphrase (only in force while a passphrase is set).
    pub async fn confirm_every_approval(&self) -> Result<bool> {
        Ok(self.setting(EVERY).await?.as_deref() == Some("1"))
    }

    pub async fn set_confirm_every_approval(&self, on: bool) -> Result<()> {
        let mut conn = self.pool().acquire().await?;
        put(&mut conn, EVERY, if on { "1" } else { "0" }).await
    }

    /// Until when confirmations are locked, if they are now.
    pub async fn confirmations_locked_until(&self) -> Result<Option<i64>> {
        let until = self.setting(LOCKED_UNTIL).await?.and_then(|v| v.parse::<i64>().ok());
        Ok(until.filter(|u| *u > self.now_ms()))
    }

    /// Counts a wrong try; the `max_tries`-th in a row, and every one after it until a right one, locks
    /// confirmations for `lock_ms` and records an alert.
    pub async fn count_wrong_try(&self, max_tries: u32, lock_ms: i64, what: &str) -> Result<WrongTry> {
        let mut tx = self.begin_writing().await?;
        let failures: u32 = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(FAILURES)
            .fetch_optional(&mut *tx)
            .await?
            .and_then(|r| r.get::<String, _>(0).parse().ok())
            .unwrap_or(0);
        let failures = failures.saturating_add(1);
        let now = self.now_ms();
        if failures < max_tries {
            put(&mut tx, FAILURES, &failures.to_string()).await?;
            tx.commit().await?;
            return Ok(WrongTry { tries_left: max_tries - failures, locked_until_ms: None, alert: None });
        }
        let until = now.saturating_add(lock_ms);
        put(&mut tx, FAILURES, &failures.to_string()).await?;
        put(&mut tx, LOCKED_UNTIL, &until.to_string()).await?;
        let alert = NewAlert {
            kind: AlertKind::ConfirmationsLocked,
            agent_id: None,
            host: None,
            budget_id: None,
            message: format!(
                "{max_tries} wrong tries at {what}: confirmations are locked for {} minutes. If that was not you, \
                 something on this computer is guessing.",
                lock_ms / 60_000
            ),
            dedupe_key: None,
        };
        let id = alerts::record(&mut tx, &alert, None, now).await?;
        tx.commit().await?;
        let alert = self.alerts_by_id(&id.into_iter().collect::<Vec<_>>()).await?.pop();
        Ok(WrongTry { tries_left: 0, locked_until_ms: Some(until), alert })
    }

    /// A right try: the count of wrong ones starts again (a lock in force stays until it ends).
    pub async fn clear_wrong_tries(&self) -> Result<()> {
        let mut conn = self.pool().acquire().await?;
        put(&mut conn, FAILURES, "0").await
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?)
    }
}

async fn put(conn: &mut super::engine::Conn, key: &str, value: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(conn)
    .await?;
    Ok(())
}
