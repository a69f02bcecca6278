//! Limits set in a person's currency, as a decision sees them: converted to msat with the rate fetched for
//! this payment (never an older one than the person allows), so the rest of the policy stays in sats.
//!
//! A budget in a currency counts what its window used at each payment's own recorded rate; payments recorded
//! without a value in that currency count at the decision's rate. Its room in msat is what the money left
//! buys now, rounded down. A threshold's limits convert the same way. When a limit's rate is missing, the limit
//! cannot be checked: the decision then goes to a person with `rate_unavailable` ([`Snapshot::unpriced`]).

use serde::Serialize;

use super::allowance::AllowanceUse;
use super::{BudgetUse, Snapshot, Threshold};
use crate::rates::{Money, Rate, RatesAtHand};
use crate::units::Msats;

/// A threshold's limits in a currency, in millionths of it; converted into the threshold's msat limits
/// when a payment is decided.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct FiatThreshold {
    pub currency: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub auto_max_micros: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ask_max_micros: i64,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub confirm_above_micros: Option<i64>,
}

impl FiatThreshold {
    pub fn money(&self, micros: i64) -> Money {
        Money { currency: self.currency.clone(), micros }
    }
}

/// What a budget set in a currency used in its window, as the ledger reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FiatSpent {
    /// The recorded values, in millionths of the budget's currency, of payments that have one in it.
    pub recorded_micros: i64,
    /// What payments without a recorded value in that currency spent or hold back.
    pub unrecorded: Msats,
}

/// `s` with its limits in a currency converted with `at_hand`: budgets get their msat limit and use, the
/// threshold its msat limits. A limit without a rate is taken out and named in [`Snapshot::unpriced`]; the
/// rate used is kept in [`Snapshot::rate_used`] so the explanation can name it.
pub fn price(mut s: Snapshot, at_hand: &RatesAtHand, now_ms: i64) -> Snapshot {
    let mut budgets = Vec::with_capacity(s.budgets.len());
    for b in std::mem::take(&mut s.budgets) {
        let Some(limit) = b.budget.limit_fiat.clone() else {
            budgets.push(b);
            continue;
        };
        match at_hand.rate(&limit.currency) {
            Some(rate) => {
                budgets.push(priced_budget(b, &limit, rate));
                s.rate_used.get_or_insert_with(|| (rate.clone(), rate.describe(now_ms)));
            }
            None => s.unpriced.push(format!("{}: {}", b.budget.describe(), at_hand.why_missing(&limit.currency))),
        }
    }
    s.budgets = budgets;
    if let Some(t) = s.threshold.take() {
        s.threshold = match t.fiat.as_ref().map(|f| (f, at_hand.rate(&f.currency))) {
            None => Some(t),
            Some((f, Some(rate))) => {
                s.rate_used.get_or_insert_with(|| (rate.clone(), rate.describe(now_ms)));
                Some(Threshold {
                    auto_max: rate.msat_for_micros(f.auto_max_micros),
                    ask_max: rate.msat_for_micros(f.ask_max_micros),
                    confirm_above: f.confirm_above_micros.map(|c| rate.msat_for_micros(c)),
                    ..t
                })
            }
            Some((f, None)) => {
                s.unpriced.push(format!(
                    "the threshold for {} ({} at once, up to {} asked): {}",
                    t.scope.describe(),
                    f.money(f.auto_max_micros),
                    f.money(f.ask_max_micros),
                    at_hand.why_missing(&f.currency)
                ));
                s.unpriced_confirm = f.confirm_above_micros.is_some();
                None
            }
        };
    }
    if let Some(a) = s.allowance.take() {
        s.allowance = match a.fiat.as_ref().map(|f| (f, at_hand.rate(&f.currency))) {
            None => Some(a),
            Some((f, Some(rate))) => {
                s.rate_used.get_or_insert_with(|| (rate.clone(), rate.describe(now_ms)));
                let used_micros = f.spent.recorded_micros.saturating_add(rate.micros_of(f.spent.unrecorded));
                let left = rate.msat_for_micros(f.max_micros.saturating_sub(used_micros));
                Some(AllowanceUse {
                    max: Msats(a.used.0.saturating_add(left.0)),
                    per_payment_max: f.per_payment_max_micros.map(|p| rate.msat_for_micros(p)),
                    ..a
                })
            }
            Some((f, None)) => {
                // Kept, with no room, so a payment a person approves is still counted against it.
                let max = Money { currency: f.currency.clone(), micros: f.max_micros };
                s.unpriced.push(format!("{} (up to {max}): {}", a.describe(), at_hand.why_missing(&f.currency)));
                Some(AllowanceUse { max: a.used, per_payment_max: Some(Msats(0)), ..a })
            }
        };
    }
    s
}

/// A budget in a currency with its msat limit and use at `rate`: what is left in money, bought now, is its
/// room; earlier payments count at their own recorded rates.
fn priced_budget(mut b: BudgetUse, limit: &Money, rate: &Rate) -> BudgetUse {
    let spent = b.fiat_spent.unwrap_or_default();
    let used_micros = spent.recorded_micros.saturating_add(rate.micros_of(spent.unrecorded));
    let left = rate.msat_for_micros(limit.micros.saturating_sub(used_micros));
    let limit_msat = rate.msat_for_micros(limit.micros);
    b.budget.limit = limit_msat.max(left);
    b.used = Msats(b.budget.limit.0 - left.0);
    b.used_fiat = Some(Money { currency: limit.currency.clone(), micros: used_micros });
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Budget, Period, Scope};

    fn usd(per_btc: f64) -> Rate {
        Rate { currency: "USD".into(), per_btc, source: "test".into(), at_ms: 0 }
    }

    fn dollar_budget(recorded_micros: i64, unrecorded_sats: u64) -> BudgetUse {
        BudgetUse {
            budget: Budget {
                id: 1,
                scope: Scope::default(),
                period: Period::Day,
                limit: Msats(0),
                limit_fiat: Some(Money { currency: "USD".into(), micros: 1_000_000 }),
                expires_at_ms: None,
                note: None,
            },
            used: Msats(0),
            window_start_ms: Some(0),
            fiat_spent: Some(FiatSpent { recorded_micros, unrecorded: Msats::from_sats(unrecorded_sats) }),
            used_fiat: None,
        }
    }

    #[test]
    fn a_budget_in_dollars_counts_recorded_values_and_converts_what_is_left() {
        // $0.60 recorded (at whatever rate each was paid) and 100 sats unrecorded, at $100,000 a bitcoin: $0.70
        // used, $0.30 left, which buys 300 sats now.
        let s = Snapshot { budgets: vec![dollar_budget(600_000, 100)], ..Snapshot::default() };
        let at_hand = RatesAtHand { rates: vec![usd(100_000.0)], missing: vec![] };
        let priced = price(s, &at_hand, 0);
        let b = &priced.budgets[0];
        assert_eq!(b.remaining(), Msats::from_sats(300));
        assert_eq!(b.budget.limit, Msats::from_sats(1_000));
        assert_eq!(b.used_fiat, Some(Money { currency: "USD".into(), micros: 700_000 }));
        assert_eq!(priced.rate_used.map(|(r, _)| r), Some(usd(100_000.0)));
        // The price doubled: the same $0.30 buys half as many sats, and the recorded $0.60 does not move.
        let s = Snapshot { budgets: vec![dollar_budget(600_000, 0)], ..Snapshot::default() };
        let priced = price(s, &RatesAtHand { rates: vec![usd(200_000.0)], missing: vec![] }, 0);
        assert_eq!(priced.budgets[0].remaining(), Msats::from_sats(200));
    }

    #[test]
    fn an_overspent_budget_in_dollars_has_no_room() {
        let s = Snapshot { budgets: vec![dollar_budget(1_200_000, 0)], ..Snapshot::default() };
        let priced = price(s, &RatesAtHand { rates: vec![usd(100_000.0)], missing: vec![] }, 0);
        assert_eq!(priced.budgets[0].remaining(), Msats(0));
    }

    #[test]
    fn a_dollar_allowance_counts_recorded_values_and_converts_what_is_left() {
        let task = AllowanceUse {
            id: 4,
            purpose: "fortunes".into(),
            max: Msats(0),
            per_payment_max: None,
            used: Msats::from_sats(30),
            confirmed: false,
            fiat: Some(super::super::allowance::FiatAllowance {
                currency: "USD".into(),
                max_micros: 100_000,
                per_payment_max_micros: Some(40_000),
                spent: FiatSpent { recorded_micros: 20_000, unrecorded: Msats::from_sats(10) },
            }),
        };
        // $0.02 recorded and 10 sats unrecorded ($0.01 now) of $0.10: $0.07 left, 70 sats at $100,000.
        let s = Snapshot { allowance: Some(task.clone()), ..Snapshot::default() };
        let priced = price(s, &RatesAtHand { rates: vec![usd(100_000.0)], missing: vec![] }, 0);
        let a = priced.allowance.unwrap();
        assert_eq!((a.left(), a.per_payment_max), (Msats::from_sats(70), Some(Msats::from_sats(40))));
        // Without a rate it cannot carry a payment: a person decides.
        let s = Snapshot { allowance: Some(task), ..Snapshot::default() };
        let priced = price(s, &RatesAtHand { rates: vec![], missing: vec![("USD".into(), "down".into())] }, 0);
        assert_eq!(priced.allowance.map(|a| a.left()), Some(Msats(0)), "kept, with no room");
        assert!(
            priced.unpriced[0].contains("allowance #4 (\"fortunes\") (up to $0.10): down"),
            "{:?}",
            priced.unpriced
        );
    }

    #[test]
    fn without_a_rate_the_limits_are_named_as_unpriced() {
        let t = Threshold {
            id: 2,
            scope: Scope::default(),
            auto_max: Msats(0),
            ask_max: Msats(0),
            confirm_above: None,
            fiat: Some(FiatThreshold {
                currency: "USD".into(),
                auto_max_micros: 50_000,
                ask_max_micros: 1_000_000,
                confirm_above_micros: None,
            }),
        };
        let s = Snapshot { budgets: vec![dollar_budget(0, 0)], threshold: Some(t), ..Snapshot::default() };
        let at_hand = RatesAtHand { rates: vec![], missing: vec![("USD".into(), "every source is down".into())] };
        let priced = price(s, &at_hand, 0);
        assert!(priced.budgets.is_empty() && priced.threshold.is_none());
        assert_eq!(priced.unpriced.len(), 2);
        assert!(priced.unpriced[0].contains("every source is down"), "{:?}", priced.unpriced);
        assert!(priced.unpriced[1].contains("$0.05 at once"), "{:?}", priced.unpriced);
    }
}
