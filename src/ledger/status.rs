//! A payment's status as the ledger records and shows it.

use serde::{Deserialize, Serialize};

/// Where a payment stands. `paying` is shown for a `pending` row the wallet was already asked to pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum PaymentStatus {
    /// Reserved and counted in budgets; the wallet has not been asked yet.
    Pending,
    /// Sent to the wallet, no answer yet.
    Paying,
    Settled,
    /// The wallet said no, or it was never sent: nothing was paid.
    Failed,
    /// Sent, and no answer came: still counted in budgets until recovery resolves it.
    Unknown,
    /// The wallet answered with a preimage that does not match the invoice.
    BadPreimage,
    /// Purser did not pay: policy, a person, or a check said no.
    Refused,
}

super::engine::text_column!(PaymentStatus);

impl PaymentStatus {
    /// Every status, in the order listings offer them.
    pub const ALL: [PaymentStatus; 7] = [
        PaymentStatus::Settled,
        PaymentStatus::Refused,
        PaymentStatus::Pending,
        PaymentStatus::Paying,
        PaymentStatus::Failed,
        PaymentStatus::Unknown,
        PaymentStatus::BadPreimage,
    ];

    /// The stored and exported name.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Paying => "paying",
            PaymentStatus::Settled => "settled",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Unknown => "unknown",
            PaymentStatus::BadPreimage => "bad_preimage",
            PaymentStatus::Refused => "refused",
        }
    }
}

impl std::fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A status compares equal to its name, so checks read `row.status == "settled"`.
impl PartialEq<&str> for PaymentStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_listed_once_with_its_serde_name() {
        let mut names: Vec<&str> = PaymentStatus::ALL.iter().map(|s| s.as_str()).collect();
        for s in PaymentStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PaymentStatus::ALL.len());
    }
}
