//! The alerts a payment raises as it is reserved: budget crossings (50, 80 and 100 % once per window), an
//! agent spending faster than the velocity limit, and a first payment to an API.

use super::engine::Conn;

use super::alerts::{self, AlertKind, NewAlert};
use super::new_payment::NewPayment;
use super::{Ledger, Result};
use crate::policy::{BudgetUse, Judge, Period};
use crate::units::Msats;

pub(super) async fn record_all(conn: &mut Conn, alerts: &[NewAlert], payment_id: i64, now: i64) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    for a in alerts {
        ids.extend(alerts::record(conn, a, Some(payment_id), now).await?);
    }
    Ok(ids)
}

/// "250 sats", or "250 sats ($0.25)" when the payment was valued in the display currency.
fn both(amount: Msats, p: &NewPayment) -> String {
    match p.rates.rates.first() {
        Some(rate) => format!("{amount} ({})", rate.money_of(amount)),
        None => amount.to_string(),
    }
}

/// The budget-crossing alert for `level` percent of `b`, once per budget window.
pub(super) fn crossing(b: &BudgetUse, level: u64, p: &NewPayment, what: &str, now_ms: i64) -> Option<NewAlert> {
    // A rolling window moves with every payment: alert at most once per window length. What is held at an API
    // goes up and down with no window: at most once an hour.
    let window = match b.budget.period {
        Period::Rolling { hours } => b.window_start_ms? / (i64::from(hours) * 3_600_000),
        Period::Held => now_ms / 3_600_000,
        _ => b.window_start_ms?,
    };
    Some(NewAlert {
        kind: AlertKind::BudgetCrossing,
        agent_id: Some(p.agent_id),
        host: Some(p.host.clone()),
        budget_id: Some(b.budget.id),
        message: format!(
            "{} {level} % {what} ({} of {} {})",
            b.budget.describe(),
            both(b.used, p),
            both(b.budget.limit, p),
            if b.budget.period == Period::Held { "held" } else { "used" }
        ),
        dedupe_key: Some(format!("budget:{}:{level}:{window}", b.budget.id)),
    })
}

/// The ledger's figures the alerts of a payment that goes ahead depend on, besides its budgets.
pub(super) struct Raised {
    /// What the agent spent or holds back in the last minute, before this payment.
    pub last_minute: Msats,
    pub host_paid_before: bool,
}

/// Alerts a payment that goes ahead may raise: budget crossings, velocity, a first payment to an API.
pub(super) fn allow_alerts(
    ledger: &Ledger,
    p: &NewPayment,
    amount: Msats,
    budgets: &[BudgetUse],
    raised: Raised,
    now: i64,
    judge: &dyn Judge,
) -> Vec<NewAlert> {
    let reserve = judge.fee_reserve(amount);
    let mut out = Vec::new();
    for b in budgets.iter().filter(|b| b.budget.period != Period::Request) {
        let asked = b.demand(amount, reserve);
        for level in judge.crossed_levels(b.used, asked, b.budget.limit) {
            let after_use = BudgetUse { used: Msats(b.used.0.saturating_add(asked.0)), ..b.clone() };
            out.extend(crossing(&after_use, level, p, "crossed", now));
        }
    }
    let limit = ledger.policy().velocity_limit_per_minute;
    if judge.velocity_crossed(raised.last_minute, amount, limit) {
        out.push(NewAlert {
            kind: AlertKind::Velocity,
            agent_id: Some(p.agent_id),
            host: Some(p.host.clone()),
            budget_id: None,
            message: format!("agent {} spent more than {} in a minute", p.agent, both(limit, p)),
            dedupe_key: Some(format!("velocity:{}:{}", p.agent_id, now / 60_000)),
        });
    }
    if !raised.host_paid_before {
        out.push(NewAlert {
            kind: AlertKind::FirstPaymentToApi,
            agent_id: Some(p.agent_id),
            host: Some(p.host.clone()),
            budget_id: None,
            message: format!("first payment to {} ({} by agent {})", p.host, both(amount, p), p.agent),
            dedupe_key: Some(format!("first:{}", p.host)),
        });
    }
    out
}
