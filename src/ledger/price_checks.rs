//! Price checks on the ledger's figures: an invoice above the advertised price, or far above the endpoint's
//! usual one (the reservation then asks a person, or refuses), and the read-only decision a dry run reports.

use super::alerts::{AlertKind, NewAlert};
use super::new_payment::NewPayment;
use super::{Ledger, Result};
use crate::policy::concerns::{self, PriceConcern};
use crate::policy::{self, Decision, Judge};
use crate::units::Msats;
use serde_json::json;

/// `snapshot` made whole for deciding on `p`: the task allowance it is made under (or why the one it names
/// cannot carry it), and its limits in a currency (budgets, the threshold, the allowance) in msat at `p`'s
/// rates.
pub(super) async fn completed(
    conn: &mut super::engine::Conn,
    p: &NewPayment,
    mut snapshot: policy::Snapshot,
    has_allowance: bool,
    now_ms: i64,
) -> Result<std::result::Result<policy::Snapshot, super::allowances::NotUsable>> {
    match super::allowances::applicable(conn, p, has_allowance, now_ms).await? {
        Ok(task) => snapshot.allowance = task,
        Err(not_usable) => return Ok(Err(not_usable)),
    }
    Ok(Ok(policy::fiat::price(snapshot, &p.rates, now_ms)))
}

impl Ledger {
    /// What [`Ledger::reserve`] would decide for `p` now, without writing anything (a dry run, a quote),
    /// task allowance included.
    pub async fn evaluate(&self, p: &NewPayment, judge: &dyn Judge) -> Result<Decision> {
        let amount = p.amount.unwrap_or_default();
        let mut conn = self.pool().acquire().await?;
        let read = super::decision_read::read(&mut conn, self, p).await?;
        // The allowance the payment would be made under, as the reservation reads it.
        let snapshot = match completed(&mut conn, p, read.snapshot, read.has_allowance, self.now_ms()).await? {
            Ok(snapshot) => snapshot,
            Err(super::allowances::NotUsable(explanation)) => {
                let details = json!({"allowance_id": p.allowance});
                return Ok(Decision::Refuse { reason: "allowance_not_usable", explanation, details });
            }
        };
        let concern = price_concern(self, p, amount, read.usual_msat, judge);
        if let Some(alert) = &concern
            && self.policy().refuse_price_mismatch
        {
            return Ok(Decision::Refuse {
                reason: "price_mismatch",
                explanation: alert.message.clone(),
                details: json!({"price_mismatch": {"asked_msat": amount.0, "advertised_msat": p.advertised.map(|a| a.0)}}),
            });
        }
        let request = policy::Request {
            agent: p.agent.clone(),
            amount,
            fee_reserve: judge.fee_reserve(amount),
            approved: crate::policy::Approved::Not,
            price_concern: concern.map(|a| a.message),
        };
        Ok(judge.decide(&snapshot, &request))
    }
}

/// The alert for an invoice above the endpoint's advertised price, or above its usual price (the mean of its
/// last 20 settled payments, once there are 3: `usual_msat`) by more than the configured margin; `None` when
/// the price is as expected. Such a payment goes to a person, or is refused when `purser.toml` says so.
pub(super) fn price_concern(
    ledger: &Ledger,
    p: &NewPayment,
    amount: Msats,
    usual_msat: Option<f64>,
    judge: &dyn Judge,
) -> Option<NewAlert> {
    let alert = |kind: AlertKind, message: String| NewAlert {
        kind,
        agent_id: Some(p.agent_id),
        host: Some(p.host.clone()),
        budget_id: None,
        message,
        dedupe_key: p.payment_hash.map(|h| format!("price:{}", h.to_hex())),
    };
    let margin_pct = ledger.policy().price_alert_margin_pct;
    let concern = judge
        .price_concern(amount, p.advertised, None, margin_pct)
        .or_else(|| judge.price_concern(amount, None, usual_msat, margin_pct));
    concern.map(|c| match c {
        PriceConcern::AboveAdvertised { advertised } => alert(
            AlertKind::PriceAboveAdvertised,
            format!(
                "{}{} asks {amount}, {}",
                p.host,
                p.path,
                concerns::how_far_above(amount, advertised, "advertised")
            ),
        ),
        PriceConcern::AboveUsual { usual, margin_pct } => alert(
            AlertKind::PriceAboveUsual,
            format!(
                "{}{} asks {amount}, {} (the margin is {margin_pct} %)",
                p.host,
                p.path,
                concerns::how_far_above(amount, usual, "usual")
            ),
        ),
    })
}
