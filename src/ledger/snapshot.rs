//! The [`Snapshot`] a decision is made on, read inside the reserving transaction: the budgets, thresholds
//! and rules that apply (from memory while their generation holds), what each budget window has used, the
//! pauses and the breaker.

use sqlx::{Row, SqliteConnection};

use super::{Ledger, Result};
use crate::policy::{BreakerTrip, Budget, BudgetUse, Period, Rule, RuleUse, Scope, Snapshot, Threshold};
use crate::units::Msats;

pub(crate) async fn load_budgets(conn: &mut SqliteConnection) -> Result<Vec<Budget>> {
    let rows = sqlx::query(
        "SELECT b.id, b.agent_id, a.name AS agent, b.host, b.path_prefix, b.period, b.rolling_hours, b.limit_msat, \
         b.expires_at_ms, b.note FROM budgets b LEFT JOIN agents a ON a.id = b.agent_id ORDER BY b.id",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let period = Period::from_parts(r.get::<String, _>("period").as_str(), r.get("rolling_hours"))?;
            Some(Budget {
                id: r.get("id"),
                scope: scope_from_row(r),
                period,
                limit: Msats(r.get::<i64, _>("limit_msat").max(0) as u64),
                expires_at_ms: r.get("expires_at_ms"),
                note: r.get("note"),
            })
        })
        .collect())
}

pub(crate) async fn load_thresholds(conn: &mut SqliteConnection) -> Result<Vec<Threshold>> {
    let rows = sqlx::query(
        "SELECT t.id, t.agent_id, a.name AS agent, t.host, t.path_prefix, t.auto_max_msat, t.ask_max_msat \
         FROM thresholds t LEFT JOIN agents a ON a.id = t.agent_id ORDER BY t.id",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Threshold {
            id: r.get("id"),
            scope: scope_from_row(r),
            auto_max: Msats(r.get::<i64, _>("auto_max_msat").max(0) as u64),
            ask_max: Msats(r.get::<i64, _>("ask_max_msat").max(0) as u64),
        })
        .collect())
}

pub(crate) async fn load_rules(conn: &mut SqliteConnection) -> Result<Vec<Rule>> {
    let rows = sqlx::query(
        "SELECT r.id, r.agent_id, a.name AS agent, r.host, r.path_prefix, r.max_msat_per_day, r.source \
         FROM rules r JOIN agents a ON a.id = r.agent_id ORDER BY r.id",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Rule {
            id: r.get("id"),
            scope: scope_from_row(r),
            max_per_day: Msats(r.get::<i64, _>("max_msat_per_day").max(0) as u64),
            source: r.get("source"),
        })
        .collect())
}

pub(crate) async fn paused_all(conn: &mut SqliteConnection) -> Result<bool> {
    let v: Option<String> =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'paused'").fetch_optional(conn).await?;
    Ok(v.as_deref() == Some("1"))
}

/// What payments in `scope` since `since_ms` have spent or hold back.
pub(crate) async fn spent(conn: &mut SqliteConnection, scope: &Scope, since_ms: i64) -> Result<Msats> {
    let sql = "SELECT COALESCE(SUM(COALESCE(amount_msat, 0) + CASE WHEN status IN ('pending', 'unknown') \
         THEN MAX(COALESCE(fee_msat, 0), fee_reserve_msat) ELSE COALESCE(fee_msat, 0) END), 0) FROM payments \
         WHERE status IN ('pending', 'settled', 'unknown', 'bad_preimage') \
         AND (?1 IS NULL OR agent_id = ?1) \
         AND (?2 IS NULL OR host = ?2 OR (instr(?2, ':') = 0 AND substr(host, 1, length(?2) + 1) = ?2 || ':')) \
         AND (?3 IS NULL OR (substr(path, 1, length(?3)) = ?3 AND (length(path) = length(?3) \
              OR substr(?3, -1) = '/' OR substr(path, length(?3) + 1, 1) = '/'))) \
         AND created_at_ms >= ?4";
    let total: i64 = sqlx::query_scalar(sql)
        .bind(scope.agent_id)
        .bind(&scope.host)
        .bind(&scope.path_prefix)
        .bind(since_ms)
        .fetch_one(conn)
        .await?;
    Ok(Msats(total.max(0) as u64))
}

/// Budgets, thresholds and rules as read at one `policy_generation`.
#[derive(Debug, Default)]
pub(crate) struct PolicyTables {
    pub generation: Option<i64>,
    pub budgets: Vec<Budget>,
    pub thresholds: Vec<Threshold>,
    pub rules: Vec<Rule>,
}

/// The policy tables at `generation`: the copy in memory when it is of that generation, read again otherwise
/// (a change by this process or another bumps the generation in the same transaction).
async fn policy_tables(
    conn: &mut SqliteConnection,
    ledger: &Ledger,
    generation: Option<i64>,
) -> Result<std::sync::Arc<PolicyTables>> {
    if let Some(tables) = ledger.hot().policy().filter(|t| generation.is_some() && t.generation == generation) {
        return Ok(tables);
    }
    let tables = std::sync::Arc::new(PolicyTables {
        generation,
        budgets: load_budgets(conn).await?,
        thresholds: load_thresholds(conn).await?,
        rules: load_rules(conn).await?,
    });
    ledger.hot().put_policy(tables.clone());
    Ok(tables)
}

/// Reads everything a decision (`crate::policy::Judge::decide`) needs about a payment by `agent_id` to `host` + `path`.
pub(crate) async fn snapshot(
    conn: &mut SqliteConnection,
    ledger: &Ledger,
    agent_id: i64,
    host: &str,
    path: &str,
) -> Result<Snapshot> {
    let now = ledger.now_ms();
    let tz = &ledger.policy().time_zone;
    let cutoff = now - ledger.policy().breaker_cooldown_ms;
    // The pause switches, the policy tables' generation and the endpoint's tripped breaker, in one statement.
    let row = sqlx::query(
        "SELECT (SELECT value FROM settings WHERE key = 'paused') AS paused_all, \
         (SELECT paused FROM agents WHERE id = ?1) AS agent_paused, \
         (SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'policy_generation') AS policy_generation, \
         b.host, b.path, b.reason, b.tripped_at_ms \
         FROM (SELECT 1) LEFT JOIN breakers b ON b.host = ?2 AND b.path = ?3 AND b.tripped_at_ms > ?4",
    )
    .bind(agent_id)
    .bind(host)
    .bind(path)
    .bind(cutoff)
    .fetch_one(&mut *conn)
    .await?;
    let paused_all = row.get::<Option<String>, _>("paused_all").as_deref() == Some("1");
    let agent_paused: bool = row.try_get::<Option<bool>, _>("agent_paused")?.ok_or(sqlx::Error::RowNotFound)?;
    let breaker = row.get::<Option<String>, _>("host").is_some().then(|| trip_from_row(&row));
    let tables = policy_tables(conn, ledger, row.get("policy_generation")).await?;
    let mut budgets = Vec::new();
    for b in tables.budgets.iter().cloned() {
        if !b.scope.matches(agent_id, host, path) || b.expires_at_ms.is_some_and(|e| e <= now) {
            continue;
        }
        let start = b.period.window_start_ms(now, tz);
        let used = match start {
            Some(start) => spent(conn, &b.scope, start).await?,
            None => Msats(0),
        };
        budgets.push(BudgetUse { budget: b, used, window_start_ms: start });
    }
    let threshold = tables
        .thresholds
        .iter()
        .filter(|t| t.scope.matches(agent_id, host, path))
        .max_by_key(|t| (t.scope.specificity(), t.id))
        .cloned();
    let rule = tables
        .rules
        .iter()
        .filter(|r| r.scope.matches(agent_id, host, path))
        .max_by_key(|r| (r.scope.specificity(), r.id))
        .cloned();
    let rule = match rule {
        Some(rule) => {
            let day = Period::Day.window_start_ms(now, tz).unwrap_or(now);
            let used_today = spent(conn, &rule.scope, day).await?;
            Some(RuleUse { rule, used_today })
        }
        None => None,
    };
    Ok(Snapshot { paused_all, agent_paused, breaker, budgets, threshold, rule })
}

pub(super) fn scope_from_row(r: &sqlx::sqlite::SqliteRow) -> Scope {
    Scope { agent_id: r.get("agent_id"), agent: r.get("agent"), host: r.get("host"), path_prefix: r.get("path_prefix") }
}

pub(super) fn trip_from_row(r: &sqlx::sqlite::SqliteRow) -> BreakerTrip {
    BreakerTrip {
        host: r.get("host"),
        path: r.get("path"),
        reason: r.get("reason"),
        tripped_at_ms: r.get("tripped_at_ms"),
    }
}
