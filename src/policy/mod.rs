//! The one decision point for "may this payment go ahead?": pure, over figures the ledger reads inside the
//! same transaction that reserves the payment. The first policy is two caps: per request, and per agent in
//! all. The full engine (budgets, thresholds, approvals) replaces [`decide`] and keeps its place.

use crate::units::Msats;

/// The user's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_per_request: Msats,
    pub max_per_agent: Msats,
}

/// What the ledger knows at decision time.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// The invoice's amount.
    pub amount: Msats,
    /// The most the routing fee may add while the payment is pending.
    pub fee_reserve: Msats,
    /// What the agent has already spent or has in flight: settled amounts and fees, plus pending amounts
    /// with their fee reserve.
    pub agent_committed: Msats,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Pay; the text says which rule allowed it.
    Allow(String),
    /// Do not pay: a reason code and the text a person reads.
    Refuse {
        reason: &'static str,
        explanation: String,
    },
}

pub fn decide(limits: &Limits, f: &Figures) -> Decision {
    if f.amount > limits.max_per_request {
        return Decision::Refuse {
            reason: "over_request_limit",
            explanation: format!(
                "{} is above the per-request limit of {}",
                f.amount, limits.max_per_request
            ),
        };
    }
    let after = Msats(f.agent_committed.0 + f.amount.0 + f.fee_reserve.0);
    if after > limits.max_per_agent {
        return Decision::Refuse {
            reason: "budget_exceeded",
            explanation: format!(
                "the agent has {} spent or in flight; {} more (with up to {} fee) would pass its limit of {}",
                f.agent_committed, f.amount, f.fee_reserve, limits.max_per_agent
            ),
        };
    }
    Decision::Allow(format!(
        "within the per-request limit of {} and the agent's limit of {} ({} used before)",
        limits.max_per_request, limits.max_per_agent, f.agent_committed
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_per_request: Msats(100_000),
        max_per_agent: Msats(300_000),
    };

    fn figures(amount_sats: u64, committed_sats: u64) -> Figures {
        Figures {
            amount: Msats::from_sats(amount_sats),
            fee_reserve: Msats(1_000),
            agent_committed: Msats::from_sats(committed_sats),
        }
    }

    #[test]
    fn per_request_cap() {
        assert!(matches!(
            decide(&LIMITS, &figures(100, 0)),
            Decision::Allow(_)
        ));
        assert!(matches!(
            decide(&LIMITS, &figures(101, 0)),
            Decision::Refuse {
                reason: "over_request_limit",
                ..
            }
        ));
    }

    #[test]
    fn per_agent_cap_counts_the_fee_reserve() {
        assert!(matches!(
            decide(&LIMITS, &figures(99, 200)),
            Decision::Allow(_)
        ));
        // 200 + 100 + 1 sat of fee reserve passes 300.
        assert!(matches!(
            decide(&LIMITS, &figures(100, 200)),
            Decision::Refuse {
                reason: "budget_exceeded",
                ..
            }
        ));
    }
}
