//! What is held at APIs: session deposits not drawn yet, refunds still awaited, and credit bought by
//! top-ups that its API has not yet said is used up (by asking to be paid again). One figure per API for
//! the screens, the same sum as SQL for budgets that cap it, and whether a person allows top-ups at an API.

use serde::Serialize;
use sqlx::Row;

use super::engine::Conn;
use super::sessions::{HELD, msat};
use super::snapshot::host_covers_sql;
use super::{Ledger, Result};
use crate::policy::Scope;
use crate::units::Msats;

/// What is held at one API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct HeldAt {
    pub host: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub held_msat: u64,
    /// Its open sessions.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub open_sessions: u64,
    /// Its credits bought by top-ups and not used up.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub credits: u64,
}

/// The SQL condition on a payment `p` that still holds credit at its API: a top-up (`l402_top_up`) paid or
/// being paid, not yet recorded used up.
const CREDIT_HELD: &str = "p.challenge_kind = 'l402_top_up' AND p.status IN ('pending', 'settled', 'unknown') \
     AND NOT EXISTS (SELECT 1 FROM credits_used_up u WHERE u.payment_id = p.id)";

/// The SQL condition on a payment `p` that is a session deposit whose session is not written: in flight, or
/// settled before its session was (or when it never was, the process killed between the two).
const DEPOSIT_UNWRITTEN: &str = "p.challenge_kind = 'mpp_session' AND p.status IN ('pending', 'settled', 'unknown') \
     AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.payment_id = p.id)";

/// What is held at an API as an SQL expression over two parameters from `?{first}`: the agent's id (`NULL`
/// for any) and the API's host (a host without a port covers it on every port, as scopes do). A session
/// deposit counts from its reservation: while in flight, and once settled before its session is written (or
/// when it never was), as do top-ups in flight: the dialects [`crate::challenge::ChallengeKind::holds_at_api`]
/// names.
pub(crate) fn held_sql(first: usize) -> String {
    let agent = first;
    format!(
        "SELECT CAST(COALESCE((SELECT SUM({HELD}) FROM sessions WHERE (state IN ('open', 'closing') \
         OR refund_state = 'waiting') AND (${agent} IS NULL OR agent_id = ${agent}) AND {}), 0) \
         + COALESCE((SELECT SUM(amount_msat) FROM payments p WHERE (({DEPOSIT_UNWRITTEN}) OR ({CREDIT_HELD})) \
         AND (${agent} IS NULL OR agent_id = ${agent}) AND {}), 0) AS BIGINT)",
        host_covers_sql("host", first + 1),
        host_covers_sql("p.host", first + 1),
    )
}

/// What is held at `scope`'s API (by its agent, when it names one): [`held_sql`].
pub(crate) async fn held(conn: &mut Conn, scope: &Scope) -> Result<Msats> {
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(held_sql(1)))
        .bind(scope.agent_id)
        .bind(scope.host.clone())
        .fetch_one(conn)
        .await?;
    Ok(Msats(total.max(0) as u64))
}

impl Ledger {
    /// What is held at each API that holds anything, most first: as [`held_sql`] counts it.
    pub async fn held_at_apis(&self) -> Result<Vec<HeldAt>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT host, CAST(SUM(held) AS BIGINT) AS held_msat, CAST(SUM(open) AS BIGINT) AS open_sessions, \
             CAST(SUM(credit) AS BIGINT) AS credits FROM ( \
               SELECT host, {HELD} AS held, CASE WHEN state IN ('open', 'closing') THEN 1 ELSE 0 END AS open, \
               0 AS credit FROM sessions WHERE state IN ('open', 'closing') OR refund_state = 'waiting' \
               UNION ALL SELECT p.host, COALESCE(p.amount_msat, 0), 0, \
               CASE WHEN p.challenge_kind = 'l402_top_up' THEN 1 ELSE 0 END \
               FROM payments p WHERE ({DEPOSIT_UNWRITTEN}) OR ({CREDIT_HELD}) \
             ) held GROUP BY host ORDER BY held_msat DESC, host"
        )))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| HeldAt {
                host: r.get("host"),
                held_msat: msat(r, "held_msat"),
                open_sessions: msat(r, "open_sessions"),
                credits: msat(r, "credits"),
            })
            .filter(|h| h.held_msat > 0 || h.open_sessions > 0)
            .collect())
    }

    /// Records the credit `agent_id` bought at `host` for `path` used up, now that the API asks to be paid
    /// again for a request sent at `sent_at_ms`: the top-ups it honoured before that request was sent (one
    /// honoured since, or not yet, may still be on its way to the API's count), and those never honoured that
    /// are older than `unhonoured_after_ms`. Returns how many.
    pub async fn credits_used_up(
        &self,
        agent_id: i64,
        (host, path): (&str, &str),
        sent_at_ms: i64,
        unhonoured_after_ms: i64,
    ) -> Result<u64> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO credits_used_up (payment_id, at_ms) SELECT p.id, $4 FROM payments p \
             WHERE p.agent_id = $1 AND p.host = $2 AND p.path = $3 AND {CREDIT_HELD} \
             AND ((p.delivered = 1 AND p.updated_at_ms < $5) OR (COALESCE(p.delivered, 0) = 0 AND p.created_at_ms < $6)) \
             ON CONFLICT (payment_id) DO NOTHING"
        )))
        .bind(agent_id)
        .bind(host)
        .bind(path)
        .bind(self.now_ms())
        .bind(sent_at_ms)
        .bind(sent_at_ms - unhonoured_after_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Whether a person allows `agent_id` to buy credit at `host` (for `path`): a remembered rule for the
    /// agent that names this API, or an active task allowance of the agent that covers it. The top-up is
    /// still decided as any payment is.
    pub async fn top_ups_allowed(&self, agent_id: i64, host: &str, path: &str) -> Result<bool> {
        let mut conn = self.pool().acquire().await?;
        let rules = super::snapshot::load_rules(&mut conn).await?;
        if rules.iter().any(|r| r.scope.host.is_some() && r.scope.matches(agent_id, host, path)) {
            return Ok(true);
        }
        let scopes: Vec<String> = sqlx::query_scalar(
            "SELECT scopes FROM allowances WHERE agent_id = $1 AND state = 'active' AND expires_at_ms > $2",
        )
        .bind(agent_id)
        .bind(self.now_ms())
        .fetch_all(&mut *conn)
        .await?;
        Ok(scopes.iter().any(|s| super::allowances::covers(s, agent_id, host, path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::payments::{NewPayment, Reservation};
    use crate::policy::{Approved, Rules};

    /// A deposit counts as held from its reservation, before its session is written (and if it never is),
    /// on the screens as in a cap: the two sums agree.
    #[tokio::test]
    async fn a_deposit_is_held_before_its_session_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let location = crate::ledger::testing::fresh_location(dir.path()).await;
        let ledger = Ledger::open_at(&location).await.unwrap();
        let (agent, _) = ledger.add_agent("alpha").await.unwrap();
        let deposit = NewPayment {
            challenge_kind: "mpp_session".into(),
            ..NewPayment::sample(agent.id, "alpha", "api.example.com", 1, 10)
        };
        let reserved = ledger.reserve(&deposit, Approved::Not, &Rules).await.unwrap();
        assert!(matches!(reserved, Reservation::Reserved { .. }), "{reserved:?}");
        let shown = ledger.held_at_apis().await.unwrap();
        assert_eq!(shown.len(), 1);
        assert_eq!(
            (shown[0].host.as_str(), shown[0].held_msat, shown[0].open_sessions),
            ("api.example.com", 10_000, 0)
        );
        let scope = Scope { host: Some("api.example.com".into()), ..Scope::default() };
        let mut conn = ledger.pool().acquire().await.unwrap();
        assert_eq!(held(&mut conn, &scope).await.unwrap(), Msats(10_000));
        let elsewhere = Scope { host: Some("other.example.com".into()), ..Scope::default() };
        assert_eq!(held(&mut conn, &elsewhere).await.unwrap(), Msats(0));
    }
}
