//! Budgets, thresholds, remembered rules, pauses and circuit breakers as stored, and their validation; the
//! snapshot a decision is made on is read by [`super::snapshot`].

use super::snapshot::{load_budgets, load_rules, load_thresholds, paused_all, spent, spent_fiat, trip_from_row};
use super::{Error, Ledger, Result};
use crate::policy::fiat::{FiatSpent, FiatThreshold};
use crate::policy::{BreakerTrip, Budget, BudgetUse, Period, Rule, Scope, Threshold};
use crate::rates::Money;
use crate::rates::RatesAtHand;
use crate::units::Msats;

/// A scope as a person names it: agent by name, API as `[scheme://]host[:port]` with an optional path prefix.
#[derive(Debug, Clone, Default)]
pub struct ScopeSpec {
    pub agent: Option<String>,
    pub host: Option<String>,
    pub path_prefix: Option<String>,
}

impl ScopeSpec {
    /// A scope from what a person typed: an agent's name and an API as `[scheme://]host[:port][/path-prefix]`
    /// (a URL pasted from the agent's logs works); blank fields mean "any". The host is named as the ledger
    /// records it: lowercase, and without the scheme's default port (`https://API.example.com:443/v1` is
    /// `api.example.com` with `/v1`); the path prefix is normalised as requests' paths are (`/v1//x` is
    /// `/v1/x`). The scheme itself only says which port is the default: the ledger records no scheme, so a
    /// scope covers the API over both.
    pub fn parse(agent: Option<&str>, api: Option<&str>) -> ScopeSpec {
        let agent = agent.map(str::trim).filter(|a| !a.is_empty()).map(str::to_string);
        let (host, path_prefix) = match api.map(str::trim).filter(|a| !a.is_empty()) {
            Some(api) => {
                let lower = api.to_ascii_lowercase();
                let (default_port, rest) = if lower.starts_with("https://") {
                    (Some(":443"), &api[8..])
                } else if lower.starts_with("http://") {
                    (Some(":80"), &api[7..])
                } else if lower.contains("://") {
                    // Another scheme: kept whole, so the check names it.
                    return ScopeSpec { agent, host: Some(api.to_string()), path_prefix: None };
                } else {
                    (None, api)
                };
                let (host, path) = match rest.find(['/', '?', '#']) {
                    Some(i) => (&rest[..i], Some(&rest[i..])),
                    None => (rest, None),
                };
                let mut host = crate::policy::scope::normalize_host(host);
                if let Some(port) = default_port
                    && host.ends_with(port)
                {
                    host.truncate(host.len() - port.len());
                }
                let path = path
                    .map(|p| p.split(['?', '#']).next().unwrap_or_default())
                    .filter(|p| !p.is_empty() && *p != "/")
                    .map(|p| if p.starts_with('/') { crate::http::target::normalize_path(p) } else { p.to_string() });
                (Some(host), path)
            }
            None => (None, None),
        };
        ScopeSpec { agent, host, path_prefix }
    }
}

impl Ledger {
    pub(crate) async fn resolve_scope(&self, spec: &ScopeSpec) -> Result<Scope> {
        if spec.path_prefix.is_some() && spec.host.is_none() {
            return Err(Error::Invalid("a path prefix needs an API host (--api HOST)".into()));
        }
        if let Some(p) = &spec.path_prefix
            && !p.starts_with('/')
        {
            return Err(Error::Invalid(format!("a path prefix starts with '/'; `{p}` does not")));
        }
        if let Some(h) = &spec.host
            && (h.is_empty() || h.contains(['/', '@']) || h.ends_with(':') || h.contains(char::is_whitespace))
        {
            return Err(Error::Invalid(format!(
                "`{h}` is not an API: write host, host:port, or an http:// or https:// address"
            )));
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
        sqlx::query_scalar("SELECT id FROM agents WHERE name = $1")
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
        self.insert_budget(scope, period, (limit, None), expires_at_ms, note).await
    }

    /// A budget set in a currency: its limit is converted when a payment is decided, and what its window
    /// used counts each payment at its recorded rate.
    pub async fn add_fiat_budget(
        &self,
        scope: &ScopeSpec,
        period: Period,
        limit: Money,
        expires_at_ms: Option<i64>,
        note: Option<&str>,
    ) -> Result<Budget> {
        if limit.micros <= 0 {
            return Err(Error::Invalid(format!("a budget's limit must be more than {}", Money { micros: 0, ..limit })));
        }
        self.insert_budget(scope, period, (Msats(0), Some(limit)), expires_at_ms, note).await
    }

    async fn insert_budget(
        &self,
        scope: &ScopeSpec,
        period: Period,
        (limit, limit_fiat): (Msats, Option<Money>),
        expires_at_ms: Option<i64>,
        note: Option<&str>,
    ) -> Result<Budget> {
        let scope = self.resolve_scope(scope).await?;
        if period == Period::Held && (scope.host.is_none() || scope.path_prefix.is_some()) {
            return Err(Error::Invalid(
                "a budget on what is held at an API names the API as a whole: --api HOST, without a path".into(),
            ));
        }
        let hours = match period {
            Period::Rolling { hours } => Some(i64::from(hours)),
            _ => None,
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO budgets (agent_id, host, path_prefix, period, rolling_hours, limit_msat, expires_at_ms, note, \
             created_at_ms, limit_currency, limit_micros) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
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
        .bind(limit_fiat.as_ref().map(|m| m.currency.clone()))
        .bind(limit_fiat.as_ref().map(|m| m.micros))
        .fetch_one(self.pool())
        .await?;
        Ok(Budget { id, scope, period, limit, limit_fiat, expires_at_ms, note: note.map(str::to_string) })
    }

    pub async fn budgets(&self) -> Result<Vec<Budget>> {
        load_budgets(&mut *self.pool().acquire().await?).await
    }

    pub async fn remove_budget(&self, id: i64) -> Result<()> {
        // A later budget may get this id again: its crossings must not look already alerted.
        sqlx::query("UPDATE alerts SET dedupe_key = NULL WHERE budget_id = $1").bind(id).execute(self.pool()).await?;
        remove(self, "DELETE FROM budgets WHERE id = $1", "budget", id).await
    }

    /// Budgets with what their current windows have used, for display; those set in a currency are
    /// converted with `rates` (without a rate their figures in sats stay 0 and what they used in money counts
    /// only the recorded values).
    pub async fn budget_uses(&self, rates: &RatesAtHand) -> Result<Vec<BudgetUse>> {
        let mut conn = self.pool().acquire().await?;
        let now = self.now_ms();
        let mut out = Vec::new();
        for b in load_budgets(&mut conn).await? {
            let start = b.period.window_start_ms(now, &self.policy().time_zone);
            let held = match b.period {
                Period::Held => Some(super::held::held(&mut conn, &b.scope).await?),
                _ => None,
            };
            let (used, fiat_spent) = match (held, &b.limit_fiat, start) {
                (Some(at_api), None, _) => (at_api, None),
                // Valued at today's rate: none of it was paid at a rate of its own yet.
                (Some(at_api), Some(_), _) => (Msats(0), Some(FiatSpent { recorded_micros: 0, unrecorded: at_api })),
                (None, None, Some(start)) => (spent(&mut conn, &b.scope, start).await?, None),
                (None, None, None) => (Msats(0), None),
                (None, Some(limit), Some(start)) => {
                    let valued_in = (limit.currency.as_str(), rates.rate(&limit.currency).map(|r| r.per_btc));
                    (Msats(0), Some(spent_fiat(&mut conn, &b.scope, start, valued_in).await?))
                }
                (None, Some(_), None) => (Msats(0), Some(FiatSpent::default())),
            };
            let with_use = BudgetUse { budget: b, used, window_start_ms: start, fiat_spent, used_fiat: None };
            let Some(limit) = with_use.budget.limit_fiat.clone() else {
                out.push(with_use);
                continue;
            };
            // Converted as a decision converts it; without a rate, its use in money as recorded.
            let recorded = fiat_spent.map(|f| f.recorded_micros).unwrap_or_default();
            let snapshot = crate::policy::Snapshot { budgets: vec![with_use.clone()], ..Default::default() };
            let priced = crate::policy::fiat::price(snapshot, rates, now).budgets.into_iter().next();
            out.push(priced.unwrap_or(BudgetUse { used_fiat: Some(Money { micros: recorded, ..limit }), ..with_use }));
        }
        Ok(out)
    }

    /// Sets the thresholds of a scope, replacing any it had: paid at once up to `auto_max`, asked up to
    /// `ask_max`, and above `confirm_above` (when given) only with the person's confirmation.
    pub async fn set_threshold(
        &self,
        scope: &ScopeSpec,
        auto_max: Msats,
        ask_max: Msats,
        confirm_above: Option<Msats>,
    ) -> Result<Threshold> {
        self.check_threshold(auto_max, ask_max, confirm_above)?;
        self.insert_threshold(scope, (auto_max, ask_max, confirm_above), None).await
    }

    /// Sets the thresholds of a scope in a currency: converted when a payment is decided.
    pub async fn set_fiat_threshold(&self, scope: &ScopeSpec, limits: FiatThreshold) -> Result<Threshold> {
        let f = &limits;
        if f.auto_max_micros < 0 || f.ask_max_micros < 0 {
            return Err(Error::Invalid("a threshold's limits cannot be negative".into()));
        }
        let money = |micros| Money { currency: f.currency.clone(), micros };
        if f.ask_max_micros < f.auto_max_micros {
            return Err(Error::Invalid(format!(
                "the ask limit ({}) cannot be below the auto-approve limit ({})",
                money(f.ask_max_micros),
                money(f.auto_max_micros)
            )));
        }
        if let Some(confirm) = f.confirm_above_micros
            && confirm >= f.ask_max_micros
        {
            return Err(Error::Invalid(format!(
                "the confirm limit ({}) must be below the ask limit ({}): above the ask limit payments are refused",
                money(confirm),
                money(f.ask_max_micros)
            )));
        }
        self.insert_threshold(scope, (Msats(0), Msats(0), None), Some(limits)).await
    }

    fn check_threshold(&self, auto_max: Msats, ask_max: Msats, confirm_above: Option<Msats>) -> Result<()> {
        if ask_max < auto_max {
            return Err(Error::Invalid(format!(
                "the ask limit ({ask_max}) cannot be below the auto-approve limit ({auto_max})"
            )));
        }
        if let Some(confirm) = confirm_above
            && confirm >= ask_max
        {
            return Err(Error::Invalid(format!(
                "the confirm limit ({confirm}) must be below the ask limit ({ask_max}): above the ask limit payments are refused"
            )));
        }
        Ok(())
    }

    async fn insert_threshold(
        &self,
        scope: &ScopeSpec,
        (auto_max, ask_max, confirm_above): (Msats, Msats, Option<Msats>),
        fiat: Option<FiatThreshold>,
    ) -> Result<Threshold> {
        let scope = self.resolve_scope(scope).await?;
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "DELETE FROM thresholds WHERE agent_id IS NOT DISTINCT FROM $1 AND host IS NOT DISTINCT FROM $2 \
             AND path_prefix IS NOT DISTINCT FROM $3",
        )
        .bind(scope.agent_id)
        .bind(&scope.host)
        .bind(&scope.path_prefix)
        .execute(&mut *tx)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO thresholds (agent_id, host, path_prefix, auto_max_msat, ask_max_msat, confirm_above_msat, \
             created_at_ms, currency, auto_max_micros, ask_max_micros, confirm_above_micros) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(scope.agent_id)
        .bind(&scope.host)
        .bind(&scope.path_prefix)
        .bind(auto_max.0 as i64)
        .bind(ask_max.0 as i64)
        .bind(confirm_above.map(|c| c.0 as i64))
        .bind(self.now_ms())
        .bind(fiat.as_ref().map(|f| f.currency.clone()))
        .bind(fiat.as_ref().map(|f| f.auto_max_micros))
        .bind(fiat.as_ref().map(|f| f.ask_max_micros))
        .bind(fiat.as_ref().and_then(|f| f.confirm_above_micros))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Threshold { id, scope, auto_max, ask_max, confirm_above, fiat })
    }

    pub async fn thresholds(&self) -> Result<Vec<Threshold>> {
        load_thresholds(&mut *self.pool().acquire().await?).await
    }

    pub async fn remove_threshold(&self, id: i64) -> Result<()> {
        remove(self, "DELETE FROM thresholds WHERE id = $1", "threshold", id).await
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
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO rules (agent_id, host, path_prefix, max_msat_per_day, source, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(scope.agent_id)
        .bind(&scope.host)
        .bind(&scope.path_prefix)
        .bind(max_per_day.0 as i64)
        .bind(source)
        .bind(self.now_ms())
        .fetch_one(self.pool())
        .await?;
        Ok(Rule { id, scope, max_per_day, source: source.into() })
    }

    pub async fn rules(&self) -> Result<Vec<Rule>> {
        load_rules(&mut *self.pool().acquire().await?).await
    }

    pub async fn remove_rule(&self, id: i64) -> Result<()> {
        remove(self, "DELETE FROM rules WHERE id = $1", "rule", id).await
    }

    /// Pauses or resumes all payments.
    pub async fn set_paused_all(&self, paused: bool) -> Result<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ('paused', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(if paused { "1" } else { "0" })
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn paused_all(&self) -> Result<bool> {
        paused_all(&mut *self.pool().acquire().await?).await
    }

    /// Who paused the agent's payments, if anyone: `all` or `agent`.
    pub async fn payments_paused(&self, agent_id: i64) -> Result<Option<&'static str>> {
        if self.paused_all().await? {
            return Ok(Some("all"));
        }
        let paused: Option<i64> = sqlx::query_scalar("SELECT paused FROM agents WHERE id = $1")
            .bind(agent_id)
            .fetch_optional(self.pool())
            .await?;
        Ok((paused.unwrap_or(0) != 0).then_some("agent"))
    }

    pub async fn set_agent_paused(&self, agent: &str, paused: bool) -> Result<()> {
        let done = sqlx::query("UPDATE agents SET paused = $1 WHERE name = $2")
            .bind(i64::from(paused))
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
        let done = sqlx::query("DELETE FROM breakers WHERE ($1 IS NULL OR host = $2) AND ($3 IS NULL OR path = $4)")
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

#[cfg(test)]
mod tests {
    use super::ScopeSpec;

    fn api(text: &str) -> (Option<String>, Option<String>) {
        let s = ScopeSpec::parse(None, Some(text));
        (s.host, s.path_prefix)
    }

    #[test]
    fn an_api_may_be_named_with_its_scheme_and_is_stored_as_the_ledger_records_it() {
        let want = |h: &str, p: Option<&str>| (Some(h.to_string()), p.map(str::to_string));
        assert_eq!(api("api.example.com"), want("api.example.com", None));
        assert_eq!(api("https://API.example.com:443/v1//x?q=1"), want("api.example.com", Some("/v1/x")));
        assert_eq!(api("http://api.example.com:80"), want("api.example.com", None));
        assert_eq!(api("http://api.example.com:8080/"), want("api.example.com:8080", None));
        assert_eq!(api("https://api.example.com:8443/%78"), want("api.example.com:8443", Some("/x")));
        assert_eq!(api("api.example.com/v1"), want("api.example.com", Some("/v1")));
        assert_eq!(api("ftp://files.example.com"), want("ftp://files.example.com", None));
    }
}
