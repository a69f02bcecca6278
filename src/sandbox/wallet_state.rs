//! The sandbox wallet's balance and the payments it made, kept in a state file between runs so a killed
//! sandbox's ledger can be checked against what its wallet paid.

use std::collections::HashMap;

use nostr_sdk::Timestamp;

use crate::units::{Msats, PaymentHash};

#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub invoice: String,
    pub amount: Msats,
    pub fee: Msats,
    pub preimage: String,
    pub at: Timestamp,
}

/// The sandbox wallet's state file in a data directory.
pub const SANDBOX_WALLET_FILE: &str = "sandbox-wallet.json";

/// The state file's form.
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    balance_msat: u64,
    payments: Vec<SavedPayment>,
}

/// One payment the sandbox wallet made, as its state file records it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SavedPayment {
    pub payment_hash: String,
    pub invoice: String,
    pub amount_msat: u64,
    pub fee_msat: u64,
    pub preimage: String,
    pub at_unix: u64,
}

/// The payments recorded in a sandbox wallet's state file (for checking a ledger against it).
pub fn saved_payments(state_file: &std::path::Path) -> std::io::Result<Vec<SavedPayment>> {
    let text = std::fs::read_to_string(state_file)?;
    let saved: Saved = serde_json::from_str(&text).map_err(std::io::Error::other)?;
    Ok(saved.payments)
}

pub(super) fn load(state_file: &std::path::Path, balance: Msats) -> (Msats, HashMap<PaymentHash, Sent>) {
    let Ok(text) = std::fs::read_to_string(state_file) else { return (balance, HashMap::new()) };
    let Ok(saved) = serde_json::from_str::<Saved>(&text) else {
        tracing::warn!("the sandbox wallet's state file {} is unreadable; starting afresh", state_file.display());
        return (balance, HashMap::new());
    };
    let sent = saved
        .payments
        .into_iter()
        .filter_map(|p| {
            let hash = PaymentHash::from_hex(&p.payment_hash)?;
            let sent = Sent {
                invoice: p.invoice,
                amount: Msats(p.amount_msat),
                fee: Msats(p.fee_msat),
                preimage: p.preimage,
                at: Timestamp::from(p.at_unix),
            };
            Some((hash, sent))
        })
        .collect();
    (Msats(saved.balance_msat), sent)
}

pub(super) fn save(state_file: &std::path::Path, state: &State) -> std::io::Result<()> {
    let saved = Saved {
        balance_msat: state.balance.0,
        payments: state
            .sent
            .iter()
            .map(|(h, s)| SavedPayment {
                payment_hash: h.to_hex(),
                invoice: s.invoice.clone(),
                amount_msat: s.amount.0,
                fee_msat: s.fee.0,
                preimage: s.preimage.clone(),
                at_unix: s.at.as_secs(),
            })
            .collect(),
    };
    let json = serde_json::to_vec_pretty(&saved).map_err(std::io::Error::other)?;
    crate::private_fs::write_atomic(state_file, &json, true)
}

pub(super) struct State {
    pub balance: Msats,
    pub sent: HashMap<PaymentHash, Sent>,
    pub pay_requests: u64,
    /// Invoices `make_invoice` made (paid into this wallet), with when.
    pub made: HashMap<PaymentHash, (String, nostr_sdk::Timestamp)>,
}
