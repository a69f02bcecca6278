//! The person's display currency as stored (it overrides `currency` in `purser.toml` once chosen in the app
//! or the CLI), which currencies a payment's limits are set in, and rate sources' disagreements as alerts.

use super::alerts::{AlertKind, NewAlert};
use super::decision_read::{limit_currencies, load_tables};
use super::new_payment::NewPayment;
use super::{Ledger, Result};
use crate::rates::race::Disagreement;

/// The settings key of the display currency: an ISO code, or empty for "sats only".
const DISPLAY_CURRENCY: &str = "display_currency";

/// The currencies one payment's decision needs rates for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Currencies {
    /// The person's display currency, when they chose one (stored, else `purser.toml`'s).
    pub display: Option<String>,
    /// The currencies of the budgets and threshold that apply to the payment and of the agent's active
    /// allowances, when set in one.
    pub limits: Vec<String>,
}

impl Ledger {
    /// The display currency chosen in the app or the CLI: `Some(None)` when the person chose sats only,
    /// `None` when they never chose (then `purser.toml` says).
    pub async fn stored_display_currency(&self) -> Result<Option<Option<String>>> {
        let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(DISPLAY_CURRENCY)
            .fetch_optional(self.pool())
            .await?;
        Ok(value.map(|v| Some(v).filter(|v| !v.is_empty())))
    }

    /// Chooses the display currency (an ISO code, upper case) or none.
    pub async fn set_display_currency(&self, currency: Option<&str>) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(DISPLAY_CURRENCY)
        .bind(currency.unwrap_or_default())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The currencies a payment `p` needs rates for: the display currency (`configured` when none was chosen
    /// here) and those its limits (budgets, threshold, the agent's active allowances) are set in. One
    /// statement; the policy tables come from memory while their generation holds, as the decision's own
    /// read does.
    pub async fn currencies_for(&self, configured: Option<&str>, p: &NewPayment) -> Result<Currencies> {
        let now = self.now_ms();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, value FROM settings WHERE key IN ('policy_generation', $1) \
             UNION ALL SELECT DISTINCT 'allowance', currency FROM allowances \
             WHERE agent_id = $2 AND state = 'active' AND expires_at_ms > $3 AND currency IS NOT NULL",
        )
        .bind(DISPLAY_CURRENCY)
        .bind(p.agent_id)
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        let value = |key: &str| rows.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let display = match value(DISPLAY_CURRENCY) {
            Some(chosen) => Some(chosen).filter(|c| !c.is_empty()),
            None => configured.map(str::to_string),
        };
        let generation = value("policy_generation").and_then(|g| g.parse::<i64>().ok());
        let tables = match self.hot().policy().filter(|t| generation.is_some() && t.generation == generation) {
            Some(tables) => tables,
            None => load_tables(&mut *self.pool().acquire().await?, self, generation).await?,
        };
        let mut limits = limit_currencies(&tables, p, now, &self.policy().time_zone);
        limits.extend(rows.iter().filter(|(k, _)| k == "allowance").map(|(_, c)| c.clone()));
        limits.sort();
        limits.dedup();
        Ok(Currencies { display, limits })
    }

    /// The currencies the person uses: the display currency (`configured` when none was chosen here) and
    /// those any budget or threshold is set in. An agent's cap or allowance in a currency must be in one of
    /// them, so no agent makes Purser ask the rate sources for currencies nobody here uses.
    pub async fn person_currencies(&self, configured: Option<&str>) -> Result<Vec<String>> {
        let mut all: Vec<String> = sqlx::query_scalar(
            "SELECT limit_currency FROM budgets WHERE limit_currency IS NOT NULL \
             UNION SELECT currency FROM thresholds WHERE currency IS NOT NULL",
        )
        .fetch_all(self.pool())
        .await?;
        let display = match self.stored_display_currency().await? {
            Some(chosen) => chosen,
            None => configured.map(str::to_string),
        };
        all.extend(display);
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// Records that two rate sources disagree (once per pair of sources and currency a day).
    pub async fn record_rate_disagreement(&self, d: &Disagreement) -> Result<Vec<super::alerts::Alert>> {
        let ((trusted, trusted_price), (other, other_price)) = (&d.trusted, &d.other);
        let apart = ((other_price - trusted_price) / trusted_price * 100.0).abs();
        let alert = NewAlert {
            kind: AlertKind::RateDisagreement,
            agent_id: None,
            host: None,
            budget_id: None,
            message: format!(
                "BTC/{}: {trusted} says {trusted_price:.2} and {other} says {other_price:.2}, {apart:.1} % apart; \
                 Purser used {trusted}'s",
                d.currency
            ),
            dedupe_key: Some(format!("rate:{}:{trusted}:{other}:{}", d.currency, self.now_ms() / 86_400_000)),
        };
        self.record_alerts(std::slice::from_ref(&alert), None).await
    }
}
