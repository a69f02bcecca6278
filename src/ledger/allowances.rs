//! Task allowances in the ledger: asked for by an agent (or opened by a person), decided once by the person
//! (who may lower the maximum or shorten the time), spent by the payments that carry them, raised at an
//! overage, and closed with a summary. What a payment may take from one is decided in
//! [`crate::policy::allowance`], inside the reservation's transaction (see [`applicable`]).

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::engine::Conn;

use super::policy_store::ScopeSpec;
use super::{Error, Ledger, Result};
use crate::policy::Scope;
use crate::policy::allowance::{AllowanceState, AllowanceUse, FiatAllowance};
use crate::policy::fiat::FiatSpent;
use crate::rates::Money;
use crate::units::Msats;

/// The longest time limit an allowance may have.
pub const MAX_DURATION_MS: i64 = 7 * 24 * 3_600_000;

/// What an agent (or a person) asks for.
#[derive(Debug, Clone)]
pub struct AllowanceAsk {
    pub agent: String,
    pub purpose: String,
    pub max: Msats,
    pub per_payment_max: Option<Msats>,
    /// APIs as `[scheme://]host[:port][/path-prefix]`; none: any API.
    pub apis: Vec<String>,
    pub duration_ms: i64,
    /// The calls the agent plans and their quote, shown to the person.
    pub plan: Option<Value>,
    /// The maxima in a currency instead of sats (`max` and `per_payment_max` are then unused).
    pub fiat: Option<FiatCap>,
}

/// An allowance's maxima set in a currency, in millionths of it: converted when each payment is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiatCap {
    pub currency: String,
    pub max_micros: i64,
    pub per_payment_max_micros: Option<i64>,
}

/// A new maximum as a person gives it: in sats, or in money (which must be the allowance's currency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewMax {
    Sats(Msats),
    Money(Money),
}

/// Who opened an allowance: an agent asks; a person's is active at once (`true`: with the passphrase).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenedBy {
    Agent,
    Person { confirmed: bool },
}

/// A person's answer to a requested allowance.
#[derive(Debug, Clone, Default)]
pub struct AllowanceAnswer {
    pub approve: bool,
    /// A lower maximum than asked, in the allowance's own denomination.
    pub max: Option<NewMax>,
    /// A shorter time limit than asked.
    pub duration_ms: Option<i64>,
    /// Given with the passphrase (needed above the confirm tier).
    pub confirmed: bool,
}

/// An allowance as agents, people and the UI read it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Allowance {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub agent: String,
    pub purpose: String,
    pub state: AllowanceState,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub max_msat: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub asked_max_msat: u64,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub per_payment_max_msat: Option<u64>,
    /// The APIs it covers; empty: any.
    pub apis: Vec<String>,
    /// Spent or held back by its payments, fees included.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub used_msat: u64,
    /// Its paid (or in-flight) calls.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub calls: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub asked_duration_ms: i64,
    pub confirmed: bool,
    pub opened_by: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created_at_ms: i64,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub decided_at_ms: Option<i64>,
    /// When it ends (while requested: when the request lapses).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub expires_at_ms: i64,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub closed_at_ms: Option<i64>,
    pub closed_by: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub plan: Option<Value>,
    /// Written when it closes: spent, calls, APIs, delivered or not.
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub summary: Option<Value>,
    /// For an allowance set in a currency: its maxima as set (the msat ones are then 0) and what its
    /// payments are worth in it, each at the rate it was paid at.
    pub max_fiat: Option<Money>,
    pub asked_max_fiat: Option<Money>,
    pub per_payment_max_fiat: Option<Money>,
    pub used_fiat: Option<Money>,
}

/// What an allowance's payments spent or hold back, summed the slow way: the triggers keep
/// `allowances.used_msat` equal to it (checked by the tests).
#[cfg(test)]
const USED_SQL: &str = "SELECT CAST(COALESCE(SUM(COALESCE(amount_msat, 0) + CASE WHEN status IN ('pending', 'unknown') \
     THEN MAX(COALESCE(fee_msat, 0), COALESCE(fee_reserve_msat, 0)) ELSE COALESCE(fee_msat, 0) END), 0) AS BIGINT) \
     FROM payments WHERE allowance_id = a.id AND status IN ('pending', 'settled', 'unknown', 'bad_preimage')";

/// For an allowance in a currency, its payments' recorded values in it (millionths, real) and the msat of
/// those recorded in none: SQL over the row `a`.
fn fiat_spent_sql() -> String {
    let total = super::snapshot::PAYMENT_TOTAL;
    let counted = "status IN ('pending', 'settled', 'unknown', 'bad_preimage')";
    format!(
        "CASE WHEN a.currency IS NULL THEN NULL ELSE (SELECT COALESCE(SUM({total} * fiat_per_btc / 100000.0), 0.0) \
         FROM payments WHERE allowance_id = a.id AND fiat_currency = a.currency AND {counted}) END AS used_recorded, \
         CASE WHEN a.currency IS NULL THEN NULL ELSE (SELECT CAST(COALESCE(SUM({total}), 0) AS BIGINT) FROM payments \
         WHERE allowance_id = a.id AND fiat_currency IS DISTINCT FROM a.currency AND {counted}) END AS used_unrecorded"
    )
}

fn select_sql(filter: &str) -> String {
    format!(
        "SELECT a.*, g.name AS agent, \
         (SELECT COUNT(*) FROM payments WHERE allowance_id = a.id \
           AND status IN ('pending', 'settled', 'unknown', 'bad_preimage')) AS calls, {} \
         FROM allowances a JOIN agents g ON g.id = a.agent_id {filter}",
        fiat_spent_sql()
    )
}

/// An allowance's maxima in a currency, and what it spent, from its row (`None` for one in sats).
fn fiat_of(r: &super::engine::DbRow) -> Option<(FiatCap, Option<i64>, FiatSpent)> {
    let currency: String = r.get::<Option<String>, _>("currency")?;
    let cap = FiatCap {
        currency,
        max_micros: r.get::<Option<i64>, _>("max_micros").unwrap_or(0),
        per_payment_max_micros: r.get("per_payment_max_micros"),
    };
    let spent = super::snapshot::fiat_spent(
        r.get::<Option<f64>, _>("used_recorded").unwrap_or(0.0),
        r.get::<Option<i64>, _>("used_unrecorded").unwrap_or(0),
    );
    Some((cap, r.get("asked_max_micros"), spent))
}

fn from_row(r: &super::engine::DbRow, now_ms: i64) -> Allowance {
    let json = |col: &str| r.get::<Option<String>, _>(col).and_then(|t| serde_json::from_str(&t).ok());
    let scopes: Vec<Scope> = json("scopes").map(scopes_from).unwrap_or_default();
    let max = r.get::<i64, _>("max_msat").max(0) as u64;
    let used = r.get::<i64, _>("used_msat").max(0) as u64;
    let expires_at_ms = r.get("expires_at_ms");
    let stored: String = r.get("state");
    let fiat = fiat_of(r);
    let money = |micros: i64| fiat.as_ref().map(|(cap, _, _)| Money { currency: cap.currency.clone(), micros });
    // In a currency, "exhausted" compares what was recorded against its maximum, in millionths.
    let (used_for_state, max_for_state) = match &fiat {
        Some((cap, _, spent)) => (spent.recorded_micros.max(0) as u64, cap.max_micros.max(0) as u64),
        None => (used, max),
    };
    Allowance {
        id: r.get("id"),
        agent: r.get("agent"),
        purpose: r.get("purpose"),
        state: AllowanceState::read(&stored, now_ms, expires_at_ms, Msats(used_for_state), Msats(max_for_state)),
        max_msat: max,
        asked_max_msat: r.get::<i64, _>("asked_max_msat").max(0) as u64,
        per_payment_max_msat: r.get::<Option<i64>, _>("per_payment_max_msat").map(|m| m.max(0) as u64),
        apis: scopes.iter().map(api_of).collect(),
        used_msat: used,
        calls: r.get("calls"),
        asked_duration_ms: r.get("asked_duration_ms"),
        confirmed: super::engine::flag(r, "confirmed"),
        opened_by: r.get("opened_by"),
        created_at_ms: r.get("created_at_ms"),
        decided_at_ms: r.get("decided_at_ms"),
        expires_at_ms,
        closed_at_ms: r.get("closed_at_ms"),
        closed_by: r.get("closed_by"),
        plan: json("plan"),
        summary: json("summary"),
        max_fiat: fiat.as_ref().and_then(|(cap, _, _)| money(cap.max_micros)),
        asked_max_fiat: fiat.as_ref().and_then(|(_, asked, _)| money((*asked)?)),
        per_payment_max_fiat: fiat.as_ref().and_then(|(cap, _, _)| money(cap.per_payment_max_micros?)),
        used_fiat: fiat.as_ref().and_then(|(_, _, spent)| money(spent.recorded_micros)),
    }
}

fn scopes_from(v: Value) -> Vec<Scope> {
    let Value::Array(items) = v else { return Vec::new() };
    items
        .iter()
        .map(|s| Scope {
            agent_id: None,
            agent: None,
            host: s["host"].as_str().map(str::to_string),
            path_prefix: s["path_prefix"].as_str().map(str::to_string),
        })
        .collect()
}

fn api_of(s: &Scope) -> String {
    format!("{}{}", s.host.as_deref().unwrap_or_default(), s.path_prefix.as_deref().unwrap_or_default())
}

impl Ledger {
    /// Records an allowance: requested (an agent asked) or active at once (a person opened it).
    pub async fn open_allowance(&self, ask: &AllowanceAsk, by: OpenedBy) -> Result<Allowance> {
        let agent_id = self.agent_id(&ask.agent).await?;
        let purpose = validate(ask)?;
        let mut scopes = Vec::new();
        for api in &ask.apis {
            let scope = self.resolve_scope(&ScopeSpec::parse(None, Some(api))).await?;
            if scope.host.is_none() {
                return Err(Error::Invalid(format!("`{api}` names no API: write host, host:port or a URL")));
            }
            scopes.push(json!({"host": scope.host, "path_prefix": scope.path_prefix}));
        }
        let now = self.now_ms();
        if by == OpenedBy::Agent {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM allowances WHERE agent_id = $1 AND state = 'requested' AND expires_at_ms > $2",
            )
            .bind(agent_id)
            .bind(now)
            .fetch_one(self.pool())
            .await?;
            if waiting >= MAX_REQUESTED_PER_AGENT {
                return Err(Error::Invalid(format!(
                    "{MAX_REQUESTED_PER_AGENT} of this agent's allowance requests already wait for the person"
                )));
            }
        }
        let (state, decided, confirmed) = match by {
            OpenedBy::Agent => ("requested", None, false),
            OpenedBy::Person { confirmed } => ("active", Some(now), confirmed),
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO allowances (agent_id, purpose, asked_max_msat, max_msat, per_payment_max_msat, scopes, \
             asked_duration_ms, plan, state, confirmed, opened_by, created_at_ms, decided_at_ms, expires_at_ms, \
             currency, asked_max_micros, max_micros, per_payment_max_micros) \
             VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11 + $6, $13, $14, $14, $15) RETURNING id",
        )
        .bind(agent_id)
        .bind(&purpose)
        .bind(clamp(ask.max))
        .bind(ask.per_payment_max.map(clamp))
        .bind(Value::Array(scopes).to_string())
        .bind(ask.duration_ms)
        .bind(ask.plan.as_ref().map(Value::to_string))
        .bind(state)
        .bind(i64::from(confirmed))
        .bind(if by == OpenedBy::Agent { "agent" } else { "person" })
        .bind(now)
        .bind(decided)
        .bind(ask.fiat.as_ref().map(|f| f.currency.clone()))
        .bind(ask.fiat.as_ref().map(|f| f.max_micros))
        .bind(ask.fiat.as_ref().and_then(|f| f.per_payment_max_micros))
        .fetch_one(self.pool())
        .await?;
        self.allowance(id).await
    }

    pub async fn allowance(&self, id: i64) -> Result<Allowance> {
        let row = sqlx::query(sqlx::AssertSqlSafe(select_sql("WHERE a.id = $1")))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(Error::NotFound("allowance", id))?;
        Ok(from_row(&row, self.now_ms()))
    }

    /// Allowances, newest first: those still open first when `open_only`, else the last `limit`.
    pub async fn allowances(&self, agent: Option<&str>, open_only: bool, limit: i64) -> Result<Vec<Allowance>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(select_sql(
            "WHERE ($1 IS NULL OR g.name = $1) AND ($2 = 0 OR a.state IN ('requested', 'active')) \
             ORDER BY a.id DESC LIMIT $3",
        )))
        .bind(agent)
        .bind(i64::from(open_only))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let now = self.now_ms();
        Ok(rows.iter().map(|r| from_row(r, now)).filter(|a| !open_only || a.state.is_open()).collect())
    }

    /// A person's answer to a requested allowance. The maximum may only be lowered and the time only
    /// shortened; the time limit runs from the answer.
    pub async fn decide_allowance(&self, id: i64, answer: &AllowanceAnswer) -> Result<Allowance> {
        let current = self.allowance(id).await?;
        if current.state != AllowanceState::Requested {
            return Err(Error::Invalid(format!(
                "allowance #{id} is {}, not waiting for an answer",
                current.state.as_str()
            )));
        }
        let (max, max_micros) = match (&current.asked_max_fiat, answer.max.clone()) {
            (None, None) => (current.asked_max_msat, None),
            (None, Some(NewMax::Sats(m))) => (m.0, None),
            (Some(asked), None) => (0, Some(asked.micros)),
            (Some(asked), Some(NewMax::Money(m))) if m.currency == asked.currency => (0, Some(m.micros)),
            (Some(asked), Some(_)) => {
                return Err(Error::Invalid(format!(
                    "allowance #{id} is set in {}: give its maximum in {0}",
                    asked.currency
                )));
            }
            (None, Some(NewMax::Money(_))) => {
                return Err(Error::Invalid(format!("allowance #{id} is set in sats: give its maximum in sats")));
            }
        };
        let duration = answer.duration_ms.unwrap_or(current.asked_duration_ms);
        match (&current.asked_max_fiat, max_micros) {
            (Some(asked), Some(m)) if answer.approve && (m <= 0 || m > asked.micros) => {
                return Err(Error::Invalid(format!(
                    "the maximum can be lowered, not raised: above 0 and at most the {asked} asked"
                )));
            }
            (None, _) if answer.approve && (max == 0 || max > current.asked_max_msat) => {
                return Err(Error::Invalid(format!(
                    "the maximum can be lowered, not raised: between 1 sat and the {} asked",
                    Msats(current.asked_max_msat)
                )));
            }
            _ => {}
        }
        if answer.approve && !(1_000..=current.asked_duration_ms).contains(&duration) {
            return Err(Error::Invalid("the time limit can be shortened, not lengthened".into()));
        }
        let now = self.now_ms();
        let changed = sqlx::query(
            "UPDATE allowances SET state = $2, max_msat = $3, confirmed = $4, decided_at_ms = $5, \
             expires_at_ms = CASE WHEN $2 = 'active' THEN $5 + $6 ELSE expires_at_ms END, \
             max_micros = COALESCE($7, max_micros) \
             WHERE id = $1 AND state = 'requested' AND expires_at_ms > $5",
        )
        .bind(id)
        .bind(if answer.approve { "active" } else { "denied" })
        .bind(clamp(Msats(max)))
        .bind(i64::from(answer.confirmed))
        .bind(now)
        .bind(duration)
        .bind(max_micros)
        .execute(self.pool())
        .await?;
        if changed.rows_affected() == 0 {
            return Err(Error::Invalid(format!("allowance #{id} was answered or lapsed meanwhile")));
        }
        self.allowance(id).await
    }

    /// Raises an open allowance's maximum (a person's answer to an overage), in its own denomination.
    pub async fn raise_allowance(&self, id: i64, max: NewMax, confirmed: bool) -> Result<Allowance> {
        let current = self.allowance(id).await?;
        let open = matches!(current.state, AllowanceState::Active | AllowanceState::Exhausted);
        let sql = match (&current.max_fiat, &max) {
            (None, NewMax::Sats(m)) if open && m.0 > current.max_msat => {
                "UPDATE allowances SET max_msat = $1, confirmed = $2 WHERE id = $3 AND state = 'active' \
                 AND expires_at_ms > $4 AND max_msat < $1"
            }
            (Some(now), NewMax::Money(m)) if open && m.currency == now.currency && m.micros > now.micros => {
                "UPDATE allowances SET max_micros = $1, confirmed = $2 WHERE id = $3 AND state = 'active' \
                 AND expires_at_ms > $4 AND max_micros < $1"
            }
            (now, _) => {
                let max = now.as_ref().map_or_else(|| Msats(current.max_msat).to_string(), Money::to_string);
                return Err(Error::Invalid(format!(
                    "allowance #{id} can only be raised while active, above its {max} (in its own denomination)"
                )));
            }
        };
        let value = match max {
            NewMax::Sats(m) => clamp(m),
            NewMax::Money(m) => m.micros,
        };
        let changed = sqlx::query(sql)
            .bind(value)
            .bind(i64::from(confirmed))
            .bind(id)
            .bind(self.now_ms())
            .execute(self.pool())
            .await?;
        if changed.rows_affected() == 0 {
            return Err(Error::Invalid(format!("allowance #{id} ended or changed meanwhile: nothing was raised")));
        }
        self.allowance(id).await
    }

    /// Closes an allowance (the rest is released) and records its summary; `by` is "agent" or "person".
    pub async fn close_allowance(&self, id: i64, by: &str) -> Result<Allowance> {
        let current = self.allowance(id).await?;
        if !current.state.is_open() {
            return Err(Error::Invalid(format!("allowance #{id} is already {}", current.state.as_str())));
        }
        let summary = self.allowance_summary(id).await?;
        let now = self.now_ms();
        sqlx::query(
            "UPDATE allowances SET state = 'closed', closed_at_ms = $2, closed_by = $3, summary = $4, \
             expires_at_ms = MIN(expires_at_ms, $2) WHERE id = $1 AND state IN ('requested', 'active')",
        )
        .bind(id)
        .bind(now)
        .bind(by)
        .bind(summary.to_string())
        .execute(self.pool())
        .await?;
        self.allowance(id).await
    }

    /// Spent, calls, APIs, and how many paid calls were delivered, from the allowance's payments.
    async fn allowance_summary(&self, id: i64) -> Result<Value> {
        let rows = sqlx::query(
            "SELECT host, COUNT(*) AS calls, \
             CAST(COALESCE(SUM(CASE WHEN status = 'settled' THEN COALESCE(amount_msat, 0) + COALESCE(fee_msat, 0) END), 0) AS BIGINT) \
               AS spent, COUNT(CASE WHEN delivered = 1 THEN 1 END) AS delivered, \
             COUNT(CASE WHEN status = 'settled' AND delivered = 0 THEN 1 END) AS not_delivered \
             FROM payments WHERE allowance_id = $1 AND status IN ('pending', 'settled', 'unknown', 'bad_preimage') \
             GROUP BY host ORDER BY spent DESC, host",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let sum = |col: &str| rows.iter().map(|r| r.get::<i64, _>(col)).sum::<i64>();
        Ok(json!({
            "spent_msat": sum("spent"),
            "calls": sum("calls"),
            "delivered": sum("delivered"),
            "paid_not_delivered": sum("not_delivered"),
            "apis": rows.iter().map(|r| r.get::<String, _>("host")).collect::<Vec<_>>(),
        }))
    }
}

/// An allowance's maxima as asked: in sats (`max_sats`, `per_payment_sats`) or in a currency (`max_fiat`,
/// `per_payment_fiat`: `"2.50 USD"`), one or the other.
pub fn maxima(
    max_sats: Option<u64>,
    per_payment_sats: Option<u64>,
    max_fiat: Option<&str>,
    per_payment_fiat: Option<&str>,
) -> Result<(Msats, Option<Msats>, Option<FiatCap>)> {
    let money = |text: &str| Money::parse(text).map_err(|e| Error::Invalid(e.to_string()));
    match (max_sats, max_fiat) {
        (Some(_), Some(_)) => Err(Error::Invalid("give the maximum in sats or in a currency, not both".into())),
        (None, Some(max)) => {
            if per_payment_sats.is_some() {
                return Err(Error::Invalid("with a maximum in a currency, give the per-payment one in it too".into()));
            }
            let max = money(max)?;
            let each = per_payment_fiat.map(money).transpose()?;
            if each.as_ref().is_some_and(|e| e.currency != max.currency) {
                return Err(Error::Invalid("both maxima are in one currency".into()));
            }
            let cap = FiatCap {
                currency: max.currency,
                max_micros: max.micros,
                per_payment_max_micros: each.map(|e| e.micros),
            };
            Ok((Msats(0), None, Some(cap)))
        }
        (max, None) => {
            if per_payment_fiat.is_some() {
                return Err(Error::Invalid("with a maximum in sats, give the per-payment one in sats too".into()));
            }
            Ok((Msats::from_sats(max.unwrap_or_default()), per_payment_sats.map(Msats::from_sats), None))
        }
    }
}

/// A new maximum as given: in sats, or `"1.50 USD"` (which must be the allowance's currency).
pub fn new_max(sats: Option<u64>, fiat: Option<&str>) -> Result<Option<NewMax>> {
    match (sats, fiat) {
        (Some(_), Some(_)) => Err(Error::Invalid("give the maximum in sats or in a currency, not both".into())),
        (Some(s), None) => Ok(Some(NewMax::Sats(Msats::from_sats(s)))),
        (None, Some(text)) => {
            Money::parse(text).map(|m| Some(NewMax::Money(m))).map_err(|e| Error::Invalid(e.to_string()))
        }
        (None, None) => Ok(None),
    }
}

/// The most allowances one agent may have waiting for the person at once.
pub const MAX_REQUESTED_PER_AGENT: i64 = 5;

/// What is wrong with `ask`, before anything is read or written; its purpose as stored (control and
/// direction characters removed, so it reads as written wherever it is shown).
pub fn validate(ask: &AllowanceAsk) -> Result<String> {
    let purpose: String = ask
        .purpose
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
        })
        .collect::<String>()
        .trim()
        .to_string();
    if purpose.is_empty() || purpose.chars().count() > 500 {
        return Err(Error::Invalid("an allowance needs a purpose of 1 to 500 characters".into()));
    }
    match &ask.fiat {
        Some(f) if f.max_micros <= 0 || f.per_payment_max_micros.is_some_and(|p| p <= 0 || p > f.max_micros) => {
            return Err(Error::Invalid(format!(
                "an allowance needs a maximum above 0 {0}, and a per-payment maximum above 0 {0} and at most it",
                f.currency
            )));
        }
        Some(_) => {}
        None if ask.max.0 == 0 || ask.per_payment_max.is_some_and(|p| p.0 == 0 || p > ask.max) => {
            return Err(Error::Invalid(
                "an allowance needs a maximum above 0 sats, and a per-payment maximum between 1 sat and it".into(),
            ));
        }
        None => {}
    }
    if !(1_000..=MAX_DURATION_MS).contains(&ask.duration_ms) {
        return Err(Error::Invalid("an allowance's time limit is between 1 second and 7 days".into()));
    }
    if ask.apis.len() > 20 {
        return Err(Error::Invalid("an allowance names at most 20 APIs".into()));
    }
    Ok(purpose)
}

/// Why an allowance a request names cannot carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct NotUsable(pub String);

/// The allowance payment `p` is made under, read inside the decision's transaction: the one it names
/// (`Purser-Allowance`), which must be its agent's, active and cover the API; or else the agent's only active
/// allowance that covers it. `Ok(None)`: none applies. `any_active` (from the decision's statement) says
/// whether the agent has one at all: when it has none and names none, nothing more is read.
pub(crate) async fn applicable(
    conn: &mut Conn,
    p: &super::new_payment::NewPayment,
    any_active: bool,
    now_ms: i64,
) -> Result<std::result::Result<Option<AllowanceUse>, NotUsable>> {
    let (agent_id, host, path, named) = (p.agent_id, p.host.as_str(), p.path.as_str(), p.allowance);
    if !any_active && named.is_none() {
        return Ok(Ok(None));
    }
    let sql = format!(
        "SELECT a.id, a.purpose, a.max_msat, a.per_payment_max_msat, a.scopes, a.confirmed, a.used_msat AS used, \
         a.currency, a.asked_max_micros, a.max_micros, a.per_payment_max_micros, {} \
         FROM allowances a WHERE a.agent_id = $1 AND a.state = 'active' AND a.expires_at_ms > $2 \
         AND ($3 IS NULL OR a.id = $3)",
        fiat_spent_sql()
    );
    let rows =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(agent_id).bind(now_ms).bind(named).fetch_all(&mut *conn).await?;
    let covering: Vec<AllowanceUse> = rows
        .iter()
        .filter(|r| covers(&r.get::<String, _>("scopes"), agent_id, host, path))
        .map(|r| AllowanceUse {
            id: r.get("id"),
            purpose: r.get("purpose"),
            max: Msats(r.get::<i64, _>("max_msat").max(0) as u64),
            per_payment_max: r.get::<Option<i64>, _>("per_payment_max_msat").map(|m| Msats(m.max(0) as u64)),
            used: Msats(r.get::<i64, _>("used").max(0) as u64),
            confirmed: super::engine::flag(r, "confirmed"),
            fiat: fiat_of(r).map(|(cap, _, spent)| FiatAllowance {
                currency: cap.currency,
                max_micros: cap.max_micros,
                per_payment_max_micros: cap.per_payment_max_micros,
                spent,
            }),
        })
        .collect();
    Ok(match (named, rows.len(), covering.len()) {
        (Some(id), 0, _) => Err(NotUsable(format!(
            "allowance #{id} is not an active allowance of this agent (it may have expired, been closed or \
             never been approved)"
        ))),
        (Some(id), _, 0) => Err(NotUsable(format!("allowance #{id} does not cover {host}{path}"))),
        (_, _, 1) => Ok(covering.into_iter().next()),
        _ => Ok(None),
    })
}

/// Whether an allowance's stored `scopes` cover `agent_id`'s payment to `host` and `path`. Unreadable scopes,
/// or one naming no API, cover nothing: only a readable empty list means any API.
pub(super) fn covers(scopes: &str, agent_id: i64, host: &str, path: &str) -> bool {
    match serde_json::from_str::<Value>(scopes) {
        Ok(Value::Array(items)) if items.is_empty() => true,
        Ok(v) => scopes_from(v).iter().any(|s| s.host.is_some() && s.matches(agent_id, host, path)),
        Err(_) => false,
    }
}

fn clamp(m: Msats) -> i64 {
    i64::try_from(m.0).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running use the triggers keep equals the slow sum after inserts, status and amount changes, a move
    /// to another allowance and deletes.
    #[tokio::test]
    async fn the_running_use_matches_the_payments() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = crate::ledger::testing::fresh(dir.path()).await.unwrap();
        ledger.add_agent("a").await.unwrap();
        let ask = AllowanceAsk {
            agent: "a".into(),
            purpose: "p".into(),
            max: Msats::from_sats(1_000),
            per_payment_max: None,
            apis: Vec::new(),
            duration_ms: 60_000,
            plan: None,
            fiat: None,
        };
        let one = ledger.open_allowance(&ask, OpenedBy::Person { confirmed: false }).await.unwrap().id;
        let two = ledger.open_allowance(&ask, OpenedBy::Person { confirmed: false }).await.unwrap().id;
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < 60) \
             INSERT INTO payments (request_id, agent_id, method, scheme, host, path, challenge_kind, amount_msat, \
             fee_msat, fee_reserve_msat, payment_hash, status, decision, created_at_ms, updated_at_ms, allowance_id) \
             SELECT 'r' || i, 1, 'GET', 'https', 'h', '/p', 'l402', CASE WHEN i % 7 = 0 THEN NULL ELSE 1000 * i END, \
             CASE WHEN i % 3 = 0 THEN NULL ELSE i END, 10000, '0000000000000000000000000000000000000000000000000000000000' || (100000 + i), \
             CASE i % 5 WHEN 0 THEN 'refused' WHEN 1 THEN 'failed' WHEN 2 THEN 'pending' WHEN 3 THEN 'unknown' \
             ELSE 'settled' END, 't', i, i, CASE WHEN i % 4 = 0 THEN NULL WHEN i % 2 = 0 THEN $2 ELSE $1 END FROM n",
        )
        .bind(one)
        .bind(two)
        .execute(ledger.pool())
        .await
        .unwrap();
        let check = || async {
            for id in [one, two] {
                let slow: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT ({USED_SQL}) FROM allowances a WHERE a.id = $1"
                )))
                .bind(id)
                .fetch_one(ledger.pool())
                .await
                .unwrap();
                assert_eq!(ledger.allowance(id).await.unwrap().used_msat as i64, slow, "allowance #{id}");
            }
        };
        check().await;
        for sql in [
            "UPDATE payments SET status = 'settled', fee_msat = 7 WHERE status = 'pending' AND id % 2 = 0",
            "UPDATE payments SET status = 'failed' WHERE status = 'unknown'",
            "UPDATE payments SET amount_msat = amount_msat + 5 WHERE id % 3 = 1",
            "UPDATE payments SET allowance_id = NULL WHERE id % 11 = 0",
            "UPDATE payments SET allowance_id = 2 WHERE id % 13 = 0",
            "DELETE FROM payments WHERE id % 17 = 0",
        ] {
            sqlx::query(sql).execute(ledger.pool()).await.unwrap();
            check().await;
        }
    }
}
