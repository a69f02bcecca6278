//! Resolving payments whose outcome was never written: the process was killed between asking the wallet and
//! hearing back, or the wallet did not answer in time. Run when the proxy starts and every minute after.
//!
//! Each open row is resolved by the wallet's own record (NWC `lookup_invoice`), never by guessing:
//!
//! - reserved but never sent to the wallet (`pending`, no `paying` step), found at start: `failed`
//!   (`never_sent`); nothing can have left the wallet;
//! - sent (`paying`) or `unknown`: the wallet's answer decides (`lookup_invoice`, or for wallets without it
//!   the outgoing payments `list_transactions` gives). Settled with a preimage that hashes to the
//!   invoice's payment hash: `settled`, with the preimage and fee, and the credential kept when the challenge
//!   had a token. Failed or expired by the wallet's own word: `failed`. Not found, or no answer: still
//!   `unknown` (a wallet may not find payments it made, or be another wallet than the one that paid).
//!
//! An `unknown` row keeps its reservation counted in budgets until it is resolved. At start, paid rows of an
//! earlier run whose retry never got an answer are recorded as not delivered (`interrupted`).
//!
//! Refunds of MPP sessions are looked for the same way (`lookup_invoice` on the invoice the wallet made for
//! them): one that arrives is recorded received, also after it was recorded missing, and for a session still
//! open it means its API closed it on its own (idle); one still awaited [`REFUND_PATIENCE`] after its close
//! (a process killed while it watched) is recorded missing.

use std::time::Duration;

use crate::ledger::payments::{Outcome, ProofToKeep};
use crate::ledger::recovery::Unresolved;
use crate::ledger::{self, Ledger};
use crate::wallet::{self, Wallet};

/// How often open payments are looked at again.
pub const INTERVAL: Duration = Duration::from_secs(60);
/// A row in flight in this process is left alone: only rows untouched this long are looked at after start.
pub const SETTLE_TIME: Duration = Duration::from_secs(300);

/// How long after a session's close its refund is awaited before it is recorded missing.
pub const REFUND_PATIENCE: Duration = Duration::from_secs(600);

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub checked: usize,
    pub settled: usize,
    pub failed: usize,
    pub still_unknown: usize,
    /// Paid before an earlier run stopped, never delivered: now recorded as not delivered.
    pub interrupted: u64,
}

/// When the invoice was made, in seconds since the Unix epoch (a day ago when it cannot be read).
fn invoice_time(invoice: Option<&str>) -> u64 {
    let made = invoice
        .and_then(|i| i.parse::<lightning_invoice::SignedRawBolt11Invoice>().ok())
        .map(|i| i.data.timestamp.as_unix_timestamp());
    made.unwrap_or_else(|| (jiff::Timestamp::now().as_second() as u64).saturating_sub(86_400))
}

/// When a pass looks, and at what.
#[derive(Debug, Clone, Copy)]
pub enum Pass {
    /// Before this process reserved anything: every row written up to `started_ms` is from an earlier run,
    /// so reserved rows that never reached the wallet are closed too.
    Start { started_ms: i64 },
    /// While running: rows untouched for [`SETTLE_TIME`] (not in flight here).
    Periodic,
}

/// One pass over the open payments.
pub async fn resolve(ledger: &Ledger, wallet: &dyn Wallet, pass: Pass) -> ledger::Result<Report> {
    let (touched_by, at_start) = match pass {
        Pass::Start { started_ms } => (started_ms, true),
        Pass::Periodic => (ledger.now_ms() - SETTLE_TIME.as_millis() as i64, false),
    };
    let mut report = Report::default();
    for row in ledger.unresolved(touched_by).await? {
        report.checked += 1;
        let outcome = match outcome(&row, wallet, at_start).await {
            Some(o) => o,
            None => {
                report.still_unknown += 1;
                continue;
            }
        };
        // A token proof (L402) is kept with the outcome, for the agent's next requests.
        let keep = match (&outcome, &row.proof_prefix) {
            (Outcome::Settled { preimage, .. }, Some(prefix)) => {
                let authorization = format!("{prefix}:{}", preimage.to_hex());
                Some(ProofToKeep::new(row.agent_id, &row.origin(), &row.path, "authorization", &authorization, false))
            }
            _ => None,
        };
        ledger.finish(row.id, &outcome, keep.as_ref()).await?;
        match &outcome {
            Outcome::Settled { .. } => {
                report.settled += 1;
                // The request that paid ended before this was known: paid, not delivered.
                ledger.mark_interrupted(row.id).await?;
                tracing::info!(payment_id = row.id, "recovered: the wallet paid it; the row is settled");
            }
            Outcome::Failed { reason } => {
                report.failed += 1;
                tracing::info!(payment_id = row.id, reason, "recovered: not paid; the row is failed");
            }
            Outcome::Unknown { .. } => report.still_unknown += 1,
            Outcome::BadPreimage { .. } => report.failed += 1,
        }
    }
    if let Pass::Start { started_ms } = pass {
        // After the open rows, so those this pass found paid are counted too; rows of this run are newer.
        report.interrupted = ledger.close_interrupted(started_ms).await?;
    }
    if report.checked > 0 || report.interrupted > 0 {
        tracing::info!(?report, "open payments looked at");
    }
    Ok(report)
}

/// The outcome to write for `row`; `None` to leave it as it is.
async fn outcome(row: &Unresolved, wallet: &dyn Wallet, at_start: bool) -> Option<Outcome> {
    if !row.wallet_asked {
        return at_start.then(|| Outcome::Failed { reason: "never_sent".into() });
    }
    let Some(hash) = row.payment_hash else {
        return Some(Outcome::Failed { reason: "never_sent".into() });
    };
    let unknown = || {
        (row.status == crate::ledger::status::PaymentStatus::Pending)
            .then(|| Outcome::Unknown { reason: "payment_unknown".into() })
    };
    let found = match wallet.lookup_invoice(&hash).await {
        // A wallet without `lookup_invoice`: its list of outgoing payments since the invoice was made.
        Err(wallet::Error::Refused { code: wallet::ErrorCode::NotImplemented, .. }) => {
            let since = invoice_time(row.invoice.as_deref()).saturating_sub(3_600);
            match wallet.list_payments(since).await {
                Ok(list) => list.into_iter().find(|p| p.payment_hash == Some(hash)).ok_or(wallet::Error::Refused {
                    code: wallet::ErrorCode::NotFound,
                    message: "not among the wallet's payments".into(),
                }),
                Err(e) => Err(e),
            }
        }
        other => other,
    };
    match found {
        Ok(found) => match (found.preimage, found.state.as_deref()) {
            (Some(preimage), _) if preimage.matches(&hash) => Some(Outcome::Settled { preimage, fee: found.fee }),
            (Some(preimage), Some("settled")) => Some(Outcome::BadPreimage { preimage, fee: found.fee }),
            (_, Some("failed" | "expired")) => Some(Outcome::Failed { reason: "payment_failed".into() }),
            _ => unknown(),
        },
        // Not found is no proof of not paid (another wallet, a wallet that looks up only its own invoices):
        // the row stays unknown, and counted.
        Err(e) => {
            tracing::debug!(payment_id = row.id, "cannot resolve yet: {e}");
            unknown()
        }
    }
}

/// Resolves open payments left by earlier runs (those touched by `started_ms`), then every [`INTERVAL`] those
/// untouched for a while, whenever `wallet` gives a wallet.
pub async fn run(
    ledger: Ledger,
    started_ms: i64,
    wallet: impl Fn() -> Option<std::sync::Arc<dyn Wallet>>,
    events: crate::events::Events,
) {
    let mut pass = Pass::Start { started_ms };
    loop {
        if let Some(w) = wallet() {
            match resolve(&ledger, w.as_ref(), pass).await {
                Ok(_) => pass = Pass::Periodic,
                Err(e) => tracing::warn!("cannot look at open payments: {e}"),
            }
            if let Err(e) = refunds(&ledger, w.as_ref(), &events).await {
                tracing::warn!("cannot look at session refunds: {e}");
            }
        }
        tokio::time::sleep(INTERVAL).await;
    }
}

/// Session refunds awaited or recorded missing: received when the wallet has them; missing (and alerted)
/// when still awaited [`REFUND_PATIENCE`] after the close. Each change is told to `events` (what is held
/// there changed; the alert). Returns how many were found received.
pub async fn refunds(ledger: &Ledger, wallet: &dyn Wallet, events: &crate::events::Events) -> ledger::Result<usize> {
    let mut received = 0;
    let patience_ms = i64::try_from(REFUND_PATIENCE.as_millis()).unwrap_or(i64::MAX);
    for open in ledger.unsettled_refunds().await? {
        let Some(hash) = crate::units::PaymentHash::from_hex(&open.return_hash) else { continue };
        let found = wallet.lookup_invoice(&hash).await.ok().filter(|l| l.state.as_deref() == Some("settled"));
        if let Some(found) = found {
            if open.open {
                ledger.closed_by_api(open.id, found.amount.0).await?;
            } else {
                ledger.refund_arrived(open.id, found.amount.0).await?;
            }
            received += 1;
            events.emit(crate::events::Event::HeldChanged { host: open.host.clone() });
        } else if open.waiting && ledger.now_ms() - open.closed_at_ms > patience_ms {
            ledger.refund_outcome(open.id, None).await?;
            let alert = ledger::alerts::NewAlert {
                kind: ledger::alerts::AlertKind::SessionRefundMissing,
                agent_id: Some(open.agent_id),
                host: Some(open.host.clone()),
                budget_id: None,
                message: format!(
                    "{} said it returned {} sat from a session; the wallet has not received it",
                    open.host,
                    open.claimed_msat / 1000
                ),
                dedupe_key: Some(format!("session_refund:{}", open.id)),
            };
            for alert in ledger.record_alerts(&[alert], None).await? {
                events.emit(crate::events::Event::Alert { alert });
            }
            events.emit(crate::events::Event::HeldChanged { host: open.host.clone() });
        }
    }
    Ok(received)
}
