//! The payment rows as people and programs read them: a table for the terminal, JSON, and CSV. Preimages
//! are not part of any export.

use serde::Serialize;
use sqlx::Row;

use super::status::PaymentStatus;
use super::{Ledger, Result};

/// One payment as exported.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PaymentRow {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub request_id: String,
    pub agent: String,
    pub method: String,
    pub scheme: String,
    pub host: String,
    pub path: String,
    pub challenge_kind: String,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub amount_msat: Option<i64>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub fee_msat: Option<i64>,
    pub payment_hash: Option<String>,
    pub invoice: Option<String>,
    pub status: PaymentStatus,
    pub reason: Option<String>,
    pub decision: String,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub upstream_status: Option<i64>,
    pub delivered: Option<bool>,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
    /// What the API answered the paid retry with, when its dialect has receipts (MPP, x402), decoded.
    pub receipt: Option<String>,
    /// The task allowance the payment was made under.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub allowance_id: Option<i64>,
    /// The currency the payment's value was recorded in when it was decided (the display currency then).
    pub fiat_currency: Option<String>,
    /// The BTC price in that currency it was decided at, and where it came from.
    pub fiat_per_btc: Option<f64>,
    pub fiat_source: Option<String>,
    /// What the amount and fee were worth at that rate, in units of the currency (six decimals at most).
    pub fiat_value: Option<f64>,
    /// The Purser instance (machine) that made the payment, in a team's ledger.
    pub instance: Option<String>,
}

impl PaymentRow {
    /// The recorded value as money: amount and fee at the rate the payment was decided at.
    pub fn fiat(&self) -> Option<crate::rates::Money> {
        let currency = self.fiat_currency.clone()?;
        let rate = crate::rates::Rate { currency, per_btc: self.fiat_per_btc?, source: String::new(), at_ms: 0 };
        let msat = self.amount_msat?.max(0) as u64 + self.fee_msat.unwrap_or(0).max(0) as u64;
        Some(rate.money_of(crate::units::Msats(msat)))
    }

    fn with_fiat_value(mut self) -> Self {
        self.fiat_value = self.fiat().map(|m| m.units());
        self
    }
}

/// The columns every payment listing selects, in the order [`row`] reads them.
pub(crate) const COLUMNS: &str = "SELECT p.id, p.request_id, (SELECT name FROM agents WHERE id = p.agent_id) AS agent, p.method, p.scheme, p.host, p.path, \
     p.challenge_kind, p.amount_msat, p.fee_msat, p.payment_hash, p.invoice, \
     CASE WHEN p.status = 'pending' AND p.wallet_asked_at_ms IS NOT NULL THEN 'paying' ELSE p.status END AS status, \
     p.failure_reason, p.decision, \
     p.upstream_status, p.delivered, \
     p.created_at_ms, p.updated_at_ms, p.receipt, \
     p.allowance_id, p.fiat_currency, p.fiat_per_btc, p.fiat_source, p.instance FROM payments p";

pub(crate) fn row(r: &super::engine::DbRow) -> PaymentRow {
    PaymentRow {
        id: r.get("id"),
        request_id: r.get("request_id"),
        agent: r.get("agent"),
        method: r.get("method"),
        scheme: r.get("scheme"),
        host: r.get("host"),
        path: r.get("path"),
        challenge_kind: r.get("challenge_kind"),
        amount_msat: r.get("amount_msat"),
        fee_msat: r.get("fee_msat"),
        payment_hash: r.get("payment_hash"),
        invoice: r.get("invoice"),
        status: r.get("status"),
        reason: r.get("failure_reason"),
        decision: r.get("decision"),
        upstream_status: r.get("upstream_status"),
        delivered: super::engine::opt_flag(r, "delivered"),
        created_at: super::engine::utc_text(r, "created_at_ms"),
        updated_at: super::engine::utc_text(r, "updated_at_ms"),
        receipt: r.get("receipt"),
        allowance_id: r.get("allowance_id"),
        fiat_currency: r.get("fiat_currency"),
        fiat_per_btc: r.get("fiat_per_btc"),
        fiat_source: r.get("fiat_source"),
        instance: r.get("instance"),
        fiat_value: None,
    }
    .with_fiat_value()
}

impl Ledger {
    /// Payments, newest first; at most `limit`.
    pub async fn payments(&self, limit: i64) -> Result<Vec<PaymentRow>> {
        let sql = format!("{COLUMNS} ORDER BY p.id DESC LIMIT $1");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(row).collect())
    }
}

pub fn to_json(rows: &[PaymentRow]) -> String {
    serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".into())
}

pub fn to_csv(rows: &[PaymentRow]) -> std::result::Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.serialize(row)?;
    }
    if rows.is_empty() {
        w.write_record(CSV_HEADER)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

const CSV_HEADER: [&str; 26] = [
    "id",
    "request_id",
    "agent",
    "method",
    "scheme",
    "host",
    "path",
    "challenge_kind",
    "amount_msat",
    "fee_msat",
    "payment_hash",
    "invoice",
    "status",
    "reason",
    "decision",
    "upstream_status",
    "delivered",
    "created_at",
    "updated_at",
    "receipt",
    "allowance_id",
    "fiat_currency",
    "fiat_per_btc",
    "fiat_source",
    "fiat_value",
    "instance",
];

fn sats(msat: Option<i64>) -> String {
    match msat {
        None => "-".into(),
        Some(m) if m % 1000 == 0 => format!("{}", m / 1000),
        Some(m) => format!("{:.3}", m as f64 / 1000.0),
    }
}

/// A table for the terminal: one line a payment.
pub fn to_table(rows: &[PaymentRow]) -> String {
    if rows.is_empty() {
        return "No payments yet.\n".into();
    }
    let header = [
        "ID",
        "WHEN (UTC)",
        "AGENT",
        "REQUEST",
        "DIALECT",
        "SATS",
        "FEE",
        "VALUE",
        "STATUS",
        "DELIVERED",
        "REQUEST ID",
    ];
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        let status = match &r.reason {
            Some(reason) if r.status != PaymentStatus::Settled => format!("{} ({reason})", r.status),
            _ => r.status.to_string(),
        };
        let delivered = match (r.delivered, r.upstream_status) {
            (Some(true), Some(s)) => format!("yes ({s})"),
            (Some(false), Some(s)) => format!("no ({s})"),
            _ => "-".into(),
        };
        lines.push(vec![
            r.id.to_string(),
            r.created_at.get(..19).unwrap_or(&r.created_at).replace('T', " "),
            r.agent.clone(),
            format!("{} {}://{}{}", r.method, r.scheme, r.host, r.path),
            r.challenge_kind.clone(),
            sats(r.amount_msat),
            sats(r.fee_msat),
            r.fiat().map_or_else(|| "-".into(), |m| m.to_string()),
            status,
            delivered,
            r.request_id.clone(),
        ]);
    }
    let widths: Vec<usize> =
        (0..header.len()).map(|c| lines.iter().map(|l| l[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
