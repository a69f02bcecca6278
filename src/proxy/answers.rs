//! What the agent endpoints answer, as types: the JSON an agent reads from `/_purser/agent`, `/_purser/quote`,
//! `/_purser/fetch`, `/_purser/payments` and `/_purser/allowances`. The endpoints write these and the MCP
//! server reads them back and hands them on as its tools' structured results, so the HTTP answers and the
//! tools' output schemas are one and the same.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::ledger::allowances::Allowance;
pub use crate::ledger::endpoints::RecentPrices;

/// What `GET /_purser/agent` and the `get_budget` tool answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Overview {
    /// This agent's name.
    pub agent: String,
    /// Whether the person paused this agent's payments (or everyone's): while paused, every payment is
    /// refused.
    pub paused: bool,
    /// Every budget that applies to this agent. A budget shared with other agents (the whole wallet's, an
    /// API's) counts everyone's use: what is left is what this agent can still spend under it.
    pub budgets: Vec<BudgetLeft>,
    /// The approval thresholds that apply to this agent. With none, a payment within the budgets is paid
    /// at once.
    pub thresholds: Vec<ThresholdView>,
    /// This agent's task allowances that wait for the person's answer or can be spent from now.
    pub allowances: Vec<Allowance>,
    /// Where an API's published prices are read: `GET` this path with `?api=URL`.
    pub prices: String,
}

/// One budget with what its current window used and has left.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BudgetLeft {
    pub id: i64,
    /// Whose payments it counts, e.g. "agent research on api.example.com" or "all agents".
    pub applies_to: String,
    /// The API (`host` or `host:port`) it is limited to, if any.
    pub api: Option<String>,
    /// `request` (each payment on its own), `day`, `week`, `month` (calendar windows in the person's time
    /// zone), `rolling` (the last `rolling_hours`) or `lifetime`.
    pub period: String,
    pub rolling_hours: Option<u32>,
    /// For a budget set in a currency, the msat figures are what it has left bought at the rate of the
    /// moment (0 when no rate is young enough); these are the limit as set and what its window used in it,
    /// each payment at the rate it was paid at.
    pub limit_msat: u64,
    pub limit_fiat: Option<crate::rates::Money>,
    pub used_fiat: Option<crate::rates::Money>,
    pub used_msat: u64,
    pub remaining_msat: u64,
    /// When the current window ends and the budget starts again from zero (calendar periods only), ms
    /// since the epoch.
    pub resets_at_ms: Option<i64>,
    /// The same moment in RFC 3339, in the person's time zone.
    pub resets_at: Option<String>,
    /// When the budget itself ends, if the person set it to, ms since the epoch.
    pub expires_at_ms: Option<i64>,
}

/// Up to which amount a payment is paid at once, asked about, or needs the person's confirmation.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ThresholdView {
    /// Whose payments it covers, e.g. "agent research on api.example.com".
    pub applies_to: String,
    pub api: Option<String>,
    /// Paid without asking up to this amount.
    pub auto_approve_up_to_msat: u64,
    /// Above the auto-approve amount and up to this one the person is asked; above it, refused.
    pub ask_up_to_msat: u64,
    /// Above this amount the person must confirm (a passphrase), not just click.
    pub confirm_above_msat: Option<u64>,
    /// The limits as the person set them in a currency (millionths of it), when they did: the msat figures
    /// are then what they buy at the rate of the moment (0 when no rate is young enough).
    pub set_in: Option<crate::policy::fiat::FiatThreshold>,
}

/// What `POST /_purser/quote` and the `quote` tool answer. Nothing is paid for a quote.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Quote {
    pub calls: Vec<QuoteLine>,
    pub total: QuoteTotal,
    /// Always false: a quote pays nothing.
    pub paid: bool,
}

/// One planned call's price and what policy would do with one such call.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct QuoteLine {
    pub method: String,
    pub url: String,
    pub count: u64,
    /// The API as the ledger names it (`host` or `host:port`).
    pub api: String,
    pub path: String,
    /// The price the API publishes for this call, or quotes for it now when it is not fixed.
    pub published_msat: Option<u64>,
    /// Where the published price was read (`pricing`, `l402.json`, `openapi`…), or `quote endpoint`.
    pub published_source: Option<String>,
    /// What this agent's last settled payments for this call cost.
    pub usual: Option<RecentPrices>,
    /// The price an unpaid request was asked (only with `probe`).
    pub probed_msat: Option<u64>,
    /// What the probe did, or why there was none.
    pub probe: Option<String>,
    pub lowest_msat: Option<u64>,
    pub expected_msat: Option<u64>,
    pub highest_msat: Option<u64>,
    pub policy: PolicyView,
}

/// What today's policy would do with a payment.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PolicyView {
    /// `pay` (at once), `ask` (the person is asked), `confirm` (the person must confirm), `refuse`, or
    /// `unknown` (no price is known).
    pub decision: String,
    /// The reason code of a refusal.
    pub reason: Option<String>,
    pub explanation: String,
}

/// The whole plan's cost as a range.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct QuoteTotal {
    pub lowest_msat: u64,
    pub expected_msat: u64,
    pub highest_msat: u64,
    /// Where the prices came from.
    pub sources: Vec<String>,
    /// The calls with no known price (not in the totals).
    pub unpriced: Vec<String>,
}

/// What `POST /_purser/fetch` and the `fetch` tool answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FetchAnswer {
    /// Purser's id for this request, as in the ledger and the `Purser-Request-Id` header.
    pub request_id: String,
    /// The HTTP status the agent got: the API's, or Purser's own when `problem` is set.
    pub status: u16,
    /// The response headers (repeated ones joined with ", ").
    pub headers: BTreeMap<String, String>,
    /// The response body: text, or base64 when it is not UTF-8.
    pub body: String,
    pub body_encoding: BodyEncoding,
    /// How many bytes of the body `body` holds.
    pub body_bytes: usize,
    /// Whether the body was cut at `max_body_bytes`.
    pub truncated: bool,
    /// A word on the body, when it was cut.
    pub note: Option<String>,
    /// The payment this request made or was refused, as the ledger has it.
    pub payment: Option<AgentPayment>,
    /// Set when Purser answered instead of the API: a payment refused (by policy, a budget, the person),
    /// an API that could not be reached, a wallet that is down.
    pub problem: Option<Problem>,
}

/// How a body is written in a JSON string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BodyEncoding {
    Text,
    Base64,
}

/// Why Purser answered itself: a reason code (see the README's reason codes) and words for a person.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    pub reason: String,
    pub detail: String,
}

/// One payment of this agent's, as the ledger has it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AgentPayment {
    pub id: i64,
    pub request_id: String,
    pub method: String,
    pub url: String,
    /// The API (`host` or `host:port`).
    pub api: String,
    /// The 402 dialect: `l402`, `lsat`, `mpp`, `x402`, …
    pub dialect: String,
    /// What the invoice asked, when it was read.
    pub amount_msat: Option<i64>,
    /// The routing fee the wallet paid.
    pub fee_msat: Option<i64>,
    /// `pending`, `paying`, `settled`, `failed`, `unknown`, `bad_preimage` or `refused`.
    pub status: String,
    /// The reason code of a refusal or failure.
    pub reason: Option<String>,
    /// Who or what decided, and why.
    pub decision: String,
    /// What the API answered the paid retry with.
    pub upstream_status: Option<i64>,
    /// Whether the paid answer reached the agent.
    pub delivered: Option<bool>,
    /// The task allowance it was paid from.
    pub allowance_id: Option<i64>,
    /// RFC 3339, UTC.
    pub created_at: String,
}

impl From<crate::ledger::export::PaymentRow> for AgentPayment {
    fn from(row: crate::ledger::export::PaymentRow) -> Self {
        AgentPayment {
            id: row.id,
            url: format!("{}://{}{}", row.scheme, row.host, row.path),
            request_id: row.request_id,
            method: row.method,
            api: row.host,
            dialect: row.challenge_kind,
            amount_msat: row.amount_msat,
            fee_msat: row.fee_msat,
            status: row.status.as_str().to_string(),
            reason: row.reason,
            decision: row.decision,
            upstream_status: row.upstream_status,
            delivered: row.delivered,
            allowance_id: row.allowance_id,
            created_at: row.created_at,
        }
    }
}

/// What `GET /_purser/payments` and the `list_payments` tool answer, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PaymentList {
    pub payments: Vec<AgentPayment>,
}

/// What `GET /_purser/allowances` answers, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AllowanceList {
    pub allowances: Vec<Allowance>,
}
