//! The decisions the ledger needs inside its transactions, handed to it: the ledger reads the figures and
//! writes the outcome, and never decides itself. [`Rules`] are Purser's, the functions of [`crate::policy`];
//! tests may hand in others.

use super::concerns::{self, PriceConcern};
use super::{BudgetUse, Decision, Request, Snapshot};
use crate::units::Msats;

pub trait Judge: Send + Sync {
    /// May this payment go ahead? See [`super::decide`].
    fn decide(&self, snapshot: &Snapshot, request: &Request) -> Decision;
    /// The budget with the least room after this payment.
    fn tightest<'a>(&self, budgets: &'a [BudgetUse], request: &Request) -> Option<&'a BudgetUse>;
    /// What a pending payment's fee may be at most.
    fn fee_reserve(&self, amount: Msats) -> Msats;
    /// The budget levels a payment crosses.
    fn crossed_levels(&self, used: Msats, demand: Msats, limit: Msats) -> Vec<u64>;
    /// Whether a payment takes an agent over the velocity limit.
    fn velocity_crossed(&self, last_minute: Msats, amount: Msats, limit: Msats) -> bool;
    /// Whether an invoice's price needs a person.
    fn price_concern(
        &self,
        amount: Msats,
        advertised: Option<Msats>,
        usual: Option<f64>,
        margin_pct: u64,
    ) -> Option<PriceConcern>;
    /// Why an endpoint's breaker trips after a paid request that was not delivered, if it does.
    fn breaker_trip(&self, upstream_status: Option<u16>, recent: &[Option<bool>], failures: u32) -> Option<String>;
}

/// Purser's rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules;

impl Judge for Rules {
    fn decide(&self, snapshot: &Snapshot, request: &Request) -> Decision {
        super::decide(snapshot, request)
    }

    fn tightest<'a>(&self, budgets: &'a [BudgetUse], request: &Request) -> Option<&'a BudgetUse> {
        super::tightest(budgets, request)
    }

    fn fee_reserve(&self, amount: Msats) -> Msats {
        super::fee_reserve(amount)
    }

    fn crossed_levels(&self, used: Msats, demand: Msats, limit: Msats) -> Vec<u64> {
        concerns::crossed_levels(used, demand, limit)
    }

    fn velocity_crossed(&self, last_minute: Msats, amount: Msats, limit: Msats) -> bool {
        concerns::velocity_crossed(last_minute, amount, limit)
    }

    fn price_concern(
        &self,
        amount: Msats,
        advertised: Option<Msats>,
        usual: Option<f64>,
        margin_pct: u64,
    ) -> Option<PriceConcern> {
        concerns::price_concern(amount, advertised, usual, margin_pct)
    }

    fn breaker_trip(&self, upstream_status: Option<u16>, recent: &[Option<bool>], failures: u32) -> Option<String> {
        concerns::breaker_trip(upstream_status, recent, failures)
    }
}
