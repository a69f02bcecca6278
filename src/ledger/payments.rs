//! Payment rows through their life: a row is reserved (`pending`) in one `BEGIN IMMEDIATE` transaction that
//! reads, in one statement, an earlier payment of the invoice and the policy snapshot, hands them to the
//! decision and writes the row; only then is the wallet asked; the outcome is written, with the proof it
//! yields, before the request is retried; the retry's status is written last. Alerts that a reservation
//! causes are written in the same transaction.

use serde_json::json;
use sqlx::Row;

use super::engine::Conn;

use super::alerts::{self, Alert, NewAlert};
use super::decision_read::{self, Earlier};
use super::payment_alerts::{Raised, allow_alerts, crossing, record_all};
use super::{Ledger, Result};
use crate::policy::{self, Approved, Decision, Judge};
use crate::units::{Msats, Preimage};

pub use super::credentials::ProofToKeep;
pub use super::new_payment::NewPayment;

#[derive(Debug, Clone, PartialEq)]
pub enum Reservation {
    /// A `pending` row exists: ask the wallet now.
    Reserved { payment_id: i64, decision: String, alerts: Vec<Alert> },
    /// This agent paid this invoice on this host before: its proof is reused, nothing is paid again.
    AlreadyPaid { payment_id: i64, preimage: Preimage },
    /// This invoice is being paid for another request right now.
    InFlight,
    /// This invoice was paid or tried before and cannot be paid again (another agent or host, an unknown
    /// outcome, a bad preimage): the reason code and its explanation.
    Duplicate { reason: &'static str, explanation: String },
    /// Within budgets but above the auto-approve limit, or priced above what the API advertises or usually
    /// asks: a person decides, with their confirmation when `confirm`. No payment row is written yet; a price
    /// alert may be.
    NeedsApproval { explanation: String, confirm: bool, details: serde_json::Value, alerts: Vec<Alert> },
    /// The policy said no; a `refused` row records it.
    Refused {
        payment_id: i64,
        reason: &'static str,
        explanation: String,
        details: serde_json::Value,
        alerts: Vec<Alert>,
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
    /// Asked, and no clear answer: money may have left. Stays counted against limits.
    Unknown {
        reason: String,
    },
    /// The wallet reported a preimage that does not hash to the invoice's payment hash.
    BadPreimage {
        preimage: Preimage,
        fee: Msats,
    },
}

fn clamp(m: Msats) -> i64 {
    i64::try_from(m.0).unwrap_or(i64::MAX)
}

impl Ledger {
    /// Decides on a payment under the policy and, when it may go ahead, reserves it. `approved` says how far a
    /// person already approved it (thresholds then allow it; budgets, pauses and breakers still apply).
    pub async fn reserve(&self, p: &NewPayment, approved: Approved, judge: &dyn Judge) -> Result<Reservation> {
        let me = &*self.instance;
        let amount = p.amount.unwrap_or_default();
        let mut tx = self.begin_writing().await?;
        let read = decision_read::read(&mut tx, self, p).await?;
        if let Some(row) = &read.earlier {
            tx.commit().await?;
            return Ok(earlier(row, p));
        }
        let now = self.now_ms();
        let reserve = judge.fee_reserve(amount);
        let snapshot = match super::price_checks::completed(&mut tx, p, read.snapshot, read.has_allowance, now).await? {
            Ok(snapshot) => snapshot,
            Err(super::allowances::NotUsable(explanation)) => {
                let details = json!({"allowance_id": p.allowance});
                let refusal = ("allowance_not_usable", explanation, details);
                return self.refused_now(tx, p, refusal, &[], now).await;
            }
        };
        let concern = super::price_checks::price_concern(self, p, amount, read.usual_msat, judge);
        if let Some(alert) = &concern
            && self.policy().refuse_price_mismatch
        {
            let explanation = format!("{}; purser.toml says to refuse such payments", alert.message);
            let details =
                json!({"price_mismatch": {"asked_msat": amount.0, "advertised_msat": p.advertised.map(|a| a.0)}});
            let refusal = ("price_mismatch", explanation, details);
            return self.refused_now(tx, p, refusal, std::slice::from_ref(alert), now).await;
        }
        let request = policy::Request {
            agent: p.agent.clone(),
            amount,
            fee_reserve: reserve,
            approved,
            price_concern: concern.as_ref().map(|a| a.message.clone()),
        };
        let decision = judge.decide(&snapshot, &request);
        let outcome = match decision {
            Decision::Ask { why, confirm } => {
                let overage = policy::is_overage(&Decision::Ask { why: why.clone(), confirm });
                let mut ids = Vec::new();
                if let Some(alert) = &concern {
                    ids.extend(alerts::record(&mut tx, alert, None, now).await?);
                }
                tx.commit().await?;
                let details = ask_details(&snapshot, judge, &request, concern.is_some(), overage, p);
                let (explanation, alerts) = (with_agent_reason(why, p), self.alerts_by_id(&ids).await?);
                return Ok(Reservation::NeedsApproval { explanation, confirm, details, alerts });
            }
            Decision::Allow(decision) => {
                let raised = Raised { last_minute: read.last_minute, host_paid_before: read.host_paid_before };
                let mut alerts = allow_alerts(self, p, amount, &snapshot.budgets, raised, now, judge);
                alerts.extend(concern);
                let task = snapshot.allowance.as_ref().map(|a| a.id);
                let id = insert(&mut tx, me, p, ("pending", &decision, None), reserve, task, now).await?;
                let ids = record_all(&mut tx, &alerts, id, now).await?;
                (Ok((id, decision)), ids)
            }
            Decision::Refuse { reason, explanation, details } => {
                let mut alerts = Vec::new();
                if reason == "budget_exceeded"
                    && let Some(b) = judge.tightest(&snapshot.budgets, &request)
                {
                    alerts.extend(crossing(b, 100, p, "reached: a payment was refused", now));
                }
                let id = insert(&mut tx, me, p, ("refused", &explanation, Some(reason)), Msats(0), None, now).await?;
                let ids = record_all(&mut tx, &alerts, id, now).await?;
                (Err((id, reason, explanation, details)), ids)
            }
        };
        tx.commit().await?;
        let (result, alert_ids) = outcome;
        let alerts = self.alerts_by_id(&alert_ids).await?;
        Ok(match result {
            Ok((payment_id, decision)) => Reservation::Reserved { payment_id, decision, alerts },
            Err((payment_id, reason, explanation, details)) => {
                Reservation::Refused { payment_id, reason, explanation, details, alerts }
            }
        })
    }

    /// Writes a refusal decided before the policy ran (an allowance the request cannot use, a price
    /// `purser.toml` says to refuse) with its alerts, and ends the transaction.
    async fn refused_now(
        &self,
        mut tx: sqlx::Transaction<'_, super::engine::Db>,
        p: &NewPayment,
        (reason, explanation, details): (&'static str, String, serde_json::Value),
        raised: &[NewAlert],
        now: i64,
    ) -> Result<Reservation> {
        let id =
            insert(&mut tx, &self.instance, p, ("refused", &explanation, Some(reason)), Msats(0), None, now).await?;
        let ids = record_all(&mut tx, raised, id, now).await?;
        tx.commit().await?;
        let alerts = self.alerts_by_id(&ids).await?;
        Ok(Reservation::Refused { payment_id: id, reason, explanation, details, alerts })
    }

    /// The newest payment by `agent_id` to `host` in the L402 offers form that a request sent at `sent_at_ms`
    /// must not pay beside: one since `since_ms` that may have been paid but was not delivered (the API did
    /// not yet honour it), or one made after that request was sent (the API may serve it from that payment
    /// now). No other is made meanwhile.
    pub async fn unconfirmed_offer_payment(
        &self,
        agent_id: i64,
        host: &str,
        since_ms: i64,
        sent_at_ms: i64,
    ) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM payments WHERE agent_id = $1 AND host = $2 AND challenge_kind IN ('l402_offers', 'l402_top_up') \
             AND status IN ('pending', 'settled', 'unknown') \
             AND (((delivered IS NULL OR delivered = 0) AND created_at_ms >= $3) OR updated_at_ms >= $4) \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(agent_id)
        .bind(host)
        .bind(since_ms)
        .bind(sent_at_ms)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records a 402 Purser did not pay before or without a policy decision (unreadable challenge, bad
    /// invoice, a body too large to replay, a person's denial, a wallet that cannot be reached…).
    pub async fn record_refusal(&self, p: &NewPayment, reason: &str, explanation: &str) -> Result<i64> {
        let mut tx = self.pool().begin().await?;
        let id =
            insert(&mut tx, &self.instance, p, ("refused", explanation, Some(reason)), Msats(0), None, self.now_ms())
                .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Writes the wallet's answer for a reserved payment and, when it settled, the proof it yields (`keep`),
    /// in one transaction: a settled row never lacks the proof the agent's next try would send.
    pub async fn finish(&self, payment_id: i64, outcome: &Outcome, keep: Option<&ProofToKeep>) -> Result<()> {
        let (status, reason, preimage, fee) = match outcome {
            Outcome::Settled { preimage, fee } => ("settled", None, Some(preimage.to_hex()), Some(clamp(*fee))),
            Outcome::Failed { reason } => ("failed", Some(reason.as_str()), None, None),
            Outcome::Unknown { reason } => ("unknown", Some(reason.as_str()), None, None),
            Outcome::BadPreimage { preimage, fee } => {
                ("bad_preimage", Some("bad_preimage"), Some(preimage.to_hex()), Some(clamp(*fee)))
            }
        };
        // Only an open row moves, so a settled outcome is never overwritten (recovery and the payer may both
        // write one); a wallet's word that money left (a preimage) also corrects a row marked failed.
        let movable = if matches!(outcome, Outcome::Settled { .. } | Outcome::BadPreimage { .. }) {
            "('pending', 'unknown', 'failed')"
        } else {
            "('pending', 'unknown')"
        };
        let update_sql = format!(
            "UPDATE payments SET status = $1, failure_reason = $2, preimage = $3, fee_msat = $4, updated_at_ms = $5 \
             WHERE id = $6 AND status IN {movable}"
        );
        let now = self.now_ms();
        let bind_update = |sql: String| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(status)
                .bind(reason)
                .bind(preimage.clone())
                .bind(fee)
                .bind(now)
                .bind(payment_id)
        };
        let keep = keep.filter(|_| matches!(outcome, Outcome::Settled { .. }));
        let moved = match keep {
            None => bind_update(update_sql).execute(self.pool()).await?.rows_affected(),
            // One statement, atomic on its own: a round trip instead of four.
            Some(proof) if self.engine().writes_together() => {
                let sql = format!(
                    "WITH kept AS ({}), moved AS ({update_sql} RETURNING 1) SELECT COUNT(*) FROM moved",
                    super::credentials::keep_sql(7)
                );
                let query = super::credentials::bind_keep(bind_update(sql), proof, payment_id, now);
                let moved: i64 = query.fetch_one(self.pool()).await?.get(0);
                self.hot().invalidate_credentials();
                moved as u64
            }
            Some(proof) => {
                let mut tx = self.pool().begin().await?;
                let done = bind_update(update_sql).execute(&mut *tx).await?;
                super::credentials::keep(&mut tx, proof, payment_id, now).await?;
                tx.commit().await?;
                self.hot().invalidate_credentials();
                done.rows_affected()
            }
        };
        if moved == 0 {
            tracing::warn!(
                payment_id,
                status,
                "the payment's row was already closed; its outcome was not written again"
            );
        }
        Ok(())
    }
}

/// What a reservation is when the invoice was reserved or paid before (`row`): the proof to reuse for the
/// same requester, a payment in flight, or a refusal to pay it twice.
fn earlier(row: &Earlier, p: &NewPayment) -> Reservation {
    let same_requester = row.agent_id == p.agent_id && row.host == p.host;
    match (row.status.as_str(), row.preimage.as_deref().and_then(Preimage::from_hex)) {
        ("settled", Some(preimage)) if same_requester => Reservation::AlreadyPaid { payment_id: row.id, preimage },
        ("pending", _) => Reservation::InFlight,
        ("settled", _) => Reservation::Duplicate {
            reason: "invoice_already_paid",
            explanation: "this invoice was already paid for another agent or API; Purser does not pay it again \
                          nor hand its proof across"
                .into(),
        },
        (other, _) => Reservation::Duplicate {
            reason: if other == "unknown" { "payment_unknown" } else { "bad_preimage" },
            explanation: format!(
                "this invoice was sent to the wallet before and its outcome is `{other}`; Purser does not \
                 send it again"
            ),
        },
    }
}

/// What a payment held for a person shows besides its explanation: the tightest budget, and the prices when
/// the invoice asks more than expected.
fn ask_details(
    snapshot: &policy::Snapshot,
    judge: &dyn Judge,
    request: &policy::Request,
    priced_above: bool,
    overage: bool,
    p: &NewPayment,
) -> serde_json::Value {
    let mut details = judge
        .tightest(&snapshot.budgets, request)
        .map(|b| json!({"budget_id": b.budget.id, "budget": b.budget.describe(), "remaining_msat": b.remaining().0}))
        .unwrap_or(json!({}));
    if priced_above {
        details["price_mismatch"] =
            json!({"asked_msat": request.amount.0, "advertised_msat": p.advertised.map(|a| a.0)});
    }
    // An overage: the task's figures, for the person and for the answer to the agent.
    if let Some(a) = snapshot.allowance.as_ref().filter(|_| overage) {
        let needed = request.amount.0.saturating_add(request.fee_reserve.0);
        details["allowance"] = json!({"id": a.id, "purpose": a.purpose, "used_msat": a.used.0,
            "max_msat": a.max.0, "left_msat": a.left().0, "needed_msat": needed, "overage": true});
        // One set in a currency is raised in it: its maximum, and what it would take to carry this payment
        // at the decision's rate, rounded up to the cent.
        if let Some((f, rate)) = a.fiat.as_ref().and_then(|f| Some((f, p.rates.rate(&f.currency)?))) {
            let short = rate.micros_of(policy::allowance::shortfall(a, needed));
            let to = f.max_micros.saturating_add(short).saturating_add(9_999) / 10_000 * 10_000;
            details["allowance"]["max_fiat"] =
                json!(crate::rates::Money { currency: f.currency.clone(), micros: f.max_micros });
            details["allowance"]["raise_to_fiat"] =
                json!(crate::rates::Money { currency: f.currency.clone(), micros: to });
        }
    }
    details
}

/// What a person asked reads, with the agent's own words on why it needs the payment (`Purser-Reason`).
fn with_agent_reason(why: String, p: &NewPayment) -> String {
    match &p.agent_reason {
        Some(said) => format!("{why}; the agent says: {said}"),
        None => why,
    }
}

/// Writes a payment row for `instance`: `(status, decision, reason)`, the fee held back, and the task
/// allowance it is made under (the allowance's running use follows by trigger).
async fn insert(
    conn: &mut Conn,
    instance: &str,
    p: &NewPayment,
    (status, decision, reason): (&str, &str, Option<&str>),
    reserve: Msats,
    allowance_id: Option<i64>,
    now: i64,
) -> Result<i64> {
    // The rate a payment is valued at: fixed when it is decided, so history never drifts with the price.
    let recorded = p.rates.rates.first();
    let id = sqlx::query_scalar(
        "INSERT INTO payments (request_id, agent_id, method, scheme, host, path, challenge_kind, amount_msat, \
         fee_reserve_msat, payment_hash, invoice, status, failure_reason, decision, created_at_ms, updated_at_ms, \
         proof_prefix, allowance_id, fiat_currency, fiat_per_btc, fiat_source, fiat_rate_at_ms, instance) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
         $23) \
         RETURNING id",
    )
    .bind(&p.request_id)
    .bind(p.agent_id)
    .bind(&p.method)
    .bind(&p.scheme)
    .bind(&p.host)
    .bind(&p.path)
    .bind(&p.challenge_kind)
    .bind(p.amount.map(clamp))
    .bind(clamp(reserve))
    .bind(p.payment_hash.map(|h| h.to_hex()))
    .bind(&p.invoice)
    .bind(status)
    .bind(reason)
    .bind(decision)
    .bind(now)
    .bind(now)
    .bind(&p.proof_prefix)
    .bind(allowance_id)
    .bind(recorded.map(|r| r.currency.clone()))
    .bind(super::engine::Real(recorded.map(|r| r.per_btc)))
    .bind(recorded.map(|r| r.source.clone()))
    .bind(recorded.map(|r| r.at_ms))
    .bind(instance)
    .fetch_one(conn)
    .await?;
    Ok(id)
}
