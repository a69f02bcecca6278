//! BTC prices in the person's currency, for limits and figures set in money people think in: several
//! sources asked at once ([`race`]), each answer read by its known shape ([`shape`]) and checked for sense
//! ([`pick`]), the winner cached for a minute ([`Rates`]); never a hard-coded price, never a rate older than
//! the allowed age. Sats stay the unit of the ledger and of every payment: a rate only converts.

pub mod pick;
pub mod race;
pub mod shape;
pub mod source;

pub use race::{Rates, RatesError};
pub use source::Source;

use crate::units::Msats;

/// One BTC price: how many units of `currency` one bitcoin is worth, from `source`, read at `at_ms`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rate {
    /// An ISO 4217 code, upper case (`USD`).
    pub currency: String,
    pub per_btc: f64,
    pub source: String,
    pub at_ms: i64,
}

/// Millisatoshis in one bitcoin.
const MSAT_PER_BTC: f64 = 100_000_000_000.0;

impl Rate {
    /// What `amount` msat are worth in the rate's currency.
    pub fn value_of(&self, amount: Msats) -> f64 {
        amount.0 as f64 / MSAT_PER_BTC * self.per_btc
    }

    /// The most msat that `money` (in the rate's currency) buys: rounded down, so a limit converted with it
    /// is never passed.
    pub fn msat_for(&self, money: f64) -> Msats {
        if !(money.is_finite() && money > 0.0 && self.per_btc > 0.0) {
            return Msats(0);
        }
        let msat = (money / self.per_btc * MSAT_PER_BTC).floor();
        Msats(if msat >= u64::MAX as f64 { u64::MAX } else { msat as u64 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_both_ways_rounding_limits_down() {
        let rate = Rate { currency: "USD".into(), per_btc: 100_000.0, source: "test".into(), at_ms: 0 };
        // $1 at $100,000 a bitcoin is 1,000 sats.
        assert_eq!(rate.msat_for(1.0), Msats(1_000_000));
        assert!((rate.value_of(Msats(1_000_000)) - 1.0).abs() < 1e-12);
        // $0.05 at $97,531.25: 51.265… sats, rounded down to the msat.
        let odd = Rate { per_btc: 97_531.25, ..rate.clone() };
        assert_eq!(odd.msat_for(0.05), Msats(51_265));
        assert_eq!(rate.msat_for(0.0), Msats(0));
        assert_eq!(rate.msat_for(-1.0), Msats(0));
        assert_eq!(rate.msat_for(f64::NAN), Msats(0));
    }
}
