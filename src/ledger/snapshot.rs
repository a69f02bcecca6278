//! Reading the policy tables (budgets, thresholds, rules), the pause switch and what a scope has spent: for
//! the desktop's and the CLI's views, and for the one statement a decision reads
//! ([`super::decision_read`]).

use sqlx::Row;

use super::engine::Conn;

use super::Result;
use crate::policy::fiat::{FiatSpent, FiatThreshold};
use crate::policy::{BreakerTrip, Budget, Period, Rule, Scope, Threshold};
use crate::rates::Money;
use crate::units::Msats;

pub(crate) async fn load_budgets(conn: &mut Conn) -> Result<Vec<Budget>> {
    let rows = sqlx::query(
        "SELECT b.id, b.agent_id, a.name AS agent, b.host, b.path_prefix, b.period, b.rolling_hours, b.limit_msat, \
         b.expires_at_ms, b.note, b.limit_currency, b.limit_micros FROM budgets b LEFT JOIN agents a ON a.id = b.agent_id ORDER BY b.id",
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
                limit_fiat: r
                    .get::<Option<String>, _>("limit_currency")
                    .map(|currency| Money { currency, micros: r.get::<Option<i64>, _>("limit_micros").unwrap_or(0) }),
                expires_at_ms: r.get("expires_at_ms"),
                note: r.get("note"),
            })
        })
        .collect())
}

pub(crate) async fn load_thresholds(conn: &mut Conn) -> Result<Vec<Threshold>> {
    let rows = sqlx::query(
        "SELECT t.id, t.agent_id, a.name AS agent, t.host, t.path_prefix, t.auto_max_msat, t.ask_max_msat, t.confirm_above_msat, \
         t.currency, t.auto_max_micros, t.ask_max_micros, t.confirm_above_micros FROM thresholds t LEFT JOIN agents a ON a.id = t.agent_id ORDER BY t.id",
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
            confirm_above: r.get::<Option<i64>, _>("confirm_above_msat").map(|m| Msats(m.max(0) as u64)),
            fiat: r.get::<Option<String>, _>("currency").map(|currency| FiatThreshold {
                currency,
                auto_max_micros: r.get::<Option<i64>, _>("auto_max_micros").unwrap_or(0),
                ask_max_micros: r.get::<Option<i64>, _>("ask_max_micros").unwrap_or(0),
                confirm_above_micros: r.get("confirm_above_micros"),
            }),
        })
        .collect())
}

pub(crate) async fn load_rules(conn: &mut Conn) -> Result<Vec<Rule>> {
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

pub(crate) async fn paused_all(conn: &mut Conn) -> Result<bool> {
    let v: Option<String> =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'paused'").fetch_optional(conn).await?;
    Ok(v.as_deref() == Some("1"))
}

/// What one payment spent or holds back, in msat: its amount and fee, or its fee reserve while in flight.
pub(crate) const PAYMENT_TOTAL: &str = "(COALESCE(amount_msat, 0) + CASE WHEN status IN ('pending', 'unknown') \
     THEN MAX(COALESCE(fee_msat, 0), fee_reserve_msat) ELSE COALESCE(fee_msat, 0) END)";

/// The sum of what payments in a scope since a time have spent or hold back, as an SQL expression over four
/// parameters from `?{first}`: the scope's agent id, host and path prefix (each `NULL` for any), then the
/// time in ms.
pub(crate) fn spent_sql(first: usize) -> String {
    scope_sum_sql(first, &format!("CAST(COALESCE(SUM({PAYMENT_TOTAL}), 0) AS BIGINT)"))
}

/// For a budget in a currency, what payments in a scope since a time are worth in it, in millionths (a real
/// number), in one pass: each at its recorded rate in that currency, the others at the decision's rate (a
/// NULL rate leaves them out). [`spent_sql`]'s four parameters, then the currency and the rate.
pub(crate) fn spent_value_sql(first: usize) -> String {
    let (currency, rate) = (first + 4, first + 5);
    scope_sum_sql(
        first,
        &format!(
            "COALESCE(SUM({PAYMENT_TOTAL} * (CASE WHEN fiat_currency = ${currency} THEN fiat_per_btc ELSE ${rate} END) \
             / 100000.0), 0.0)"
        ),
    )
}

/// Whether `column` names the API of parameter `?{host}` as scopes do: exactly, or on any port when it
/// names none.
pub(crate) fn host_covers_sql(column: &str, host: usize) -> String {
    format!(
        "({column} = ${host} OR (instr(${host}, ':') = 0 AND substr({column}, 1, length(${host}) + 1) = ${host} || ':'))"
    )
}

fn scope_sum_sql(first: usize, sum: &str) -> String {
    let (agent, host, prefix, since) = (first, first + 1, first + 2, first + 3);
    format!(
        "SELECT {sum} FROM payments \
         WHERE status IN ('pending', 'settled', 'unknown', 'bad_preimage') \
         AND (${agent} IS NULL OR agent_id = ${agent}) \
         AND (${host} IS NULL OR {}) \
         AND (${prefix} IS NULL OR (substr(path, 1, length(${prefix})) = ${prefix} \
              AND (length(path) = length(${prefix}) OR substr(${prefix}, length(${prefix}), 1) = '/' \
              OR substr(path, length(${prefix}) + 1, 1) = '/'))) \
         AND created_at_ms >= ${since}",
        host_covers_sql("host", host)
    )
}

/// What payments in `scope` since `since_ms` have spent or hold back.
pub(crate) async fn spent(conn: &mut Conn, scope: &Scope, since_ms: i64) -> Result<Msats> {
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(spent_sql(1)))
        .bind(scope.agent_id)
        .bind(&scope.host)
        .bind(&scope.path_prefix)
        .bind(since_ms)
        .fetch_one(conn)
        .await?;
    Ok(Msats(total.max(0) as u64))
}

/// What payments in `scope` since `since_ms` are worth in `currency` ([`spent_value_sql`]): each at its
/// recorded rate, the others at `per_btc` (left out without one).
pub(crate) async fn spent_fiat(
    conn: &mut Conn,
    scope: &Scope,
    since_ms: i64,
    (currency, per_btc): (&str, Option<f64>),
) -> Result<FiatSpent> {
    let micros: f64 = sqlx::query_scalar(sqlx::AssertSqlSafe(spent_value_sql(1)))
        .bind(scope.agent_id)
        .bind(&scope.host)
        .bind(&scope.path_prefix)
        .bind(since_ms)
        .bind(currency)
        .bind(super::engine::Real(per_btc))
        .fetch_one(conn)
        .await?;
    Ok(fiat_spent(micros, 0))
}

/// The two sums read as [`FiatSpent`].
pub(crate) fn fiat_spent(recorded_micros: f64, unrecorded_msat: i64) -> FiatSpent {
    FiatSpent {
        recorded_micros: recorded_micros.round().max(0.0) as i64,
        unrecorded: Msats(unrecorded_msat.max(0) as u64),
    }
}

/// Budgets, thresholds and rules as read at one `policy_generation`.
#[derive(Debug, Default)]
pub(crate) struct PolicyTables {
    pub generation: Option<i64>,
    pub budgets: Vec<Budget>,
    pub thresholds: Vec<Threshold>,
    pub rules: Vec<Rule>,
}

pub(super) fn scope_from_row(r: &super::engine::DbRow) -> Scope {
    Scope { agent_id: r.get("agent_id"), agent: r.get("agent"), host: r.get("host"), path_prefix: r.get("path_prefix") }
}

pub(super) fn trip_from_row(r: &super::engine::DbRow) -> BreakerTrip {
    BreakerTrip {
        host: r.get("host"),
        path: r.get("path"),
        reason: r.get("reason"),
        tripped_at_ms: r.get("tripped_at_ms"),
    }
}
