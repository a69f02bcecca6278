//! What a payment should make a person aware of, decided over figures the ledger reads: the budget levels a
//! payment crosses, an agent spending faster than the velocity limit, an invoice above the advertised or the
//! usual price, and when an endpoint's breaker trips. Pure functions; the ledger turns each into an alert or a
//! breaker row inside the same transaction.

use crate::units::Msats;

/// The levels, in percent of a budget's limit, at which a person is told once per window.
pub const BUDGET_LEVELS: [u64; 3] = [50, 80, 100];

/// The levels of [`BUDGET_LEVELS`] that a budget with `used` of `limit` crosses when `demand` is added.
pub fn crossed_levels(used: Msats, demand: Msats, limit: Msats) -> Vec<u64> {
    if limit.0 == 0 {
        return Vec::new();
    }
    let before = used.0 as u128 * 100;
    let after = (used.0 as u128 + demand.0 as u128) * 100;
    BUDGET_LEVELS
        .into_iter()
        .filter(|level| {
            let mark = *level as u128 * limit.0 as u128;
            before < mark && after >= mark
        })
        .collect()
}

/// Whether `amount` takes an agent that spent `last_minute` in the last minute over `limit` a minute.
pub fn velocity_crossed(last_minute: Msats, amount: Msats, limit: Msats) -> bool {
    last_minute <= limit && Msats(last_minute.0.saturating_add(amount.0)) > limit
}

/// Why an invoice's price needs a person.
#[derive(Debug, Clone, PartialEq)]
pub enum PriceConcern {
    /// Above the price the API publishes for the endpoint.
    AboveAdvertised { advertised: Msats },
    /// Above the endpoint's usual price (the mean of its recent settled payments) by more than the margin.
    AboveUsual { usual: Msats, margin_pct: u64 },
}

/// The concern about an invoice asking `amount`, if any: above `advertised`, or above `usual` by more than
/// `margin_pct` percent.
pub fn price_concern(
    amount: Msats,
    advertised: Option<Msats>,
    usual: Option<f64>,
    margin_pct: u64,
) -> Option<PriceConcern> {
    if let Some(advertised) = advertised
        && amount > advertised
    {
        return Some(PriceConcern::AboveAdvertised { advertised });
    }
    let usual = usual.filter(|avg| amount.0 as f64 > avg * (1.0 + margin_pct as f64 / 100.0))?;
    Some(PriceConcern::AboveUsual { usual: Msats(usual as u64), margin_pct })
}

/// How far `amount` is above `reference`, as a person reads it at a glance: "2× its advertised 10 sats" from
/// twice upwards (one decimal when not whole: "2.5×"), "50 % above its usual 10 sats" below that. `what` names
/// the reference ("advertised", "usual").
pub fn how_far_above(amount: Msats, reference: Msats, what: &str) -> String {
    if reference.0 == 0 {
        return format!("above its {what} {reference}");
    }
    let tenths = (amount.0 as u128 * 10 + reference.0 as u128 / 2) / reference.0 as u128;
    if tenths >= 20 {
        let times = if tenths.is_multiple_of(10) {
            format!("{}", tenths / 10)
        } else {
            format!("{}.{}", tenths / 10, tenths % 10)
        };
        return format!("{times}× its {what} {reference}");
    }
    let pct = ((amount.0.saturating_sub(reference.0)) as u128 * 100).div_ceil(reference.0 as u128);
    format!("{pct} % above its {what} {reference}")
}

/// Why an endpoint's breaker trips after a paid request that was not delivered, if it does: the API asked
/// again right after a payment, or the last `failures` paid requests (newest first in `recent`, `Some(false)`
/// for not delivered) all failed.
pub fn breaker_trip(upstream_status: Option<u16>, recent: &[Option<bool>], failures: u32) -> Option<String> {
    if upstream_status == Some(402) {
        return Some("it answered 402 again right after a payment".to_string());
    }
    let n = failures.max(1) as usize;
    (recent.len() == n && recent.iter().all(|d| *d == Some(false)))
        .then(|| format!("{n} paid requests in a row were not delivered"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_crossed_once_each() {
        let limit = Msats::from_sats(100);
        assert_eq!(crossed_levels(Msats::from_sats(40), Msats::from_sats(45), limit), [50, 80]);
        assert_eq!(crossed_levels(Msats::from_sats(50), Msats::from_sats(10), limit), Vec::<u64>::new());
        assert_eq!(crossed_levels(Msats::from_sats(99), Msats::from_sats(1), limit), [100]);
        assert_eq!(crossed_levels(Msats(0), Msats::from_sats(1), Msats(0)), Vec::<u64>::new());
    }

    #[test]
    fn velocity_is_crossed_by_the_payment_that_goes_over() {
        let limit = Msats::from_sats(10);
        assert!(velocity_crossed(Msats::from_sats(9), Msats::from_sats(2), limit));
        assert!(!velocity_crossed(Msats::from_sats(11), Msats::from_sats(2), limit), "already over: said before");
        assert!(!velocity_crossed(Msats::from_sats(5), Msats::from_sats(5), limit));
    }

    #[test]
    fn prices_above_the_advertised_or_usual_one_are_a_concern() {
        let adv = Some(Msats::from_sats(10));
        assert_eq!(
            price_concern(Msats::from_sats(11), adv, None, 50),
            Some(PriceConcern::AboveAdvertised { advertised: Msats::from_sats(10) })
        );
        assert_eq!(
            price_concern(Msats::from_sats(10), adv, Some(1000.0), 50),
            Some(PriceConcern::AboveUsual { usual: Msats(1000), margin_pct: 50 })
        );
        assert_eq!(price_concern(Msats(1500), None, Some(1000.0), 50), None);
        assert_eq!(price_concern(Msats(1501), None, None, 50), None);
    }

    #[test]
    fn how_far_above_reads_as_a_multiple_or_a_percentage() {
        let ten = Msats::from_sats(10);
        assert_eq!(how_far_above(Msats::from_sats(20), ten, "advertised"), "2× its advertised 10 sats");
        assert_eq!(how_far_above(Msats::from_sats(25), ten, "advertised"), "2.5× its advertised 10 sats");
        assert_eq!(how_far_above(Msats::from_sats(15), ten, "usual"), "50 % above its usual 10 sats");
        assert_eq!(how_far_above(Msats(10_001), ten, "usual"), "1 % above its usual 10 sats");
        assert_eq!(how_far_above(Msats(u64::MAX), Msats(1), "usual"), format!("{}× its usual 0.001 sats", u64::MAX));
        assert_eq!(how_far_above(Msats(5), Msats(0), "advertised"), "above its advertised 0 sats");
    }

    #[test]
    fn the_breaker_trips_on_a_second_402_or_a_run_of_failures() {
        assert!(breaker_trip(Some(402), &[], 3).unwrap().contains("402 again"));
        assert!(breaker_trip(Some(503), &[Some(false); 3], 3).unwrap().contains("3 paid requests"));
        assert_eq!(breaker_trip(Some(503), &[Some(false), Some(true), Some(false)], 3), None);
        assert_eq!(breaker_trip(None, &[Some(false); 2], 3), None);
    }
}
