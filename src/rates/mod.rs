//! BTC prices in the person's currency, for limits and figures set in money people think in: several
//! sources asked at once ([`race`]), each answer read by its known shape ([`shape`]) and checked for sense
//! ([`pick`]), the winner cached for a minute ([`Rates`]); never a hard-coded price, never a rate older than
//! the allowed age. Sats stay the unit of the ledger and of every payment: a rate only converts.

pub mod money;
pub mod pick;
pub mod race;
pub mod shape;
pub mod source;

pub use money::{Money, MoneyError};
pub use race::{Rates, RatesError};
pub use source::Source;

use crate::units::Msats;

/// One BTC price: how many units of `currency` one bitcoin is worth, from `source`, read at `at_ms`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rate {
    /// An ISO 4217 code, upper case (`USD`).
    pub currency: String,
    pub per_btc: f64,
    pub source: String,
    pub at_ms: i64,
}

/// Millisatoshis in one bitcoin.
const MSAT_PER_BTC: f64 = 100_000_000_000.0;

/// Millisatoshis in one bitcoin over millionths in one currency unit: `msat × per_btc / this` is micros.
const MSAT_PER_BTC_PER_MICRO: f64 = MSAT_PER_BTC / money::MICROS_PER_UNIT as f64;

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

    /// The most msat `micros` millionths of the currency buy, rounded down. Whole amounts stay exact: $0.29 at
    /// $100,000 a bitcoin is 290 sats, not 289.999.
    pub fn msat_for_micros(&self, micros: i64) -> Msats {
        if micros <= 0 || !(self.per_btc.is_finite() && self.per_btc > 0.0) {
            return Msats(0);
        }
        let msat = (micros as f64 * MSAT_PER_BTC_PER_MICRO / self.per_btc).floor();
        Msats(if msat >= u64::MAX as f64 { u64::MAX } else { msat as u64 })
    }

    /// What `amount` is worth, in millionths of the currency, rounded to the nearest.
    pub fn micros_of(&self, amount: Msats) -> i64 {
        let micros = (amount.0 as f64 * self.per_btc / MSAT_PER_BTC_PER_MICRO).round();
        if micros >= i64::MAX as f64 { i64::MAX } else { micros as i64 }
    }

    /// What `amount` is worth, as money.
    pub fn money_of(&self, amount: Msats) -> Money {
        Money { currency: self.currency.clone(), micros: self.micros_of(amount) }
    }

    /// "1 BTC = $100,000.00 (sandbox play rate, 12 s old at decision)": what a decision names.
    pub fn describe(&self, now_ms: i64) -> String {
        let price = Money { currency: self.currency.clone(), micros: (self.per_btc * 1e6).round() as i64 };
        let age_s = (now_ms - self.at_ms).max(0) / 1000;
        format!("1 BTC = {price} ({}, {age_s} s old)", self.source)
    }
}

/// The rates a payment's decision has: each currency's, or why it could not be had.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RatesAtHand {
    pub rates: Vec<Rate>,
    /// Currency and why no rate for it is young enough.
    pub missing: Vec<(String, String)>,
}

impl RatesAtHand {
    pub fn rate(&self, currency: &str) -> Option<&Rate> {
        self.rates.iter().find(|r| r.currency == currency)
    }

    pub fn why_missing(&self, currency: &str) -> String {
        self.missing
            .iter()
            .find(|(c, _)| c == currency)
            .map(|(_, why)| why.clone())
            .unwrap_or_else(|| format!("no BTC/{currency} rate was asked for"))
    }
}

impl Rates {
    /// The rates for `currencies`, each no older than `max_age`, or why not (for views: the budgets screen,
    /// an agent's overview).
    pub async fn at_hand(&self, currencies: &[String], max_age: std::time::Duration) -> RatesAtHand {
        let mut at_hand = RatesAtHand::default();
        for currency in currencies {
            match self.get(currency, max_age).await {
                Ok(rate) => at_hand.rates.push(rate),
                Err(e) => at_hand.missing.push((currency.clone(), e.to_string())),
            }
        }
        at_hand
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

    #[test]
    fn converts_whole_millionths_exactly() {
        let rate = Rate { currency: "USD".into(), per_btc: 100_000.0, source: "test".into(), at_ms: 0 };
        assert_eq!(rate.msat_for_micros(290_000), Msats(290_000));
        assert_eq!(rate.msat_for_micros(50_000), Msats(50_000));
        assert_eq!(rate.msat_for_micros(0), Msats(0));
        assert_eq!(rate.micros_of(Msats(260_000)), 260_000);
        let odd = Rate { per_btc: 97_531.25, ..rate.clone() };
        assert_eq!(odd.msat_for_micros(50_000), Msats(51_265));
        // Rounded down to the msat, the sats are worth a little less than the limit: 49,999.48 millionths.
        assert_eq!(odd.micros_of(Msats(51_265)), 49_999);
        assert_eq!(rate.describe(12_500), "1 BTC = $100,000.00 (test, 12 s old)");
    }
}
