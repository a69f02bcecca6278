//! MPP Lightning sessions as the ledger keeps them: opened once their deposit is paid, each call drawn from
//! the deposit (reserved before the call is sent, so concurrent calls never draw more than it holds), closed
//! with what the API says it returned and what reached the wallet. What is still at an API — the part of
//! an open deposit not drawn, or a refund the API says it sent and the wallet has not seen — is "held at
//! APIs".

use serde::Serialize;
use sqlx::Row;

use super::{Ledger, Result};

/// A session to record once its deposit is paid.
#[derive(Clone)]
pub struct NewSession<'a> {
    pub agent_id: i64,
    /// `scheme://host:port`, where its calls go.
    pub origin: &'a str,
    pub host: &'a str,
    /// The path it was opened on.
    pub path: &'a str,
    /// The deposit's payment hash (hex): the session's id at its API.
    pub session_id: &'a str,
    /// The deposit's payment row.
    pub payment_id: i64,
    pub deposit_msat: u64,
    pub unit_msat: u64,
    pub preimage_hex: &'a str,
    /// The payment hash of the invoice the API returns the rest to.
    pub return_hash: &'a str,
}

/// One call's price reserved from an open session.
#[derive(Clone, PartialEq, Eq)]
pub struct Draw {
    pub id: i64,
    pub preimage_hex: String,
    pub drawn_msat: u64,
    /// What the session holds after this draw.
    pub left_msat: u64,
}

/// An open session that cannot pay for another call.
#[derive(Clone, PartialEq, Eq)]
pub struct Dry {
    pub id: i64,
    pub preimage_hex: String,
    /// What it still holds.
    pub left_msat: u64,
}

// The session's preimage proves it to its API: never in a debug print.
impl std::fmt::Debug for NewSession<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("agent_id", &self.agent_id)
            .field("origin", &self.origin)
            .field("path", &self.path)
            .field("session_id", &self.session_id)
            .field("payment_id", &self.payment_id)
            .field("deposit_msat", &self.deposit_msat)
            .field("unit_msat", &self.unit_msat)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Draw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Draw")
            .field("id", &self.id)
            .field("drawn_msat", &self.drawn_msat)
            .field("left_msat", &self.left_msat)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Dry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dry").field("id", &self.id).field("left_msat", &self.left_msat).finish_non_exhaustive()
    }
}

/// A closed session whose refund is awaited or was not seen.
#[derive(Debug, Clone)]
pub struct UnsettledRefund {
    pub id: i64,
    pub agent_id: i64,
    pub host: String,
    pub return_hash: String,
    pub claimed_msat: u64,
    /// Still awaited (else recorded missing).
    pub waiting: bool,
    /// Still open: a refund found means the API closed it on its own (idle).
    pub open: bool,
    pub closed_at_ms: i64,
}

/// An open session: whose, where, and what it holds.
#[derive(Debug, Clone)]
pub struct OpenPlace {
    pub agent_id: i64,
    pub agent: String,
    pub host: String,
    pub origin: String,
    pub path: String,
    pub dry: Dry,
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum SessionState {
    /// Calls are drawn from it.
    Open,
    /// Its close was sent; no call draws from it.
    Closing,
    /// Closed by Purser; the API said what it returned.
    Closed,
    /// The API stopped honouring it without a close.
    Ended,
}

/// Whether what an API owed back reached the wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum RefundState {
    /// Nothing was owed (or the session is open).
    None,
    /// The API says it sent a refund; the wallet has not seen it yet.
    Waiting,
    Received,
    /// Owed and never received: alerted.
    Missing,
}

super::engine::text_column!(SessionState);
super::engine::text_column!(RefundState);

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Open => "open",
            SessionState::Closing => "closing",
            SessionState::Closed => "closed",
            SessionState::Ended => "ended",
        }
    }
}

impl RefundState {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::None => "none",
            RefundState::Waiting => "waiting",
            RefundState::Received => "received",
            RefundState::Missing => "missing",
        }
    }
}

/// A session as `purser ledger` and the UI show it; its secret never leaves the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SessionInfo {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub agent: String,
    pub host: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub payment_id: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub deposit_msat: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unit_msat: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub drawn_msat: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub draws: u64,
    /// What is still at the API.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub held_msat: u64,
    pub state: SessionState,
    /// What the API said it returned on close.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub refund_claimed_msat: Option<u64>,
    /// What reached the wallet.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub refund_msat: Option<u64>,
    pub refund_state: RefundState,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub opened_at_ms: i64,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub closed_at_ms: Option<i64>,
}

/// The SQL for what a session still holds at its API.
pub(super) const HELD: &str = "CASE WHEN state IN ('open', 'closing') THEN deposit_msat - drawn_msat \
                    WHEN refund_state = 'waiting' THEN COALESCE(refund_claimed_msat, 0) ELSE 0 END";

pub(super) fn msat(r: &sqlx::any::AnyRow, column: &str) -> u64 {
    u64::try_from(r.get::<i64, _>(column)).unwrap_or(0)
}

fn opt_msat(r: &sqlx::any::AnyRow, column: &str) -> Option<u64> {
    r.get::<Option<i64>, _>(column).map(|v| u64::try_from(v).unwrap_or(0))
}

fn signed(msat: u64) -> i64 {
    i64::try_from(msat).unwrap_or(i64::MAX)
}

impl Ledger {
    /// Records a session whose deposit (`payment_id`) was paid, before its API hears of it; `None` when it
    /// was recorded already.
    pub async fn open_session(&self, s: &NewSession<'_>) -> Result<Option<i64>> {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO sessions (agent_id, origin, host, path, session_id, payment_id, deposit_msat, unit_msat, \
             preimage, return_hash, state, opened_at_ms) VALUES ($1, $2, $3, $11, $4, $5, $6, $7, $8, $9, 'open', $10) \
             ON CONFLICT (session_id) DO NOTHING RETURNING id",
        )
        .bind(s.agent_id)
        .bind(s.origin)
        .bind(s.host)
        .bind(s.session_id)
        .bind(s.payment_id)
        .bind(signed(s.deposit_msat))
        .bind(signed(s.unit_msat))
        .bind(s.preimage_hex)
        .bind(s.return_hash)
        .bind(self.now_ms())
        .bind(s.path)
        .fetch_optional(self.pool())
        .await?;
        Ok(id)
    }

    /// An open session as a person's close needs it.
    pub async fn open_session_place(&self, id: i64) -> Result<Option<OpenPlace>> {
        let row = sqlx::query(
            "SELECT s.agent_id, a.name AS agent, s.host, s.origin, s.path, s.preimage, \
             s.deposit_msat - s.drawn_msat AS left_msat FROM sessions s JOIN agents a ON a.id = s.agent_id \
             WHERE s.id = $1 AND s.state = 'open'",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| OpenPlace {
            agent_id: r.get("agent_id"),
            agent: r.get("agent"),
            host: r.get("host"),
            origin: r.get("origin"),
            path: r.get("path"),
            dry: Dry { id, preimage_hex: r.get("preimage"), left_msat: msat(&r, "left_msat") },
        }))
    }

    /// Reserves `unit_msat` from the agent's oldest open session at `origin` that still holds it, in one
    /// statement (two calls at once never draw the same sats).
    pub async fn draw_session(&self, agent_id: i64, origin: &str, unit_msat: u64) -> Result<Option<Draw>> {
        // On PostgreSQL twice: a draw that waited on another session's row sees it full and draws nothing,
        // though a later session may hold the price. SQLite writes one at a time.
        let tries = if matches!(self.engine(), super::Engine::Postgres) { 2 } else { 1 };
        for _ in 0..tries {
            if let Some(draw) = self.draw_once(agent_id, origin, unit_msat).await? {
                return Ok(Some(draw));
            }
        }
        Ok(None)
    }

    async fn draw_once(&self, agent_id: i64, origin: &str, unit_msat: u64) -> Result<Option<Draw>> {
        let row = sqlx::query(
            "UPDATE sessions SET drawn_msat = drawn_msat + $3, draws = draws + 1 \
             WHERE id = (SELECT id FROM sessions WHERE agent_id = $1 AND origin = $2 AND state = 'open' \
                         AND drawn_msat + $3 <= deposit_msat ORDER BY id LIMIT 1) \
               AND state = 'open' AND drawn_msat + $3 <= deposit_msat \
             RETURNING id, preimage, drawn_msat, deposit_msat - drawn_msat AS left_msat",
        )
        .bind(agent_id)
        .bind(origin)
        .bind(signed(unit_msat))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| Draw {
            id: r.get("id"),
            preimage_hex: r.get("preimage"),
            drawn_msat: msat(&r, "drawn_msat"),
            left_msat: msat(&r, "left_msat"),
        }))
    }

    /// Gives back a draw whose call the API did not take.
    pub async fn undo_draw(&self, id: i64, unit_msat: u64) -> Result<()> {
        sqlx::query("UPDATE sessions SET drawn_msat = drawn_msat - $2, draws = draws - 1 WHERE id = $1 AND draws > 0")
            .bind(id)
            .bind(signed(unit_msat))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The agent's open sessions at `origin` that cannot pay `unit_msat` more.
    pub async fn dry_sessions(&self, agent_id: i64, origin: &str, unit_msat: u64) -> Result<Vec<Dry>> {
        let rows = sqlx::query(
            "SELECT id, preimage, deposit_msat - drawn_msat AS left_msat FROM sessions \
             WHERE agent_id = $1 AND origin = $2 AND state = 'open' AND drawn_msat + $3 > deposit_msat ORDER BY id",
        )
        .bind(agent_id)
        .bind(origin)
        .bind(signed(unit_msat))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| Dry { id: r.get("id"), preimage_hex: r.get("preimage"), left_msat: msat(r, "left_msat") })
            .collect())
    }

    /// Claims an open session for its close: no call draws from it meanwhile. Returns whether this call
    /// claimed it.
    pub async fn claim_close(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE sessions SET state = 'closing' WHERE id = $1 AND state = 'open'")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Opens again a session whose close did not go through.
    pub async fn reopen_session(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET state = 'open' WHERE id = $1 AND state = 'closing'")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Closes a claimed session with what its API said it returned (`claimed_msat`, `status` as it named it):
    /// a refund of more than nothing is then waited for. Returns whether this call closed it.
    pub async fn close_session(&self, id: i64, claimed_msat: Option<u64>, status: Option<&str>) -> Result<bool> {
        let waiting = claimed_msat.is_some_and(|c| c > 0);
        let refund_state = if waiting { RefundState::Waiting } else { RefundState::None };
        let done = sqlx::query(
            "UPDATE sessions SET state = 'closed', refund_claimed_msat = $2, refund_status = $3, refund_state = $4, \
             closed_at_ms = $5 WHERE id = $1 AND state = 'closing'",
        )
        .bind(id)
        .bind(claimed_msat.map(signed))
        .bind(status)
        .bind(refund_state.as_str())
        .bind(self.now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks an open session ended by its API (it stopped honouring it); what it held is then missing.
    /// Returns what it held, when this call ended it.
    pub async fn end_session(&self, id: i64) -> Result<Option<u64>> {
        let row = sqlx::query(
            "UPDATE sessions SET state = 'ended', refund_state = CASE WHEN deposit_msat > drawn_msat \
             THEN 'missing' ELSE 'none' END, closed_at_ms = $2 WHERE id = $1 AND state IN ('open', 'closing') \
             RETURNING deposit_msat - drawn_msat AS left_msat",
        )
        .bind(id)
        .bind(self.now_ms())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| msat(&r, "left_msat")))
    }

    /// Records whether the refund a closed session waited for reached the wallet (`received_msat`), or not.
    pub async fn refund_outcome(&self, id: i64, received_msat: Option<u64>) -> Result<()> {
        let state = if received_msat.is_some() { RefundState::Received } else { RefundState::Missing };
        sqlx::query(
            "UPDATE sessions SET refund_state = $2, refund_msat = $3 WHERE id = $1 AND refund_state = 'waiting'",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(received_msat.map(signed))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Sessions closed or ended in the last 30 days whose refund is awaited or was recorded missing, and
    /// open ones (an API may close an idle session on its own, returning what it held).
    pub async fn unsettled_refunds(&self) -> Result<Vec<UnsettledRefund>> {
        let rows = sqlx::query(
            "SELECT id, agent_id, host, return_hash, COALESCE(refund_claimed_msat, deposit_msat - drawn_msat) AS claimed, \
             refund_state, state, closed_at_ms FROM sessions \
             WHERE (refund_state IN ('waiting', 'missing') AND closed_at_ms > $1) OR state = 'open'",
        )
        .bind(self.now_ms() - 30 * 86_400_000)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| UnsettledRefund {
                id: r.get("id"),
                agent_id: r.get("agent_id"),
                host: r.get("host"),
                return_hash: r.get("return_hash"),
                claimed_msat: msat(r, "claimed"),
                waiting: r.get::<String, _>("refund_state") == "waiting",
                open: r.get::<String, _>("state") == "open",
                closed_at_ms: r.get::<Option<i64>, _>("closed_at_ms").unwrap_or(0),
            })
            .collect())
    }

    /// Records an open session its API closed on its own, returning `received_msat` to the wallet.
    pub async fn closed_by_api(&self, id: i64, received_msat: u64) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET state = 'closed', refund_state = 'received', refund_msat = $2, closed_at_ms = $3 \
             WHERE id = $1 AND state = 'open'",
        )
        .bind(id)
        .bind(signed(received_msat))
        .bind(self.now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a refund that reached the wallet, also one recorded missing before.
    pub async fn refund_arrived(&self, id: i64, received_msat: u64) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET refund_state = 'received', refund_msat = $2 \
             WHERE id = $1 AND refund_state IN ('waiting', 'missing')",
        )
        .bind(id)
        .bind(signed(received_msat))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The return invoice's payment hash of a session.
    pub async fn session_return_hash(&self, id: i64) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT return_hash FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The newest sessions, newest first.
    pub async fn sessions(&self, limit: i64) -> Result<Vec<SessionInfo>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT s.id, a.name AS agent, s.host, s.payment_id, s.deposit_msat, s.unit_msat, s.drawn_msat, s.draws, \
             {HELD} AS held_msat, s.state, s.refund_claimed_msat, s.refund_msat, s.refund_state, s.opened_at_ms, \
             s.closed_at_ms FROM sessions s JOIN agents a ON a.id = s.agent_id ORDER BY s.id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| SessionInfo {
                id: r.get("id"),
                agent: r.get("agent"),
                host: r.get("host"),
                payment_id: r.get("payment_id"),
                deposit_msat: msat(r, "deposit_msat"),
                unit_msat: msat(r, "unit_msat"),
                drawn_msat: msat(r, "drawn_msat"),
                draws: msat(r, "draws"),
                held_msat: msat(r, "held_msat"),
                state: r.get("state"),
                refund_claimed_msat: opt_msat(r, "refund_claimed_msat"),
                refund_msat: opt_msat(r, "refund_msat"),
                refund_state: r.get("refund_state"),
                opened_at_ms: r.get("opened_at_ms"),
                closed_at_ms: r.get("closed_at_ms"),
            })
            .collect())
    }
}
