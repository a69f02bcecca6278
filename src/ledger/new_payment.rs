//! What is known of a payment when Purser decides on it: the row a reservation or a refusal writes.

use crate::rates::RatesAtHand;
#[cfg(test)]
use crate::units::Preimage;
use crate::units::{Msats, PaymentHash};

/// What is known of a payment when Purser decides on it.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub request_id: String,
    pub agent_id: i64,
    pub agent: String,
    pub method: String,
    pub scheme: String,
    /// `host[:port]`, lowercase.
    pub host: String,
    pub path: String,
    pub challenge_kind: String,
    pub amount: Option<Msats>,
    pub payment_hash: Option<PaymentHash>,
    pub invoice: Option<String>,
    /// The price the API publishes for this endpoint, when it publishes one.
    pub advertised: Option<Msats>,
    /// `L402 <token>` for token proofs: with the preimage, the credential a payment yields.
    pub proof_prefix: Option<String>,
    /// The task allowance the request names (`Purser-Allowance`); else the agent's only active one applies.
    pub allowance: Option<i64>,
    /// Why the agent says it needs this payment (`Purser-Reason`), shown to a person who is asked.
    pub agent_reason: Option<String>,
    /// The BTC rates fetched for this payment's decision: its limits in a currency convert with them, and
    /// the first (the person's display currency, when they chose one) is recorded on the row.
    pub rates: RatesAtHand,
}

#[cfg(test)]
impl NewPayment {
    /// A `sats` payment by `agent` to `https://{host}/p`, with invoice `n`'s payment hash.
    pub(crate) fn sample(agent_id: i64, agent: &str, host: &str, n: u8, sats: u64) -> NewPayment {
        NewPayment {
            request_id: format!("req_{n}"),
            agent_id,
            agent: agent.into(),
            method: "GET".into(),
            scheme: "https".into(),
            host: host.into(),
            path: "/p".into(),
            challenge_kind: "l402".into(),
            amount: Some(Msats::from_sats(sats)),
            payment_hash: Some(Preimage([n; 32]).payment_hash()),
            invoice: None,
            advertised: None,
            proof_prefix: None,
            allowance: None,
            agent_reason: None,
            rates: RatesAtHand::default(),
        }
    }
}
