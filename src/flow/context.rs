//! What the flow knows of the request a 402 answered, and what a payment leaves for the retry.

use http::HeaderMap;

use super::timing::Timing;
use crate::challenge::PaymentChallenge;
use crate::http::target::Target;
use crate::invoice::CheckedInvoice;
use crate::ledger::agents::Agent;
use crate::ledger::payments::NewPayment;
use crate::units::{PaymentHash, Preimage};

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
    /// The most this one request may pay in a currency (`Purser-Max-Fiat`).
    pub max_fiat: Option<crate::rates::Money>,
    /// The task allowance the request names (`Purser-Allowance`).
    pub allowance: Option<i64>,
    /// Why the agent needs it (`Purser-Reason`).
    pub agent_reason: Option<String>,
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
pub(crate) fn new_payment(
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
        allowance: ctx.allowance,
        agent_reason: ctx.agent_reason.clone(),
        rates: Default::default(),
    }
}
