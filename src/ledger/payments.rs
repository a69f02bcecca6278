//! Payment rows through their life: a row is reserved (`pending`) in one transaction that checks for a
//! duplicate invoice and asks the policy; only then is the wallet asked; the outcome is written before the
//! request is retried; the retry's status is written last.

use sqlx::Row;

use super::{Ledger, Result, now_ms};
use crate::config::fee_reserve;
use crate::policy::{self, Decision, Limits};
use crate::units::{Msats, PaymentHash, Preimage};

/// What is known of a payment when Purser decides on it.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub request_id: String,
    pub agent_id: i64,
    pub method: String,
    pub scheme: String,
    pub host: String,
    pub path: String,
    pub challenge_kind: String,
    pub amount: Option<Msats>,
    pub payment_hash: Option<PaymentHash>,
    pub invoice: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// A `pending` row exists: ask the wallet now.
    Reserved { payment_id: i64, decision: String },
    /// This invoice was paid before: its proof can be reused, nothing is paid again.
    AlreadyPaid { payment_id: i64, preimage: Preimage },
    /// This invoice is being paid by another request right now, or its outcome is not known yet.
    InFlight,
    /// The policy said no; a `refused` row records it.
    Refused {
        payment_id: i64,
        reason: &'static str,
        explanation: String,
    },
}

/// How a payment ended at the wallet.
#[derive(Debug, Clone)]
pub enum Outcome {
    Settled {
        preimage: Preimage,
        fee: Msats,
    },
    /// The wallet said no; nothing left the wallet.
    Failed {
        reason: String,
    },
    /// Asked, and no answer: money may have left. Stays counted against limits.
    Unknown {
        reason: String,
    },
    /// The wallet reported a preimage that does not hash to the invoice's payment hash.
    BadPreimage {
        preimage: Preimage,
        fee: Msats,
    },
}

impl Ledger {
    /// Reserves a payment under the policy, in one `BEGIN IMMEDIATE` transaction so concurrent requests
    /// see each other's reservations.
    pub async fn reserve(&self, p: &NewPayment, limits: &Limits) -> Result<Reservation> {
        let amount = p.amount.unwrap_or_default();
        let hash = p.payment_hash.map(|h| h.to_hex());
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let existing = sqlx::query(
            "SELECT id, status, preimage FROM payments WHERE payment_hash = ? AND status IN ('pending', 'settled', 'unknown', 'bad_preimage')",
        )
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            let status: String = row.get("status");
            let pre: Option<String> = row.get("preimage");
            tx.commit().await?;
            return Ok(
                match (status.as_str(), pre.as_deref().and_then(Preimage::from_hex)) {
                    ("settled", Some(preimage)) => Reservation::AlreadyPaid {
                        payment_id: row.get("id"),
                        preimage,
                    },
                    _ => Reservation::InFlight,
                },
            );
        }
        let committed: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(COALESCE(amount_msat, 0) + CASE WHEN status = 'pending' OR status = 'unknown' \
             THEN MAX(COALESCE(fee_msat, 0), fee_reserve_msat) ELSE COALESCE(fee_msat, 0) END), 0) \
             FROM payments WHERE agent_id = ? AND status IN ('pending', 'settled', 'unknown', 'bad_preimage')",
        )
        .bind(p.agent_id)
        .fetch_one(&mut *tx)
        .await?;
        let reserve = fee_reserve(amount);
        let figures = policy::Figures {
            amount,
            fee_reserve: reserve,
            agent_committed: Msats(committed.max(0) as u64),
        };
        let decision = policy::decide(limits, &figures);
        let (status, text, reason) = match &decision {
            Decision::Allow(text) => ("pending", text.clone(), None),
            Decision::Refuse {
                reason,
                explanation,
            } => ("refused", explanation.clone(), Some(*reason)),
        };
        let id = insert(&mut tx, p, status, &text, reason, reserve).await?;
        tx.commit().await?;
        Ok(match decision {
            Decision::Allow(decision) => Reservation::Reserved {
                payment_id: id,
                decision,
            },
            Decision::Refuse {
                reason,
                explanation,
            } => Reservation::Refused {
                payment_id: id,
                reason,
                explanation,
            },
        })
    }

    /// Records a 402 Purser did not pay before any policy was asked (unreadable challenge, bad invoice, a
    /// body too large to replay…).
    pub async fn record_refusal(
        &self,
        p: &NewPayment,
        reason: &str,
        explanation: &str,
    ) -> Result<i64> {
        let mut tx = self.pool().begin().await?;
        let id = insert(&mut tx, p, "refused", explanation, Some(reason), Msats(0)).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Writes the wallet's answer for a reserved payment.
    pub async fn finish(&self, payment_id: i64, outcome: &Outcome) -> Result<()> {
        let (status, reason, preimage, fee) = match outcome {
            Outcome::Settled { preimage, fee } => {
                ("settled", None, Some(preimage.to_hex()), Some(fee.0 as i64))
            }
            Outcome::Failed { reason } => ("failed", Some(reason.as_str()), None, None),
            Outcome::Unknown { reason } => ("unknown", Some(reason.as_str()), None, None),
            Outcome::BadPreimage { preimage, fee } => (
                "bad_preimage",
                Some("bad_preimage"),
                Some(preimage.to_hex()),
                Some(fee.0 as i64),
            ),
        };
        sqlx::query(
            "UPDATE payments SET status = ?, failure_reason = ?, preimage = ?, fee_msat = ?, updated_at_ms = ? WHERE id = ?",
        )
        .bind(status)
        .bind(reason)
        .bind(preimage)
        .bind(fee)
        .bind(now_ms())
        .bind(payment_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Writes the status the upstream answered the paid retry with; 2xx and 3xx count as delivered.
    pub async fn record_delivery(
        &self,
        payment_id: i64,
        upstream_status: Option<u16>,
    ) -> Result<()> {
        let delivered = upstream_status.map(|s| (200..400).contains(&s));
        sqlx::query("UPDATE payments SET upstream_status = ?, delivered = ?, updated_at_ms = ? WHERE id = ?")
            .bind(upstream_status.map(i64::from))
            .bind(delivered)
            .bind(now_ms())
            .bind(payment_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    p: &NewPayment,
    status: &str,
    decision: &str,
    reason: Option<&str>,
    reserve: Msats,
) -> Result<i64> {
    let now = now_ms();
    let done = sqlx::query(
        "INSERT INTO payments (request_id, agent_id, method, scheme, host, path, challenge_kind, amount_msat, \
         fee_reserve_msat, payment_hash, invoice, status, failure_reason, decision, created_at_ms, updated_at_ms) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&p.request_id)
    .bind(p.agent_id)
    .bind(&p.method)
    .bind(&p.scheme)
    .bind(&p.host)
    .bind(&p.path)
    .bind(&p.challenge_kind)
    .bind(p.amount.map(|a| a.0 as i64))
    .bind(reserve.0 as i64)
    .bind(p.payment_hash.map(|h| h.to_hex()))
    .bind(&p.invoice)
    .bind(status)
    .bind(reason)
    .bind(decision)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.last_insert_rowid())
}
