//! Alerts: things a person should know about spending, recorded once (a `dedupe_key` makes "once per
//! crossing" a database constraint) and handed back so the caller can emit them as events.

use serde::Serialize;
use sqlx::Row;

use super::engine::Conn;

use super::{Ledger, Result};

/// What an alert is about; stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum AlertKind {
    /// A budget crossed 50 %, 80 % or 100 % of its limit in a window.
    BudgetCrossing,
    /// An agent spent faster than the velocity limit.
    Velocity,
    /// The first payment to an API.
    FirstPaymentToApi,
    /// An invoice above the endpoint's advertised price (it waits for a person).
    PriceAboveAdvertised,
    /// An invoice well above the endpoint's usual price (it waits for a person).
    PriceAboveUsual,
    /// Payments to an endpoint were stopped by the circuit breaker.
    BreakerTripped,
    /// The wallet or its relay cannot be reached.
    WalletDown,
    /// The wallet reported a routing fee above the most Purser allows for the payment (it is counted).
    FeeAboveCap,
    /// Too many wrong passphrases (or typed amounts): confirmations are locked for a while.
    ConfirmationsLocked,
    /// Two BTC rate sources disagree by more than 2 %.
    RateDisagreement,
    /// An API ended a session, or closed it, without returning what was left of its deposit.
    SessionRefundMissing,
}

super::engine::text_column!(AlertKind);

impl AlertKind {
    /// The stored and exported name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::BudgetCrossing => "budget_crossing",
            AlertKind::Velocity => "velocity",
            AlertKind::FirstPaymentToApi => "first_payment_to_api",
            AlertKind::PriceAboveAdvertised => "price_above_advertised",
            AlertKind::PriceAboveUsual => "price_above_usual",
            AlertKind::BreakerTripped => "breaker_tripped",
            AlertKind::WalletDown => "wallet_down",
            AlertKind::FeeAboveCap => "fee_above_cap",
            AlertKind::ConfirmationsLocked => "confirmations_locked",
            AlertKind::RateDisagreement => "rate_disagreement",
            AlertKind::SessionRefundMissing => "session_refund_missing",
        }
    }

    /// A short title for a person (notifications, lists).
    pub fn title(self) -> &'static str {
        match self {
            AlertKind::BudgetCrossing => "Budget",
            AlertKind::Velocity => "Fast spending",
            AlertKind::FirstPaymentToApi => "First payment to an API",
            AlertKind::PriceAboveAdvertised => "Price above the advertised one",
            AlertKind::PriceAboveUsual => "Unusual price",
            AlertKind::BreakerTripped => "Payments stopped to an endpoint",
            AlertKind::WalletDown => "Wallet unreachable",
            AlertKind::FeeAboveCap => "Routing fee above the cap",
            AlertKind::ConfirmationsLocked => "Confirmations locked",
            AlertKind::RateDisagreement => "Rate sources disagree",
            AlertKind::SessionRefundMissing => "Deposit not returned",
        }
    }
}

impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Alert {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub kind: AlertKind,
    pub agent: Option<String>,
    pub host: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub budget_id: Option<i64>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub payment_id: Option<i64>,
    pub message: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// An alert about to be recorded.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub kind: AlertKind,
    pub agent_id: Option<i64>,
    pub host: Option<String>,
    pub budget_id: Option<i64>,
    pub message: String,
    /// Alerts with the same key are recorded once.
    pub dedupe_key: Option<String>,
}

/// Records `alert` unless one with its key exists; returns its id when it was recorded.
pub(crate) async fn record(
    conn: &mut Conn,
    alert: &NewAlert,
    payment_id: Option<i64>,
    now_ms: i64,
) -> Result<Option<i64>> {
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO alerts (kind, agent_id, host, budget_id, payment_id, message, dedupe_key, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(alert.kind)
    .bind(alert.agent_id)
    .bind(&alert.host)
    .bind(alert.budget_id)
    .bind(payment_id)
    .bind(&alert.message)
    .bind(&alert.dedupe_key)
    .bind(now_ms)
    .fetch_optional(conn)
    .await?;
    Ok(id)
}

impl Ledger {
    /// Alerts, newest first.
    pub async fn alerts(&self, limit: i64) -> Result<Vec<Alert>> {
        let rows = sqlx::query(
            "SELECT al.id, al.kind, a.name AS agent, al.host, al.budget_id, al.payment_id, al.message, \
             al.created_at_ms \
             FROM alerts al LEFT JOIN agents a ON a.id = al.agent_id ORDER BY al.id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| Alert {
                id: r.get("id"),
                kind: r.get("kind"),
                agent: r.get("agent"),
                host: r.get("host"),
                budget_id: r.get("budget_id"),
                payment_id: r.get("payment_id"),
                message: r.get("message"),
                created_at: super::engine::utc_text(r, "created_at_ms"),
            })
            .collect())
    }

    /// Records alerts outside a payment (e.g. a tripped breaker), returning those that were new.
    pub async fn record_alerts(&self, alerts: &[NewAlert], payment_id: Option<i64>) -> Result<Vec<Alert>> {
        let mut conn = self.pool().acquire().await?;
        let mut ids = Vec::new();
        for a in alerts {
            if let Some(id) = record(&mut conn, a, payment_id, self.now_ms()).await? {
                ids.push(id);
            }
        }
        drop(conn);
        self.alerts_by_id(&ids).await
    }

    pub(crate) async fn alerts_by_id(&self, ids: &[i64]) -> Result<Vec<Alert>> {
        let Some(min) = ids.iter().min() else { return Ok(Vec::new()) };
        // The ids were just written: they are the newest rows.
        let newest = self.alerts(i64::try_from(ids.len()).unwrap_or(i64::MAX).saturating_add(64)).await?;
        Ok(newest.into_iter().filter(|a| a.id >= *min && ids.contains(&a.id)).rev().collect())
    }
}
