//! What is not paid: each refusal written to the ledger first, then answered to the agent, with its event
//! and the alerts it raised.

use super::Flow;
use super::context::{PayContext, new_payment};
use crate::challenge::PaymentChallenge;
use crate::events::Event;
use crate::http::failure::Failure;
use crate::invoice::CheckedInvoice;
use crate::ledger::alerts::{Alert, AlertKind, NewAlert};
use crate::units::Msats;
use crate::wallet;

pub(crate) fn ledger_down(e: crate::ledger::Error) -> Failure {
    tracing::error!("ledger write failed: {e}");
    Failure::Unavailable {
        reason: "ledger_unavailable".into(),
        detail: format!("Purser could not write its ledger, so it did not pay: {e}"),
        retry_after_secs: 5,
    }
}

/// The answer for a wallet error: try later when it may pass, a refusal otherwise.
pub(crate) fn wallet_failure(ctx: &PayContext<'_>, e: &wallet::Error) -> Failure {
    if e.is_transient() {
        Failure::Unavailable { reason: e.reason().into(), detail: e.to_string(), retry_after_secs: 30 }
    } else {
        Failure::Refused {
            reason: e.reason().into(),
            detail: e.to_string(),
            challenge: Box::new(ctx.challenge_headers.clone()),
            details: serde_json::Value::Null,
        }
    }
}

impl Flow<'_> {
    pub(crate) fn refused(
        &self,
        ctx: &PayContext<'_>,
        amount_msat: Option<u64>,
        reason: &str,
        detail: String,
        details: serde_json::Value,
    ) -> Failure {
        self.host.events().emit(Event::PaymentRefused {
            request_id: ctx.request_id.to_string(),
            agent: ctx.agent.name.clone(),
            host: ctx.host(),
            amount_msat,
            reason: reason.to_string(),
        });
        Failure::Refused {
            reason: reason.to_string(),
            detail,
            challenge: Box::new(ctx.challenge_headers.clone()),
            details,
        }
    }

    /// Records that a 402 was not paid, and returns the refusal for the agent.
    pub(crate) async fn refuse_unpaid(
        &self,
        ctx: &PayContext<'_>,
        ch: Option<&PaymentChallenge>,
        checked: Option<&CheckedInvoice>,
        reason: &str,
        detail: String,
    ) -> Failure {
        if let Err(e) = self.host.ledger().record_refusal(&new_payment(ctx, ch, checked), reason, &detail).await {
            return ledger_down(e);
        }
        self.refused(ctx, checked.map(|c| c.amount.0), reason, detail, serde_json::Value::Null)
    }

    /// Records a 402 Purser will not pay and passes on untouched (an offer on another chain), so the ledger
    /// still shows the attempt. A ledger that cannot be written is logged: the agent gets its 402 either way.
    pub(crate) async fn record_unpayable(&self, ctx: &PayContext<'_>, kind: &str, reason: &str, detail: &str) {
        if let Err(e) = self.record_refusal_as(ctx, kind, reason, detail).await {
            tracing::error!(request_id = ctx.request_id, "cannot record an unpayable 402: {e}");
        }
        tracing::info!(request_id = ctx.request_id, reason, "402 passed on unpaid: {detail}");
    }

    /// Writes a refusal decided before any invoice was had, under dialect `kind`.
    pub(crate) async fn record_refusal_as(
        &self,
        ctx: &PayContext<'_>,
        kind: &str,
        reason: &str,
        detail: &str,
    ) -> crate::ledger::Result<()> {
        let mut record = new_payment(ctx, None, None);
        record.challenge_kind = kind.to_string();
        self.host.ledger().record_refusal(&record, reason, detail).await.map(|_| ())
    }

    /// Raises a `wallet_down` alert (at most one every ten minutes) when the wallet or its relay cannot be
    /// reached or does not answer.
    pub(crate) async fn alert_wallet_down(&self, e: &wallet::Error) {
        if !matches!(e, wallet::Error::Unreachable(_) | wallet::Error::Timeout { .. }) {
            return;
        }
        let alert = NewAlert {
            kind: AlertKind::WalletDown,
            agent_id: None,
            host: None,
            budget_id: None,
            message: format!("the wallet cannot be reached: {e}; agents are told to retry later"),
            dedupe_key: Some(format!("wallet_down:{}", self.host.ledger().now_ms() / 600_000)),
        };
        match self.host.ledger().record_alerts(&[alert], None).await {
            Ok(alerts) => self.emit_alerts(alerts),
            Err(le) => tracing::error!("cannot record an alert: {le}"),
        }
    }

    /// The wallet took more routing fee than the cap (`policy::fee_reserve`): counted as it was, and said.
    pub(crate) async fn alert_fee_above_cap(&self, ctx: &PayContext<'_>, checked: &CheckedInvoice, fee: Msats) {
        let cap = crate::policy::fee_reserve(checked.amount);
        if fee <= cap {
            return;
        }
        let alert = NewAlert {
            kind: AlertKind::FeeAboveCap,
            agent_id: Some(ctx.agent.id),
            host: Some(ctx.host()),
            budget_id: None,
            message: format!(
                "the wallet took {fee} of routing fee to pay {} to {}, above the {cap} allowed; it is counted",
                checked.amount,
                ctx.host()
            ),
            dedupe_key: Some(format!("fee:{}", checked.payment_hash.to_hex())),
        };
        match self.host.ledger().record_alerts(&[alert], None).await {
            Ok(alerts) => self.emit_alerts(alerts),
            Err(le) => tracing::error!("cannot record an alert: {le}"),
        }
    }

    pub(crate) fn emit_alerts(&self, alerts: Vec<Alert>) {
        for alert in alerts {
            tracing::warn!(kind = alert.kind.as_str(), "alert: {}", alert.message);
            self.host.events().emit(Event::Alert { alert });
        }
    }
}
