//! Paying one challenge: invoice checks, the policy's decision (and a person's, when it asks), the wallet
//! call, the preimage check — each step's outcome written to the ledger before the next step starts.

use std::sync::{Arc, RwLock};

use http::HeaderMap;
use tokio::sync::OnceCell;

use super::Proxy;
use super::refusal::Failure;
use super::target::Target;
use super::timing::{Timing, Wait};
use crate::approval::{Held, Outcome as Approval};
use crate::challenge::PaymentChallenge;
use crate::events::Event;
use crate::invoice::CheckedInvoice;
use crate::ledger::agents::Agent;
use crate::ledger::alerts::Alert;
use crate::ledger::payments::{NewPayment, Outcome, Reservation};
use crate::units::{PaymentHash, Preimage};
use crate::wallet::{self, Wallet};

/// The wallet the proxy pays with, and its network, asked once.
/// It can be replaced while the proxy runs (the desktop app connects and disconnects wallets).
pub struct WalletHandle {
    current: RwLock<Current>,
}

#[derive(Clone)]
struct Current {
    wallet: Option<Arc<dyn Wallet>>,
    network: Arc<OnceCell<Option<String>>>,
}

impl WalletHandle {
    pub fn new(wallet: Option<Arc<dyn Wallet>>) -> Self {
        WalletHandle { current: RwLock::new(Current { wallet, network: Arc::new(OnceCell::new()) }) }
    }

    /// Pays with `wallet` from the next payment on (`None`: no wallet).
    pub fn replace(&self, wallet: Option<Arc<dyn Wallet>>) {
        *self.current.write().unwrap() = Current { wallet, network: Arc::new(OnceCell::new()) };
    }

    pub fn wallet(&self) -> wallet::Result<Arc<dyn Wallet>> {
        self.current.read().unwrap().wallet.clone().ok_or(wallet::Error::NotConfigured)
    }

    /// The wallet's network from `get_info`, asked on first use and kept; the future owns what it needs, so
    /// it can run on another runtime ([`Proxy::wallet_network`]).
    fn asking_network(&self) -> impl std::future::Future<Output = wallet::Result<Option<String>>> + Send + 'static {
        let current = self.current.read().unwrap().clone();
        async move {
            let wallet = current.wallet.ok_or(wallet::Error::NotConfigured)?;
            current.network.get_or_try_init(|| async { Ok(wallet.get_info().await?.network) }).await.cloned()
        }
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
    /// The most this one request may pay (`Purser-Max-Sats`), in msat.
    pub max_msat: Option<u64>,
    /// Where the request's time goes: Purser's own work against waiting for the API, wallet and person.
    pub timing: &'a Timing,
}

impl PayContext<'_> {
    /// The endpoint as the ledger and policy name it: `host[:port]`, lowercase.
    pub fn host(&self) -> String {
        crate::policy::scope::normalize_host(&self.target.authority)
    }
}

/// A payment whose proof can go on the retry.
pub struct Proven {
    /// The ledger row of a payment made now; `None` when an earlier payment's proof is reused.
    pub payment_id: Option<i64>,
    pub payment_hash: PaymentHash,
    pub preimage: Preimage,
}

/// The ledger record of a 402 for `ctx`; `ch` is `None` when its challenge could not be read.
pub(super) fn new_payment(
    ctx: &PayContext<'_>,
    ch: Option<&PaymentChallenge>,
    checked: Option<&CheckedInvoice>,
) -> NewPayment {
    NewPayment {
        request_id: ctx.request_id.to_string(),
        agent_id: ctx.agent.id,
        agent: ctx.agent.name.clone(),
        method: ctx.method.to_string(),
        scheme: ctx.target.scheme.clone(),
        host: ctx.host(),
        path: ctx.target.path().to_string(),
        challenge_kind: ch.map_or("unreadable", |c| c.kind.as_str()).to_string(),
        amount: checked.map(|c| c.amount),
        payment_hash: checked.map(|c| c.payment_hash).or(ch.and_then(|c| c.payment_hash)),
        invoice: ch.map(|c| c.invoice.clone()),
        advertised: None,
        proof_prefix: ch.and_then(|c| match &c.proof {
            crate::challenge::ProofForm::Authorization { scheme, token } => Some(format!("{scheme} {token}")),
            _ => None,
        }),
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
    /// The wallet's network, asked on the runtime `run` was called on: the wallet's relay connection is made
    /// by its first request, and must not live on a serving thread.
    pub(super) async fn wallet_network(&self) -> wallet::Result<Option<String>> {
        let asking = self.wallet.asking_network();
        match self.background.get() {
            Some(runtime) => runtime
                .spawn(asking)
                .await
                .unwrap_or_else(|e| Err(wallet::Error::Protocol(format!("the wallet request stopped: {e}")))),
            None => asking.await,
        }
    }
}

impl Proxy {
    fn refused(
        &self,
        ctx: &PayContext<'_>,
        amount_msat: Option<u64>,
        reason: &str,
        detail: String,
        details: serde_json::Value,
    ) -> Failure {
        self.events.emit(Event::PaymentRefused {
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
    pub(super) async fn refuse_unpaid(
        &self,
        ctx: &PayContext<'_>,
        ch: Option<&PaymentChallenge>,
        checked: Option<&CheckedInvoice>,
        reason: &str,
        detail: String,
    ) -> Failure {
        if let Err(e) = self.ledger.record_refusal(&new_payment(ctx, ch, checked), reason, &detail).await {
            return ledger_down(e);
        }
        self.refused(ctx, checked.map(|c| c.amount.0), reason, detail, serde_json::Value::Null)
    }

    /// Records a 402 Purser will not pay and passes on untouched (an offer on another chain), so the ledger
    /// still shows the attempt. A ledger that cannot be written is logged: the agent gets its 402 either way.
    pub(super) async fn record_unpayable(&self, ctx: &PayContext<'_>, kind: &str, reason: &str, detail: &str) {
        let mut record = new_payment(ctx, None, None);
        record.challenge_kind = kind.to_string();
        if let Err(e) = self.ledger.record_refusal(&record, reason, detail).await {
            tracing::error!(request_id = ctx.request_id, "cannot record an unpayable 402: {e}");
        }
        tracing::info!(request_id = ctx.request_id, reason, "402 passed on unpaid: {detail}");
    }

    /// Raises a `wallet_down` alert (at most one every ten minutes) when the wallet or its relay cannot be
    /// reached or does not answer.
    async fn alert_wallet_down(&self, e: &wallet::Error) {
        if !matches!(e, wallet::Error::Unreachable(_) | wallet::Error::Timeout { .. }) {
            return;
        }
        let alert = crate::ledger::alerts::NewAlert {
            kind: crate::ledger::alerts::AlertKind::WalletDown,
            agent_id: None,
            host: None,
            budget_id: None,
            message: format!("the wallet cannot be reached: {e}; agents are told to retry later"),
            dedupe_key: Some(format!("wallet_down:{}", self.ledger.now_ms() / 600_000)),
        };
        match self.ledger.record_alerts(&[alert], None).await {
            Ok(alerts) => self.emit_alerts(alerts),
            Err(le) => tracing::error!("cannot record an alert: {le}"),
        }
    }

    /// The answer for a wallet error: try later when it may pass, a refusal otherwise.
    fn wallet_failure(ctx: &PayContext<'_>, e: &wallet::Error) -> Failure {
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

    pub(super) fn emit_alerts(&self, alerts: Vec<Alert>) {
        for alert in alerts {
            tracing::warn!(kind = alert.kind.as_str(), "alert: {}", alert.message);
            self.events.emit(Event::Alert { alert });
        }
    }

    /// Pays `ch` for the request in `ctx`, or says why not.
    pub(super) async fn pay(&self, ctx: &PayContext<'_>, ch: &PaymentChallenge) -> Result<Proven, Failure> {
        let network = match ctx.timing.wait(Wait::Wallet, self.wallet_network()).await {
            Ok(n) => n,
            Err(e) => {
                if let Err(le) =
                    self.ledger.record_refusal(&new_payment(ctx, Some(ch), None), e.reason(), &e.to_string()).await
                {
                    return Err(ledger_down(le));
                }
                self.alert_wallet_down(&e).await;
                return Err(Self::wallet_failure(ctx, &e));
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
        record.advertised = ctx.timing.wait(Wait::Upstream, self.advertised_price(ctx)).await;
        let payment_id = self.decide(ctx, ch, &checked, &record).await?;
        let payment_id = match payment_id {
            Decided::Reserved(id) => id,
            Decided::Reuse(preimage) => {
                return Ok(Proven { payment_id: None, payment_hash: checked.payment_hash, preimage });
            }
        };
        self.send_payment(ctx, &checked, payment_id).await.map(|preimage| Proven {
            payment_id: Some(payment_id),
            payment_hash: checked.payment_hash,
            preimage,
        })
    }

    /// Runs the policy, and a person's approval when it asks for one, until a row is reserved or refused.
    async fn decide(
        &self,
        ctx: &PayContext<'_>,
        ch: &PaymentChallenge,
        checked: &CheckedInvoice,
        record: &NewPayment,
    ) -> Result<Decided, Failure> {
        let amount_msat = Some(checked.amount.0);
        let mut approved = false;
        loop {
            match self.ledger.reserve(record, approved).await.map_err(ledger_down)? {
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
                Reservation::NeedsApproval { explanation, details, alerts } if !approved => {
                    self.emit_alerts(alerts);
                    let held = Held {
                        agent_id: ctx.agent.id,
                        agent: ctx.agent.name.clone(),
                        method: ctx.method.to_string(),
                        host: ctx.host(),
                        path: ctx.target.path().to_string(),
                        amount_msat: checked.amount.0,
                        explanation,
                        budget: details,
                    };
                    tracing::info!(request_id = ctx.request_id, agent = %ctx.agent.name, amount = %checked.amount, "waiting for a person's approval");
                    let (id, outcome) = ctx.timing.wait(Wait::Approval, self.approvals.wait(held)).await;
                    let (reason, detail) = match outcome {
                        Approval::Approved => match self.still_payable(ch, checked) {
                            Ok(()) => {
                                approved = true;
                                continue;
                            }
                            Err((reason, detail)) => (reason, format!("approved too late (approval #{id}): {detail}")),
                        },
                        Approval::Denied => {
                            ("denied_by_user", format!("a person denied this payment (approval #{id})"))
                        }
                        Approval::TimedOut => (
                            "approval_timeout",
                            format!(
                                "nobody answered approval #{id} within {} s",
                                self.settings.approval_timeout.as_secs()
                            ),
                        ),
                    };
                    return Err(self.refuse_unpaid(ctx, Some(ch), Some(checked), reason, detail).await);
                }
                Reservation::NeedsApproval { .. } => unreachable!("an approved payment is never asked again"),
            }
        }
    }

    /// Asks the wallet to pay a reserved invoice and writes the outcome. The call runs in its own task, so an
    /// agent that hangs up cannot leave the row half-written.
    async fn send_payment(
        &self,
        ctx: &PayContext<'_>,
        checked: &CheckedInvoice,
        payment_id: i64,
    ) -> Result<Preimage, Failure> {
        let wallet = match self.wallet.wallet() {
            Ok(w) => w,
            Err(e) => {
                // Disconnected while the payment waited (e.g. for approval): the reserved row must not stay
                // pending and counted.
                let outcome = Outcome::Failed { reason: e.reason().into() };
                self.ledger.finish(payment_id, &outcome).await.map_err(ledger_down)?;
                return Err(Self::wallet_failure(ctx, &e));
            }
        };
        let ledger = self.ledger.clone();
        let bolt11 = checked.bolt11.clone();
        let hash = checked.payment_hash;
        tracing::info!(request_id = ctx.request_id, agent = %ctx.agent.name, amount = %checked.amount, "paying invoice");
        let pay = async move {
            // The `paying` step is on disk before the wallet hears of the invoice: after a crash, the row says
            // the wallet may have paid it, and recovery asks the wallet.
            let marked = ledger.mark_paying(payment_id).await;
            if !matches!(marked, Ok(true)) {
                let outcome = Outcome::Failed { reason: "ledger_unavailable".into() };
                let written = ledger.finish(payment_id, &outcome).await;
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
            let written = ledger.finish(payment_id, &outcome).await;
            (paid, outcome, written, waited)
        };
        // On the runtime that outlives the serving threads: the wallet's connection is made by the first payment.
        let task = match self.background.get() {
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
                let _ = self.ledger.finish(payment_id, &Outcome::Unknown { reason: "payment_unknown".into() }).await;
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
        let event = |reason: String| Event::PaymentFailed {
            request_id: ctx.request_id.into(),
            agent: ctx.agent.name.clone(),
            host: ctx.host(),
            amount_msat: checked.amount.0,
            reason,
        };
        match (outcome, paid) {
            (Outcome::Settled { preimage, fee }, _) => {
                self.events.emit(Event::PaymentSettled {
                    request_id: ctx.request_id.into(),
                    agent: ctx.agent.name.clone(),
                    host: ctx.host(),
                    amount_msat: checked.amount.0,
                    fee_msat: fee.0,
                });
                Ok(preimage)
            }
            (Outcome::BadPreimage { .. }, _) => {
                self.events.emit(event("bad_preimage".into()));
                Err(Failure::BadGateway {
                    reason: "bad_preimage",
                    detail: "the wallet reported the payment as made, but its preimage does not match the invoice's \
                             payment hash; the request was not retried"
                        .into(),
                })
            }
            (Outcome::Unknown { reason }, Err(e)) => {
                self.events.emit(event(reason.clone()));
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
                self.events.emit(event(reason));
                Err(Self::wallet_failure(ctx, &e))
            }
            (_, Ok(_)) => unreachable!("a wallet answer is settled or bad_preimage"),
        }
    }
}

enum Decided {
    Reserved(i64),
    Reuse(Preimage),
}
