//! The decision: policy over the ledger's snapshot, reserved in one transaction with the payment row, and a
//! person's answer when policy asks for one (then reserved again with it).

use super::Flow;
use super::context::PayContext;
use super::refuse::ledger_down;
use super::timing::Wait;
use crate::approval::{Held, Outcome as Approval};
use crate::challenge::PaymentChallenge;
use crate::http::failure::Failure;
use crate::invoice::CheckedInvoice;
use crate::ledger::payments::{NewPayment, Reservation};
use crate::policy::{Approved, Rules};
use crate::units::Preimage;

/// Requests held for a person at most at once; past it a request that would wait is refused.
pub const MAX_HELD: usize = 1_000;

/// What the decision leaves: a reserved row to pay, or an earlier payment of the same invoice to reuse.
pub(crate) enum Decided {
    Reserved(i64),
    Reuse(Preimage),
}

impl Flow<'_> {
    /// Runs the policy, and a person's approval when it asks for one, until a row is reserved or refused.
    pub(crate) async fn decide(
        &self,
        ctx: &PayContext<'_>,
        ch: &PaymentChallenge,
        checked: &CheckedInvoice,
        record: &NewPayment,
    ) -> Result<Decided, Failure> {
        let amount_msat = Some(checked.amount.0);
        let mut approved = Approved::Not;
        let mut record = std::borrow::Cow::Borrowed(record);
        loop {
            if approved != Approved::Not {
                // A person may have taken minutes: the limits in a currency convert at a rate asked again.
                let rates = self.rates_for(&record, ctx.max_fiat.as_ref()).await;
                record.to_mut().rates = rates;
            }
            match self.host.ledger().reserve(&record, approved, &Rules).await.map_err(ledger_down)? {
                Reservation::Reserved { payment_id, alerts, .. } => {
                    self.emit_alerts(alerts);
                    return Ok(Decided::Reserved(payment_id));
                }
                Reservation::AlreadyPaid { preimage, .. } => return Ok(Decided::Reuse(preimage)),
                Reservation::InFlight => {
                    return Err(Failure::Unavailable {
                        reason: "payment_in_flight".into(),
                        detail: "this invoice is being paid for another request; try again in a moment".into(),
                        retry_after_secs: 2,
                    });
                }
                Reservation::Duplicate { reason, explanation } => {
                    return Err(self.refused(ctx, amount_msat, reason, explanation, serde_json::Value::Null));
                }
                Reservation::Refused { reason, explanation, details, alerts, .. } => {
                    self.emit_alerts(alerts);
                    return Err(self.refused(ctx, amount_msat, reason, explanation, details));
                }
                Reservation::NeedsApproval { explanation, confirm, details, alerts } => {
                    self.emit_alerts(alerts);
                    let fiat = record.rates.rates.first().map(|r| r.money_of(checked.amount));
                    let asked = Asked { confirm, explanation, budget: details, fiat };
                    approved = self.ask_person(ctx, ch, checked, approved, asked).await?;
                }
            }
        }
    }
}

/// What the policy asks a person, as the reservation said.
struct Asked {
    confirm: bool,
    explanation: String,
    budget: serde_json::Value,
    /// What the payment is worth in the display currency.
    fiat: Option<crate::rates::Money>,
}

impl Flow<'_> {
    /// Holds the request for a person's answer; returns how far they approved it, or the refusal (denied,
    /// timed out, too late, or too many already waiting).
    async fn ask_person(
        &self,
        ctx: &PayContext<'_>,
        ch: &PaymentChallenge,
        checked: &CheckedInvoice,
        approved: Approved,
        asked: Asked,
    ) -> Result<Approved, Failure> {
        // A person is asked again only for more than they gave (a click, when the confirm tier came into force
        // meanwhile); never twice for the same.
        let needed = if asked.confirm { Approved::Confirmed } else { Approved::Clicked };
        let refuse =
            |reason: &'static str, detail: String| self.refuse_unpaid(ctx, Some(ch), Some(checked), reason, detail);
        if approved >= needed {
            return Err(refuse("denied_by_user", "the policy still asks after an approval".into()).await);
        }
        if self.host.approvals().waiting() >= MAX_HELD {
            let detail = format!("{MAX_HELD} requests already wait for a person; this one is refused rather than held");
            return Err(refuse("too_many_approvals", detail).await);
        }
        let overage =
            asked.budget["allowance"]["overage"].as_bool().filter(|o| *o).and(asked.budget["allowance"]["id"].as_i64());
        let held = Held {
            agent_id: ctx.agent.id,
            agent: ctx.agent.name.clone(),
            method: ctx.method.to_string(),
            host: ctx.host(),
            path: ctx.target.path().to_string(),
            amount_msat: checked.amount.0,
            fiat: asked.fiat,
            confirm: asked.confirm,
            explanation: asked.explanation,
            budget: asked.budget,
        };
        tracing::info!(request_id = ctx.request_id, agent = %ctx.agent.name, amount = %checked.amount, "waiting for a person's approval");
        let (id, outcome) = ctx.timing.wait(Wait::Approval, self.host.approvals().wait(held)).await;
        let (reason, detail) = match outcome {
            Approval::Approved => match self.still_payable(ch, checked) {
                Ok(()) => return Ok(needed),
                Err((reason, detail)) => (reason, format!("approved too late (approval #{id}): {detail}")),
            },
            Approval::Denied => match overage {
                Some(allowance) => (
                    "allowance_exceeded",
                    format!("a person denied going past allowance #{allowance} (approval #{id})"),
                ),
                None => ("denied_by_user", format!("a person denied this payment (approval #{id})")),
            },
            Approval::TimedOut | Approval::Withdrawn => (
                "approval_timeout",
                format!("nobody answered approval #{id} within {} s", self.host.settings().approval_timeout.as_secs()),
            ),
        };
        Err(refuse(reason, detail).await)
    }
}
