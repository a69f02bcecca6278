//! Paying one challenge: invoice checks, the policy's reservation, the wallet call, the preimage check —
//! each step's outcome written to the ledger before the next step starts.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use tokio::sync::OnceCell;

use super::Proxy;
use super::refusal::Failure;
use super::target::Target;
use crate::challenge::PaymentChallenge;
use crate::events::Event;
use crate::invoice::{self, CheckedInvoice, Expectations};
use crate::ledger::agents::Agent;
use crate::ledger::payments::{NewPayment, Outcome, Reservation};
use crate::units::{PaymentHash, Preimage};
use crate::wallet::{self, Wallet};

/// The wallet the proxy pays with, and its network, asked once.
pub struct WalletHandle {
    wallet: Option<Arc<dyn Wallet>>,
    network: OnceCell<Option<String>>,
}

impl WalletHandle {
    pub fn new(wallet: Option<Arc<dyn Wallet>>) -> Self {
        WalletHandle {
            wallet,
            network: OnceCell::new(),
        }
    }

    pub fn wallet(&self) -> wallet::Result<&Arc<dyn Wallet>> {
        self.wallet.as_ref().ok_or(wallet::Error::NotConfigured)
    }

    /// The wallet's network from `get_info`, asked on first use and kept.
    pub async fn network(&self) -> wallet::Result<Option<String>> {
        let wallet = self.wallet()?;
        self.network
            .get_or_try_init(|| async { Ok(wallet.get_info().await?.network) })
            .await
            .cloned()
    }
}

/// The request a payment is made for.
pub struct PayContext<'a> {
    pub request_id: &'a str,
    pub agent: &'a Agent,
    pub method: &'a str,
    pub target: &'a Target,
    /// The upstream 402's headers, kept on a refusal so the agent still sees the challenge.
    pub challenge_headers: &'a HeaderMap,
}

/// A payment whose proof can go on the retry.
pub struct Proven {
    pub payment_id: i64,
    pub payment_hash: PaymentHash,
    pub preimage: Preimage,
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn new_payment(
    ctx: &PayContext<'_>,
    ch: &PaymentChallenge,
    checked: Option<&CheckedInvoice>,
) -> NewPayment {
    NewPayment {
        request_id: ctx.request_id.to_string(),
        agent_id: ctx.agent.id,
        method: ctx.method.to_string(),
        scheme: ctx.target.scheme.clone(),
        host: ctx.target.authority.clone(),
        path: ctx.target.path().to_string(),
        challenge_kind: ch.kind.as_str().to_string(),
        amount: checked.map(|c| c.amount),
        payment_hash: checked.map(|c| c.payment_hash).or(ch.payment_hash),
        invoice: Some(ch.invoice.clone()),
    }
}

fn ledger_down(e: crate::ledger::Error) -> Failure {
    tracing::error!("ledger write failed: {e}");
    Failure::Unavailable {
        reason: "ledger_unavailable".into(),
        detail: format!("Purser could not write its ledger, so it did not pay: {e}"),
        retry_after_secs: 5,
    }
}

impl Proxy {
    fn refused(
        &self,
        ctx: &PayContext<'_>,
        amount_msat: Option<u64>,
        reason: &str,
        detail: String,
    ) -> Failure {
        self.events.emit(Event::PaymentRefused {
            request_id: ctx.request_id.to_string(),
            agent: ctx.agent.name.clone(),
            host: ctx.target.authority.clone(),
            amount_msat,
            reason: reason.to_string(),
        });
        Failure::Refused {
            reason: reason.to_string(),
            detail,
            challenge: ctx.challenge_headers.clone(),
        }
    }

    /// Records that a 402 was not paid, and returns the refusal for the agent.
    pub(super) async fn refuse_unpaid(
        &self,
        ctx: &PayContext<'_>,
        ch: &PaymentChallenge,
        reason: &str,
        detail: String,
    ) -> Failure {
        if let Err(e) = self
            .ledger
            .record_refusal(&new_payment(ctx, ch, None), reason, &detail)
            .await
        {
            return ledger_down(e);
        }
        self.refused(ctx, None, reason, detail)
    }

    /// The answer for a wallet error: try later when it may pass, a refusal otherwise.
    fn wallet_failure(ctx: &PayContext<'_>, e: &wallet::Error) -> Failure {
        if e.is_transient() {
            Failure::Unavailable {
                reason: e.reason().into(),
                detail: e.to_string(),
                retry_after_secs: 30,
            }
        } else {
            Failure::Refused {
                reason: e.reason().into(),
                detail: e.to_string(),
                challenge: ctx.challenge_headers.clone(),
            }
        }
    }

    /// Pays `ch` for the request in `ctx`, or says why not.
    pub(super) async fn pay(
        &self,
        ctx: &PayContext<'_>,
        ch: &PaymentChallenge,
    ) -> Result<Proven, Failure> {
        let network = match self.wallet.network().await {
            Ok(n) => n,
            Err(e) => {
                if let Err(le) = self
                    .ledger
                    .record_refusal(&new_payment(ctx, ch, None), e.reason(), &e.to_string())
                    .await
                {
                    return Err(ledger_down(le));
                }
                self.refused(ctx, None, e.reason(), e.to_string());
                return Err(Self::wallet_failure(ctx, &e));
            }
        };
        let want = Expectations {
            payment_hash: ch.payment_hash.as_ref(),
            wallet_network: network.as_deref(),
            now: now(),
            expiry_margin: self.settings.invoice_expiry_margin,
        };
        let checked = match invoice::check(&ch.invoice, &want) {
            Ok(c) => c,
            Err(e) => return Err(self.refuse_unpaid(ctx, ch, e.reason(), e.to_string()).await),
        };
        let amount_msat = Some(checked.amount.0);
        let record = new_payment(ctx, ch, Some(&checked));
        let payment_id = match self
            .ledger
            .reserve(&record, &self.limits())
            .await
            .map_err(ledger_down)?
        {
            Reservation::Reserved { payment_id, .. } => payment_id,
            Reservation::AlreadyPaid {
                payment_id,
                preimage,
            } => {
                return Ok(Proven {
                    payment_id,
                    payment_hash: checked.payment_hash,
                    preimage,
                });
            }
            Reservation::InFlight => {
                return Err(Failure::Unavailable {
                    reason: "payment_in_flight".into(),
                    detail: "this invoice is being paid for another request; try again in a moment"
                        .into(),
                    retry_after_secs: 2,
                });
            }
            Reservation::Refused {
                reason,
                explanation,
                ..
            } => {
                return Err(self.refused(ctx, amount_msat, reason, explanation));
            }
        };
        let wallet = self
            .wallet
            .wallet()
            .map_err(|e| Self::wallet_failure(ctx, &e))?;
        tracing::info!(request_id = ctx.request_id, agent = %ctx.agent.name, amount = %checked.amount, "paying invoice");
        let (outcome, result) = match wallet.pay_invoice(&checked.bolt11).await {
            Ok(paid) if paid.preimage.matches(&checked.payment_hash) => (
                Outcome::Settled { preimage: paid.preimage.clone(), fee: paid.fee },
                Ok(Proven { payment_id, payment_hash: checked.payment_hash, preimage: paid.preimage }),
            ),
            Ok(paid) => (
                Outcome::BadPreimage { preimage: paid.preimage, fee: paid.fee },
                Err(Failure::BadGateway {
                    reason: "bad_preimage",
                    detail: "the wallet reported the payment as made, but its preimage does not match the invoice's \
                             payment hash; the request was not retried"
                        .into(),
                }),
            ),
            Err(e @ wallet::Error::Timeout { .. }) => (
                Outcome::Unknown { reason: e.reason().into() },
                Err(Failure::Unavailable {
                    reason: e.reason().into(),
                    detail: format!("{e}; whether the payment went through is not known yet, so it stays counted"),
                    retry_after_secs: 30,
                }),
            ),
            Err(e) => (Outcome::Failed { reason: e.reason().into() }, Err(Self::wallet_failure(ctx, &e))),
        };
        self.ledger
            .finish(payment_id, &outcome)
            .await
            .map_err(ledger_down)?;
        let event = match &outcome {
            Outcome::Settled { fee, .. } => Event::PaymentSettled {
                request_id: ctx.request_id.into(),
                agent: ctx.agent.name.clone(),
                host: ctx.target.authority.clone(),
                amount_msat: checked.amount.0,
                fee_msat: fee.0,
            },
            Outcome::Failed { reason } | Outcome::Unknown { reason } => Event::PaymentFailed {
                request_id: ctx.request_id.into(),
                agent: ctx.agent.name.clone(),
                host: ctx.target.authority.clone(),
                amount_msat: checked.amount.0,
                reason: reason.clone(),
            },
            Outcome::BadPreimage { .. } => Event::PaymentFailed {
                request_id: ctx.request_id.into(),
                agent: ctx.agent.name.clone(),
                host: ctx.target.authority.clone(),
                amount_msat: checked.amount.0,
                reason: "bad_preimage".into(),
            },
        };
        self.events.emit(event);
        result
    }
}
