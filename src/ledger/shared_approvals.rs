//! Approvals shared through a team's database: an instance offers the payments it holds for a person, any
//! supervisor's login answers one (the first answer wins), and the holding instance reads the answers meant
//! for it. Only on PostgreSQL; one machine's approvals stay in its own process.

use sqlx::Row;

use super::{Engine, Error, Ledger, Result};

/// An approval as the team's database holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedApproval {
    pub id: i64,
    /// The instance it waits on.
    pub instance: String,
    /// Its id on that instance.
    pub local_id: i64,
    /// The approval as the instance shows it (JSON).
    pub view: serde_json::Value,
    /// `waiting`, `approved`, `denied` or `closed`.
    pub state: String,
    /// The requests the person saw when answering.
    pub seen: Option<i64>,
    /// Answered with the passphrase.
    pub confirmed: bool,
}

fn from_row(r: &super::engine::DbRow) -> SharedApproval {
    SharedApproval {
        id: r.get("id"),
        instance: r.get("instance"),
        local_id: r.get("local_id"),
        view: serde_json::from_str(&r.get::<String, _>("view")).unwrap_or_default(),
        state: r.get("state"),
        seen: r.get("seen"),
        confirmed: super::engine::flag(r, "confirmed"),
    }
}

/// What [`from_row`] reads.
const FIELDS: &str = "id, instance, local_id, view, state, seen, confirmed";

impl Ledger {
    /// Whether approvals are shared: the ledger is a team's database.
    pub fn shares_approvals(&self) -> bool {
        self.engine == Engine::Postgres
    }

    fn team_only(&self) -> Result<()> {
        if self.shares_approvals() {
            Ok(())
        } else {
            Err(Error::Invalid("approvals are shared only when the ledger is a team's PostgreSQL database".into()))
        }
    }

    /// Offers (or updates, as more identical requests join it) this instance's approval `local_id`.
    pub async fn offer_approval(&self, local_id: u64, view: &serde_json::Value, expires_at_ms: i64) -> Result<()> {
        self.team_only()?;
        sqlx::query(
            "INSERT INTO approvals (instance, local_id, view, state, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, 'waiting', $4, $5) \
             ON CONFLICT (instance, local_id) DO UPDATE SET view = excluded.view, expires_at_ms = excluded.expires_at_ms",
        )
        .bind(&*self.instance)
        .bind(i64::try_from(local_id).unwrap_or(i64::MAX))
        .bind(view.to_string())
        .bind(self.now_ms())
        .bind(expires_at_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// This instance's approval `local_id` is over (answered, timed out, or its requests gone).
    pub async fn close_approval(&self, local_id: u64) -> Result<()> {
        self.team_only()?;
        sqlx::query("UPDATE approvals SET state = 'closed' WHERE instance = $1 AND local_id = $2")
            .bind(&*self.instance)
            .bind(i64::try_from(local_id).unwrap_or(i64::MAX))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every approval waiting on any instance, oldest first.
    pub async fn waiting_approvals(&self) -> Result<Vec<SharedApproval>> {
        self.team_only()?;
        let sql = format!("SELECT {FIELDS} FROM approvals WHERE state = 'waiting' AND expires_at_ms > $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(self.now_ms()).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// A supervisor's answer to shared approval `id`, for the `seen` requests they were shown: written
    /// only when it still waits (the first answer wins). `None`: it was answered or closed already.
    pub async fn answer_approval(
        &self,
        id: i64,
        approve: bool,
        seen: u32,
        confirmed: bool,
    ) -> Result<Option<SharedApproval>> {
        self.team_only()?;
        let sql = format!(
            "UPDATE approvals SET state = $2, seen = $3, confirmed = $4, decided_by = current_user, decided_at_ms = $5 \
             WHERE id = $1 AND state = 'waiting' RETURNING {FIELDS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(if approve { "approved" } else { "denied" })
            .bind(i64::from(seen))
            .bind(i64::from(confirmed))
            .bind(self.now_ms())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(from_row))
    }

    /// The answers given elsewhere to this instance's approvals, not yet applied.
    pub async fn answers_for_this_instance(&self) -> Result<Vec<SharedApproval>> {
        self.team_only()?;
        let sql = format!(
            "SELECT {FIELDS} FROM approvals WHERE instance = $1 AND state IN ('approved', 'denied') ORDER BY id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&*self.instance).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// Tells its holder when the shared approvals may have changed.
    pub fn approval_changes(&self) -> ApprovalChanges {
        ApprovalChanges(self.hot.approvals_changed.subscribe())
    }
}

/// One watcher's view of the changes to the shared approvals.
pub struct ApprovalChanges(tokio::sync::watch::Receiver<u64>);

impl ApprovalChanges {
    /// Resolves when something changed since the last call (or after `at_most`, as a fallback should a
    /// notification be lost).
    pub async fn next(&mut self, at_most: std::time::Duration) {
        let _ = tokio::time::timeout(at_most, self.0.changed()).await;
    }
}
