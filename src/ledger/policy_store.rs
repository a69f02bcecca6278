//! Budgets, thresholds, remembered rules, pauses and circuit breakers as stored, their validation, and the
//! [`Snapshot`] a decision is made on, read inside the reserving transaction.

use sqlx::{Row, SqliteConnection};

use super::{Error, Ledger, Result};
use crate::policy::{BreakerTrip, Budget, BudgetUse, Period, Rule, RuleUse, Scope, Snapshot, Threshold};
use crate::units::Msats;

/// A scope as a person names it: agent by name, API as `host[:port]` with an optional path prefix.
#[derive(Debug, Clone, Default)]
pub struct ScopeSpec {
    pub agent: Option<String>,
    pub host: Option<String>,
    pub path_prefix: Option<String>,
}

impl ScopeSpec {
    /// A scope from what a person typed: an agent's name and an API as `host[:port][/path-prefix]`; blank
    /// fields mean "any".
    pub fn parse(agent: Option<&str>, api: Option<&str>) -> ScopeSpec {
        let agent = agent.map(str::trim).filter(|a| !a.is_empty()).map(str::to_string);
        let (host, path_prefix) = match api.map(str::trim).filter(|a| !a.is_empty()) {
            Some(api) => match api.find('/') {
                Some(i) => (Some(api[..i].to_string()), Some(api[i..].to_string())),
                None => (Some(api.to_string()), None),
            },
            None => (None, None),
        };
        ScopeSpec { agent, host, path_prefix }
    }
}

impl Ledger {
    async fn resolve_scope(&self, spec: &ScopeSpec) -> Result<Scope> {
        if spec.path_prefix.is_some() && spec.host.is_none() {
            return Err(Error::Invalid("a path prefix needs an API host (--api HOST)".into()));
        }
        if let Some(p) = &spec.path_prefix
            && !p.starts_with('/')
        {
            return Err(Error::Invalid(format!("a path prefix starts with '/'; `{p}` does not")));
        }
        if let Some(h) = &spec.host
            && (h.is_empty() || h.contains('/') || h.contains(char::is_whitespace))
        {
            return Err(Error::Invalid(format!("`{h}` is not a host or host:port")));
        }
        let agent_id = match &spec.agent {
            Some(name) => Some(self.agent_id(name).await?),
            None => None,
        };
        Ok(Scope {
            agent_id,
            agent: spec.agent.clone(),
            host: spec.host.as_deref().map(crate::policy::scope::normalize_host),
            path_prefix: spec.path_prefix.clone(),
        })
    }

    pub async fn agent_id(&self, name: &str) -> Result<i64> {
        sqlx::query_scalar("SELECT id FROM agents WHERE name = ?")
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| Error::NoSuchAgent(name.to_string()))
    }

    pub async fn add_budget(
        &self,
        scope: &ScopeSpec,
        period: Period,
        limit: Msats,
        expires_at_ms: Option<i64>,
        note: Option<&str>,
    ) -> Result<Budget> {
        let scope = self.resolve_scope(scope).await?;
        let hours = match period {
            Period::Rolling { hours } => Some(i64::from(hours)),
            _ => None,
        };
        let id = sqlx::query(
            "INSERT INTO budgets (agent_id, host, path_prefix, period, rolling_hours, limit_msat, expires_at_ms, note, created_at_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(scope.agent_id)
        .bind(&scope.host)
        .bind(&scope.path_prefix)
        .bind(period.kind().as_str())
        .bind(hours)
        .bind(limit.0 as i64)
        .bind(expires_at_ms)
        .bind(note)
        .bind(self.now_ms())
        .execute(self.pool())
        .await?
        .last_insert_rowid();
        Ok(Budget { id, scope, period, limit, expires_at_ms, note: note.map(str::to_string) })
    }

    pub async fn budgets(&self) -> Result<Vec<Budget>> {
        load_budgets(&mut *self.pool().acquire().await?).await
    }

    pub async fn remove_budget(&self, id: i64) -> Result<()> {
        // A later budget may get this id again: its crossings must not look already alerted.
        sqlx::query("UPDATE alerts SET dedupe_key = NULL WHERE budget_id = ?").bind(id).execute(self.pool()).await?;
        remove(self, "DELETE FROM budgets WHERE id = ?", "budget", id).await
    }

    /// Budgets with what their current windows have used, for display.
    pub async fn budget_uses(&self) -> Result<Vec<BudgetUse>> {
        let mut conn = self.pool().acquire().await?;
        let now = self.now_ms();
        let mut out = Vec::new();
        for b in load_budgets(&mut conn).await? {
            let start = b.period.window_start_ms(now, &self.policy().time_zone);
            let used = match start {
                Some(start) => spent(&mut conn, &b.scope, start).await?,
                None => Msats(0),
            };
            out.push(BudgetUse { budget: b, used, window_start_ms: start });
        }
        Ok(out)
    }

    /// Sets the thresholds of a scope, replacing any it had.
    pub async fn set_threshold(&self, scope: &ScopeSpec, auto_max: Msats, ask_max: Msats) -> Result<Threshold> {
        if ask_max < auto_max {
            return Err(Error::Invalid(format!(
                "the ask limit ({ask_max}) cannot be below the auto-approve limit ({auto_max})"
            )));
        }
        let scope = self.resolve_scope(scope).await?;
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM thresholds WHERE agent_id IS ? AND host IS ? AND path_prefix IS ?")
            .bind(scope.agent_id)
            .bind(&scope.host)
            .bind(&scope.path_prefix)
            .execute(&mut *tx)
            .await?;
        let id = sqlx::query(
            "INSERT INTO thresholds (agent_id, host, path_prefix, auto_max_msat, ask_max_msat, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(scope.agent_id)
        .bind(&scope.host)
        .bind(&scope.path_prefix)
        .bind(auto_max.0 as i64)
        .bind(ask_max.0 as i64)
        .bind(self.now_ms())
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        tx.commit().await?;
        Ok(Threshold { id, scope, auto_max, ask_max })
    }

    pub async fn thresholds(&self) -> Result<Vec<Threshold>> {
        load_thresholds(&mut *self.pool().acquire().await?).await
    }

    pub async fn remove_threshold(&self, id: i64) -> Result<()> {
        remove(self, "DELETE FROM thresholds WHERE id = ?", "threshold", id).await
    }

    /// Remembers "approve `host` up to `max_per_day` a day for `agent`".
    pub async fn add_rule(
        &self,
        agent: &str,
        host: &str,
        path_prefix: Option<&str>,
        max_per_day: Msats,
        source: &str,
    ) -> Result<Rule> {
        if max_per_day.0 == 0 {
            return Err(Error::Invalid("a rule's daily limit must be more than 0 sats".into()));
        }
        let spec = ScopeSpec {
            agent: Some(agent.into()),
            host: Some(host.into()),
            path_prefix: path_prefix.map(str::to_string),
        };
        let scope = self.resolve_scope(&spec).await?;
        let id = sqlx::query(
            "INSERT INTO rules (agent_id, host, path_prefix, max_msat_per_day, source, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(scope.agent_id)
        .bind(&scope.host)
        .bind(&scope.path_prefix)
        .bind(max_per_day.0 as i64)
        .bind(source)
        .bind(self.now_ms())
        .execute(self.pool())
        .await?
        .last_insert_rowid();
        Ok(Rule { id, scope, max_per_day, source: source.into() })
    }

    pub async fn rules(&self) -> Result<Vec<Rule>> {
        load_rules(&mut *self.pool().acquire().await?).await
    }

    pub async fn remove_rule(&self, id: i64) -> Result<()> {
        remove(self, "DELETE FROM rules WHERE id = ?", "rule", id).await
    }

    /// Pauses or resumes all payments.
    pub async fn set_paused_all(&self, paused: bool) -> Result<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ('paused', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(if paused { "1" } else { "0" })
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn paused_all(&self) -> Result<bool> {
        paused_all(&mut *self.pool().acquire().await?).await
    }

    pub async fn set_agent_paused(&self, agent: &str, paused: bool) -> Result<()> {
        let done = sqlx::query("UPDATE agents SET paused = ? WHERE name = ?")
            .bind(paused)
            .bind(agent)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NoSuchAgent(agent.into()));
        }
        self.hot().invalidate();
        Ok(())
    }

    pub async fn breakers(&self) -> Result<Vec<BreakerTrip>> {
        let rows = sqlx::query("SELECT host, path, reason, tripped_at_ms FROM breakers ORDER BY tripped_at_ms DESC")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(trip_from_row).collect())
    }

    /// Resets the breakers of `host` (and `path`), or all of them; returns how many were reset.
    pub async fn reset_breakers(&self, host: Option<&str>, path: Option<&str>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM breakers WHERE (? IS NULL OR host = ?) AND (? IS NULL OR path = ?)")
            .bind(host)
            .bind(host)
            .bind(path)
            .bind(path)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

async fn remove(ledger: &Ledger, sql: &'static str, what: &'static str, id: i64) -> Result<()> {
    let done = sqlx::query(sql).bind(id).execute(ledger.pool()).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(what, id));
    }
    Ok(())
}

fn scope_from_row(r: &sqlx::sqlite::SqliteRow) -> Scope {
    Scope { agent_id: r.get("agent_id"), agent: r.get("agent"), host: r.get("host"), path_prefix: r.get("path_prefix") }
}

fn trip_from_row(r: &sqlx::sqlite::SqliteRow) -> BreakerTrip {
    BreakerTrip {
        host: r.get("host"),
        path: r.get("path"),
        reason: r.get("reason"),
        tripped_at_ms: r.get("tripped_at_ms"),
    }
}

async fn load_budgets(conn: &mut SqliteConnection) -> Result<Vec<Budget>> {
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

async fn load_thresholds(conn: &mut SqliteConnection) -> Result<Vec<Threshold>> {
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

async fn load_rules(conn: &mut SqliteConnection) -> Result<Vec<Rule>> {
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

async fn paused_all(conn: &mut SqliteConnection) -> Result<bool> {
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

/// Reads everything [`crate::policy::decide`] needs about a payment by `agent_id` to `host` + `path`.
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
