//! Everything a payment's decision reads, in one statement: an earlier payment of the same invoice, the
//! pause switches, the policy tables' generation, the endpoint's tripped breaker, what each budget window
//! and remembered rule that applies has used (and, for a deposit, what is held at its API), what the agent spent in the last minute, the endpoint's usual
//! price, whether its API was paid before and whether the agent has a task allowance. The budgets, thresholds
//! and rules themselves come from memory while their generation holds; when it does not, they are read again
//! and so is the statement.

use std::sync::Arc;

use sqlx::Row;

use super::engine::Conn;

use super::held::held_sql;
use super::new_payment::NewPayment;
use super::snapshot::{
    PolicyTables, load_budgets, load_rules, load_thresholds, spent_sql, spent_value_sql, trip_from_row,
};
use super::{Ledger, Result};
use crate::challenge::ChallengeKind;
use crate::policy::{BudgetUse, Period, RuleUse, Scope, Snapshot};
use crate::units::Msats;

/// A payment of the same invoice that is in flight or was paid (or may have been).
#[derive(Debug, Clone)]
pub(crate) struct Earlier {
    pub id: i64,
    pub status: String,
    pub preimage: Option<String>,
    pub agent_id: i64,
    pub host: String,
}

/// What a decision on one payment is made on.
#[derive(Debug)]
pub(crate) struct DecisionRead {
    pub earlier: Option<Earlier>,
    pub snapshot: Snapshot,
    /// The endpoint's mean price over its last 20 settled payments, once there are 3.
    pub usual_msat: Option<f64>,
    /// What the agent spent or holds back in the last minute.
    pub last_minute: Msats,
    /// Whether any payment went to this API before.
    pub host_paid_before: bool,
    /// Whether the agent has an active task allowance (only then is [`super::allowances::applicable`] read).
    pub has_allowance: bool,
}

/// The policy that applies to one payment, from the tables: the budgets with their windows, the threshold,
/// the rule.
struct Applying {
    budgets: Vec<(crate::policy::Budget, Option<i64>)>,
    threshold: Option<crate::policy::Threshold>,
    rule: Option<(crate::policy::Rule, i64)>,
}

impl Applying {
    fn of(tables: &PolicyTables, p: &NewPayment, now: i64, tz: &jiff::tz::TimeZone) -> Self {
        let applies = |s: &Scope| s.matches(p.agent_id, &p.host, &p.path);
        // A cap on what is held at an API counts only payments that park money there.
        let holds = ChallengeKind::holds_at_api(&p.challenge_kind);
        let budgets = tables
            .budgets
            .iter()
            .filter(|b| applies(&b.scope) && b.expires_at_ms.is_none_or(|e| e > now))
            .filter(|b| holds || b.period != Period::Held)
            .map(|b| (b.clone(), b.period.window_start_ms(now, tz)))
            .collect();
        let threshold = tables
            .thresholds
            .iter()
            .filter(|t| applies(&t.scope))
            .max_by_key(|t| (t.scope.specificity(), t.id))
            .cloned();
        let rule = tables.rules.iter().filter(|r| applies(&r.scope)).max_by_key(|r| (r.scope.specificity(), r.id));
        let day = Period::Day.window_start_ms(now, tz).unwrap_or(now);
        Applying { budgets, threshold, rule: rule.map(|r| (r.clone(), day)) }
    }

    /// The sums the statement reads, in column order: the agent's last minute, each budget window that has a
    /// start (for one in a currency, its value in it) or what is held at its API, the rule's day.
    fn sums(&self, p: &NewPayment, now: i64) -> Vec<Sum> {
        let mut sums = vec![Sum {
            scope: Scope { agent_id: Some(p.agent_id), ..Scope::default() },
            since: now - 60_000,
            valued_in: None,
        }];
        for (b, start) in &self.budgets {
            if b.period == Period::Held {
                sums.push(Sum { scope: b.scope.clone(), since: HELD_NOW, valued_in: None });
                continue;
            }
            let Some(since) = *start else { continue };
            let valued_in =
                b.limit_fiat.as_ref().map(|l| (l.currency.clone(), p.rates.rate(&l.currency).map(|r| r.per_btc)));
            sums.push(Sum { scope: b.scope.clone(), since, valued_in });
        }
        sums.extend(self.rule.iter().map(|(r, day)| Sum { scope: r.scope.clone(), since: *day, valued_in: None }));
        sums
    }
}

/// A [`Sum`]'s `since` that asks for what is held at its scope's API now rather than what was spent.
const HELD_NOW: i64 = i64::MAX;

/// One sum the statement reads: what a scope spent since a time in msat, or for a budget in a currency its
/// value in it (each payment at its recorded rate, the others at this payment's rate, when there is one), or
/// what is held at its API ([`HELD_NOW`]).
struct Sum {
    scope: Scope,
    since: i64,
    valued_in: Option<(String, Option<f64>)>,
}

/// The statement for `sums` (their parameters follow the first five: four each, six for a currency's, two
/// for what is held).
fn statement(sums: &[Sum]) -> String {
    let mut next = 6;
    let mut used = String::new();
    for (i, sum) in sums.iter().enumerate() {
        match sum.valued_in {
            None if sum.since == HELD_NOW => {
                used.push_str(&format!(", ({}) AS used_{i}", held_sql(next)));
                next += 2;
            }
            None => {
                used.push_str(&format!(", ({}) AS used_{i}", spent_sql(next)));
                next += 4;
            }
            Some(_) => {
                used.push_str(&format!(", ({}) AS used_{i}", spent_value_sql(next)));
                next += 6;
            }
        }
    }
    format!(
        "SELECT (SELECT value FROM settings WHERE key = 'paused') AS paused_all, \
         (SELECT paused FROM agents WHERE id = $1) AS agent_paused, \
         (SELECT CAST(value AS BIGINT) FROM settings WHERE key = 'policy_generation') AS policy_generation, \
         EXISTS (SELECT 1 FROM settings WHERE key = 'confirm_every_approval' AND value = '1') \
           AND EXISTS (SELECT 1 FROM settings WHERE key = 'passphrase_hash') AS confirm_every_approval, \
         b.host, b.path, b.reason, b.tripped_at_ms, \
         e.id AS earlier_id, e.status AS earlier_status, e.preimage AS earlier_preimage, \
         e.agent_id AS earlier_agent_id, e.host AS earlier_host, u.n AS usual_count, u.mean AS usual_mean, \
         EXISTS (SELECT 1 FROM payments WHERE host = $2 AND status IN ('pending', 'settled', 'unknown', 'bad_preimage')) \
         AS host_paid_before, \
         EXISTS (SELECT 1 FROM allowances WHERE agent_id = $1 AND state = 'active') AS has_allowance{used} \
         FROM (SELECT 1) one \
         LEFT JOIN breakers b ON b.host = $2 AND b.path = $3 AND b.tripped_at_ms > $4 \
         LEFT JOIN (SELECT id, status, preimage, agent_id, host FROM payments WHERE payment_hash = $5 \
           AND status IN ('pending', 'settled', 'unknown', 'bad_preimage') LIMIT 1) e ON TRUE \
         LEFT JOIN (SELECT COUNT(*) AS n, CAST(AVG(amount_msat) AS DOUBLE PRECISION) AS mean FROM (SELECT amount_msat \
           FROM payments WHERE host = $2 AND path = $3 AND status = 'settled' ORDER BY id DESC LIMIT 20) recent) u ON TRUE"
    )
}

/// The policy tables at `generation`, read and kept in memory for the next payments.
pub(super) async fn load_tables(
    conn: &mut Conn,
    ledger: &Ledger,
    generation: Option<i64>,
) -> Result<Arc<PolicyTables>> {
    let tables = Arc::new(PolicyTables {
        generation,
        budgets: load_budgets(conn).await?,
        thresholds: load_thresholds(conn).await?,
        rules: load_rules(conn).await?,
    });
    ledger.hot().put_policy(tables.clone());
    Ok(tables)
}

/// The currencies the budgets and threshold that apply to `p` are set in.
pub(super) fn limit_currencies(
    tables: &PolicyTables,
    p: &NewPayment,
    now: i64,
    tz: &jiff::tz::TimeZone,
) -> Vec<String> {
    let applying = Applying::of(tables, p, now, tz);
    let budgets = applying.budgets.iter().filter_map(|(b, _)| b.limit_fiat.as_ref().map(|m| m.currency.clone()));
    budgets.chain(applying.threshold.and_then(|t| t.fiat).map(|f| f.currency)).collect()
}

/// Reads what deciding on `p` needs: one statement while the policy tables in memory are current.
pub(crate) async fn read(conn: &mut Conn, ledger: &Ledger, p: &NewPayment) -> Result<DecisionRead> {
    let now = ledger.now_ms();
    let tz = &ledger.policy().time_zone;
    let mut tables = ledger.hot().policy().unwrap_or_default();
    let mut reloaded = false;
    loop {
        let applying = Applying::of(&tables, p, now, tz);
        let sums = applying.sums(p, now);
        let sql = statement(&sums);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(p.agent_id)
            .bind(&p.host)
            .bind(&p.path)
            .bind(now - ledger.policy().breaker_cooldown_ms)
            .bind(p.payment_hash.map(|h| h.to_hex()));
        for sum in &sums {
            let scope = &sum.scope;
            if sum.since == HELD_NOW {
                query = query.bind(scope.agent_id).bind(scope.host.clone());
                continue;
            }
            query = query.bind(scope.agent_id).bind(scope.host.clone()).bind(scope.path_prefix.clone()).bind(sum.since);
            if let Some((currency, per_btc)) = &sum.valued_in {
                query = query.bind(currency.clone()).bind(super::engine::Real(*per_btc));
            }
        }
        let row = query.fetch_one(&mut *conn).await?;
        let generation: Option<i64> = row.get("policy_generation");
        if !reloaded && (generation.is_none() || generation != tables.generation) {
            // The tables changed since they were read (or were never read): read them, then the statement again.
            tables = load_tables(conn, ledger, generation).await?;
            reloaded = true;
            continue;
        }
        return from_row(&row, applying);
    }
}

fn from_row(row: &super::engine::DbRow, applying: Applying) -> Result<DecisionRead> {
    let used = |i: usize| Msats(row.get::<i64, _>(format!("used_{i}").as_str()).max(0) as u64);
    // The sums follow the agent's last minute (`used_0`) in the order `Applying::sums` wrote them.
    let mut columns = 1..;
    // A budget in a currency: its value in it, already in one sum (the msat figures come from converting).
    let valued = |i: usize| super::snapshot::fiat_spent(row.get::<f64, _>(format!("used_{i}").as_str()), 0);
    let mut budgets = Vec::with_capacity(applying.budgets.len());
    for (budget, start) in applying.budgets {
        let held = budget.period == Period::Held;
        let (spent_msat, fiat_spent) = match (&budget.limit_fiat, start) {
            // What is held is valued at this payment's rate: none of it was paid at a rate of its own yet.
            (Some(_), None) if held => {
                let at_api = used(columns.next().unwrap_or_default());
                (Msats(0), Some(crate::policy::fiat::FiatSpent { recorded_micros: 0, unrecorded: at_api }))
            }
            (None, None) if held => (used(columns.next().unwrap_or_default()), None),
            (None, Some(_)) => (used(columns.next().unwrap_or_default()), None),
            (None, None) => (Msats(0), None),
            (Some(_), Some(_)) => (Msats(0), Some(valued(columns.next().unwrap_or_default()))),
            (Some(_), None) => (Msats(0), Some(crate::policy::fiat::FiatSpent::default())),
        };
        budgets.push(BudgetUse { budget, used: spent_msat, window_start_ms: start, fiat_spent, used_fiat: None });
    }
    let rule = applying.rule.map(|(rule, _)| RuleUse { rule, used_today: used(columns.next().unwrap_or_default()) });
    let snapshot = Snapshot {
        paused_all: row.get::<Option<String>, _>("paused_all").as_deref() == Some("1"),
        agent_paused: super::engine::try_opt_flag(row, "agent_paused")?.ok_or(sqlx::Error::RowNotFound)?,
        breaker: row.get::<Option<String>, _>("host").is_some().then(|| trip_from_row(row)),
        budgets,
        threshold: applying.threshold,
        rule,
        confirm_every_approval: super::engine::flag(row, "confirm_every_approval"),
        allowance: None,
        rate_used: None,
        unpriced: Vec::new(),
        unpriced_confirm: false,
    };
    let earlier = row.get::<Option<i64>, _>("earlier_id").map(|id| Earlier {
        id,
        status: row.get("earlier_status"),
        preimage: row.get("earlier_preimage"),
        agent_id: row.get("earlier_agent_id"),
        host: row.get("earlier_host"),
    });
    let usual_msat = (row.get::<i64, _>("usual_count") >= 3).then(|| row.get::<Option<f64>, _>("usual_mean")).flatten();
    Ok(DecisionRead {
        earlier,
        snapshot,
        usual_msat,
        last_minute: used(0),
        host_paid_before: super::engine::flag(row, "host_paid_before"),
        has_allowance: super::engine::flag(row, "has_allowance"),
    })
}
