//! Paying one challenge: the checks, the decision, then the wallet: the `paying` step on disk before the
//! wallet is asked, its answer checked against the payment hash and written before anything else happens.

use super::Flow;
use super::checks::Advertised;
use super::context::{PayContext, Proven, new_payment};
use super::decide::Decided;
use super::proof;
use super::refuse::{ledger_down, wallet_failure};
use super::timing::Wait;
use crate::challenge::PaymentChallenge;
use crate::events::Event;
use crate::http::failure::Failure;
use crate::invoice::CheckedInvoice;
use crate::ledger::payments::{Outcome, ProofToKeep};
use crate::units::{PaymentHash, Preimage};
use crate::wallet;

impl Flow<'_> {
    /// The wallet's network, asked on the runtime `run` was called on: the wallet's relay connection is made
    /// by its first request, and must not live on a serving thread.
    pub(crate) async fn wallet_network(&self) -> wallet::Result<Option<String>> {
        let asking = self.host.wallet().asking_network();
        match self.host.background() {
            Some(runtime) => runtime
                .spawn(asking)
                .await
                .unwrap_or_else(|e| Err(wallet::Error::Protocol(format!("the wallet request stopped: {e}")))),
            None => asking.await,
        }
    }

    /// Pays `ch` for the request in `ctx`, or says why not.
    pub(crate) async fn pay(&self, ctx: &PayContext<'_>, ch: &PaymentChallenge) -> Result<Proven, Failure> {
        let network = match ctx.timing.wait(Wait::Wallet, self.wallet_network()).await {
            Ok(n) => n,
            Err(e) => {
                if let Err(le) = self
                    .host
                    .ledger()
                    .record_refusal(&new_payment(ctx, Some(ch), None), e.reason(), &e.to_string())
                    .await
                {
                    return Err(ledger_down(le));
                }
                self.alert_wallet_down(&e).await;
                return Err(wallet_failure(ctx, &e));
            }
        };
        let checked = match self.check_invoice(ch, network.as_deref()) {
            Ok(c) => c,
            Err(e) => return Err(self.refuse_unpaid(ctx, Some(ch), None, e.reason(), e.to_string()).await),
        };
        if let Err((reason, detail)) = self.request_checks(ctx, ch, &checked) {
            return Err(self.refuse_unpaid(ctx, Some(ch), Some(&checked), reason, detail).await);
        }
        let mut record = new_payment(ctx, Some(ch), Some(&checked));
        let advertised = ctx.timing.wait(Wait::Upstream, self.advertised_price(ctx)).await;
        record.advertised = advertised.map(Advertised::msats);
        if let Err((reason, detail)) = self.quote_check(&checked, advertised) {
            return Err(self.refuse_unpaid(ctx, Some(ch), Some(&checked), reason, detail).await);
        }
        record.rates = ctx.timing.wait(Wait::Upstream, self.rates_for(&record, ctx.max_fiat.as_ref())).await;
        if let Err((reason, detail)) = self.max_fiat_check(ctx, &checked, &record.rates) {
            return Err(self.refuse_unpaid(ctx, Some(ch), Some(&checked), reason, detail).await);
        }
        let payment_id = self.decide(ctx, ch, &checked, &record).await?;
        let payment_id = match payment_id {
            Decided::Reserved(id) => id,
            Decided::Reuse(preimage) => {
                return Ok(Proven { payment_id: None, payment_hash: checked.payment_hash, preimage });
            }
        };
        self.send_payment(ctx, ch, &checked, payment_id).await.map(|preimage| Proven {
            payment_id: Some(payment_id),
            payment_hash: checked.payment_hash,
            preimage,
        })
    }

    /// Asks the wallet to pay a reserved invoice and writes the outcome. The call runs in its own task, so an
    /// agent that hangs up cannot leave the row half-written.
    async fn send_payment(
        &self,
        ctx: &PayContext<'_>,
        ch: &PaymentChallenge,
        checked: &CheckedInvoice,
        payment_id: i64,
    ) -> Result<Preimage, Failure> {
        let wallet = match self.host.wallet().wallet() {
            Ok(w) => w,
            Err(e) => {
                // Disconnected while the payment waited (e.g. for approval): the reserved row must not stay
                // pending and counted.
                let outcome = Outcome::Failed { reason: e.reason().into() };
                self.host.ledger().finish(payment_id, &outcome, None).await.map_err(ledger_down)?;
                return Err(wallet_failure(ctx, &e));
            }
        };
        tracing::info!(request_id = ctx.request_id, agent = %ctx.agent.name, amount = %checked.amount, "paying invoice");
        // The proof is kept with the outcome: if the retry fails, the agent's next try sends it instead of
        // paying again.
        let (agent_id, origin, path, challenge) =
            (ctx.agent.id, ctx.target.origin(), ctx.target.path().to_string(), ch.clone());
        let keep = move |preimage: &Preimage| {
            proof::kept(&challenge, preimage)
                .map(|k| ProofToKeep::new(agent_id, &origin, &path, k.header, &k.value, k.single_use))
        };
        let pay = paying(
            self.host.ledger().clone(),
            wallet,
            (checked.bolt11.clone(), checked.payment_hash, payment_id),
            keep,
        );
        // On the runtime that outlives the serving threads: the wallet's connection is made by the first payment.
        let task = match self.host.background() {
            Some(runtime) => runtime.spawn(pay),
            None => tokio::spawn(pay),
        };
        let (paid, outcome, written) = match task.await {
            Ok((paid, outcome, written, waited)) => {
                ctx.timing.add(Wait::Wallet, waited);
                (paid, outcome, written)
            }
            Err(e) => {
                // The wallet may have been asked: the outcome is unknown, and stays counted.
                let unknown = Outcome::Unknown { reason: "payment_unknown".into() };
                let _ = self.host.ledger().finish(payment_id, &unknown, None).await;
                return Err(Failure::Unavailable {
                    reason: "payment_unknown".into(),
                    detail: format!("the payment task stopped: {e}"),
                    retry_after_secs: 30,
                });
            }
        };
        if let Err(e) = written {
            tracing::error!(request_id = ctx.request_id, payment_id, "the payment's outcome could not be written: {e}");
        }
        self.answer(ctx, checked, outcome, paid).await
    }

    /// What the wallet's answer means for the agent, and the event it makes.
    async fn answer(
        &self,
        ctx: &PayContext<'_>,
        checked: &CheckedInvoice,
        outcome: Outcome,
        paid: wallet::Result<wallet::Paid>,
    ) -> Result<Preimage, Failure> {
        let event = |reason: String| Event::PaymentFailed {
            request_id: ctx.request_id.into(),
            agent: ctx.agent.name.clone(),
            host: ctx.host(),
            amount_msat: checked.amount.0,
            reason,
        };
        match (outcome, paid) {
            (Outcome::Settled { preimage, fee }, _) => {
                self.alert_fee_above_cap(ctx, checked, fee).await;
                self.host.events().emit(Event::PaymentSettled {
                    request_id: ctx.request_id.into(),
                    agent: ctx.agent.name.clone(),
                    host: ctx.host(),
                    amount_msat: checked.amount.0,
                    fee_msat: fee.0,
                });
                Ok(preimage)
            }
            (Outcome::BadPreimage { .. }, _) => {
                self.host.events().emit(event("bad_preimage".into()));
                Err(Failure::BadGateway {
                    reason: "bad_preimage",
                    detail: "the wallet reported the payment as made, but its preimage does not match the invoice's \
                             payment hash; the request was not retried"
                        .into(),
                })
            }
            (Outcome::Unknown { reason }, Err(e)) => {
                self.host.events().emit(event(reason.clone()));
                self.alert_wallet_down(&e).await;
                Err(Failure::Unavailable {
                    reason,
                    detail: format!("{e}; whether the payment went through is not known yet, so it stays counted"),
                    retry_after_secs: 30,
                })
            }
            (Outcome::Failed { reason }, Err(e)) if reason == "ledger_unavailable" => Err(Failure::Unavailable {
                reason,
                detail: format!("{e}; nothing was sent to the wallet"),
                retry_after_secs: 5,
            }),
            (Outcome::Failed { reason }, Err(e)) => {
                self.host.events().emit(event(reason));
                Err(wallet_failure(ctx, &e))
            }
            (_, Ok(_)) => unreachable!("a wallet answer is settled or bad_preimage"),
        }
    }
}

/// The payment as its own task: `paying` written (and synced) before the wallet hears of the invoice, then
/// the wallet's answer, checked against the payment hash, written as the row's outcome with the proof it
/// yields (`keep`). Returns the answer, the outcome, whether it was written, and how long the wallet took.
async fn paying(
    ledger: crate::ledger::Ledger,
    wallet: std::sync::Arc<dyn wallet::Wallet>,
    (bolt11, hash, payment_id): (String, PaymentHash, i64),
    keep: impl FnOnce(&Preimage) -> Option<ProofToKeep>,
) -> (wallet::Result<wallet::Paid>, Outcome, crate::ledger::Result<()>, std::time::Duration) {
    let marked = ledger.mark_paying(payment_id).await;
    if !matches!(marked, Ok(true)) {
        let outcome = Outcome::Failed { reason: "ledger_unavailable".into() };
        let written = ledger.finish(payment_id, &outcome, None).await;
        let why = match marked {
            Err(e) => format!("the ledger could not record the payment step: {e}"),
            _ => "the reserved row was closed before the wallet was asked".into(),
        };
        return (Err(wallet::Error::Protocol(why)), outcome, written, std::time::Duration::ZERO);
    }
    let asked = tokio::time::Instant::now();
    let paid = wallet.pay_invoice(&bolt11).await;
    let waited = asked.elapsed();
    let outcome = match &paid {
        Ok(p) if p.preimage.matches(&hash) => Outcome::Settled { preimage: p.preimage.clone(), fee: p.fee },
        Ok(p) => Outcome::BadPreimage { preimage: p.preimage.clone(), fee: p.fee },
        Err(e) if e.nothing_was_paid() => Outcome::Failed { reason: e.reason().into() },
        Err(e) => Outcome::Unknown { reason: e.reason().into() },
    };
    let proof = match &outcome {
        Outcome::Settled { preimage, .. } => keep(preimage),
        _ => None,
    };
    let written = ledger.finish(payment_id, &outcome, proof.as_ref()).await;
    (paid, outcome, written, waited)
}
