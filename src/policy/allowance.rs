//! Task allowances as the decision sees them: a maximum a person approved once for one agent's task. A
//! payment that fits it (its per-payment maximum and what is left, fee reserve included) needs no one; one
//! that does not is an overage, held for the person with the task's context. An allowance only ever
//! replaces the "ask a person" step: pauses, breakers, budgets, ask limits and price checks still apply.

use serde::Serialize;

use crate::units::Msats;

/// An active allowance that applies to a payment, with what its payments spent or hold back.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowanceUse {
    pub id: i64,
    pub purpose: String,
    pub max: Msats,
    pub per_payment_max: Option<Msats>,
    pub used: Msats,
    /// Approved with the passphrase: it also covers payments in a threshold's confirm tier.
    pub confirmed: bool,
    /// Set in a currency: `max` and `per_payment_max` are then what its maxima buy at the decision's rate
    /// (see [`super::fiat::price`]).
    pub fiat: Option<FiatAllowance>,
}

/// An allowance's maxima in a currency, and what its payments spent as the ledger read it.
#[derive(Debug, Clone, PartialEq)]
pub struct FiatAllowance {
    pub currency: String,
    pub max_micros: i64,
    pub per_payment_max_micros: Option<i64>,
    pub spent: super::fiat::FiatSpent,
}

/// Whether a payment fits an allowance.
#[derive(Debug, Clone, PartialEq)]
pub enum Room {
    Fits,
    /// It does not, and why, in words.
    Over(String),
}

impl AllowanceUse {
    /// E.g. `allowance #3 ("summarise 20 papers")`.
    pub fn describe(&self) -> String {
        format!("allowance #{} (\"{}\")", self.id, self.purpose)
    }

    pub fn left(&self) -> Msats {
        Msats(self.max.0.saturating_sub(self.used.0))
    }

    /// Whether `amount` (holding back `fee_reserve` for its routing fee, as budgets do) fits.
    pub fn room(&self, amount: Msats, fee_reserve: Msats) -> Room {
        if let Some(most) = self.per_payment_max
            && amount > most
        {
            return Room::Over(format!("{amount} is above its per-payment maximum of {most}"));
        }
        let demand = Msats(amount.0.saturating_add(fee_reserve.0));
        if self.used.0.saturating_add(demand.0) > self.max.0 {
            return Room::Over(format!(
                "{} of {} used, {} left; this payment needs {demand} with its fee reserve",
                self.used,
                self.max,
                self.left()
            ));
        }
        Room::Fits
    }
}

/// What `a` lacks to carry a payment that needs `needed_msat` (amount and fee reserve).
pub fn shortfall(a: &AllowanceUse, needed_msat: u64) -> Msats {
    Msats(a.used.0.saturating_add(needed_msat).saturating_sub(a.max.0))
}

/// An allowance's state as agents and people read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum AllowanceState {
    /// Waiting for the person.
    Requested,
    /// Payments that fit it go ahead without asking.
    Active,
    Denied,
    /// Its time limit passed (or, while requested, nobody answered within it).
    Expired,
    /// Active, with nothing left: further payments are overages.
    Exhausted,
    Closed,
}

impl AllowanceState {
    /// The state from what was decided (`stored`: requested, active, denied, closed), the clock and its use.
    pub fn read(stored: &str, now_ms: i64, expires_at_ms: i64, used: Msats, max: Msats) -> Self {
        match stored {
            "denied" => Self::Denied,
            "closed" => Self::Closed,
            _ if now_ms >= expires_at_ms => Self::Expired,
            "requested" => Self::Requested,
            _ if used >= max => Self::Exhausted,
            _ => Self::Active,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Active => "active",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Exhausted => "exhausted",
            Self::Closed => "closed",
        }
    }

    /// Whether it can still change (a person's answer, payments, a close).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Requested | Self::Active | Self::Exhausted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn use_of(used: u64, max: u64, per_payment: Option<u64>) -> AllowanceUse {
        AllowanceUse {
            id: 3,
            purpose: "summarise 20 papers".into(),
            max: Msats::from_sats(max),
            per_payment_max: per_payment.map(Msats::from_sats),
            used: Msats::from_sats(used),
            confirmed: false,
            fiat: None,
        }
    }

    #[test]
    fn a_payment_fits_while_it_and_its_fee_reserve_stay_within_the_maximum() {
        let reserve = Msats::from_sats(10);
        assert_eq!(use_of(200, 250, None).room(Msats::from_sats(40), reserve), Room::Fits);
        let Room::Over(why) = use_of(201, 250, None).room(Msats::from_sats(40), reserve) else { panic!() };
        assert_eq!(why, "201 sats of 250 sats used, 49 sats left; this payment needs 50 sats with its fee reserve");
        let Room::Over(why) = use_of(0, 250, Some(20)).room(Msats::from_sats(21), reserve) else { panic!() };
        assert!(why.contains("per-payment maximum of 20 sats"), "{why}");
        assert!(matches!(use_of(u64::MAX / 1000, 250, None).room(Msats(u64::MAX), reserve), Room::Over(_)));
    }

    #[test]
    fn states_follow_the_decision_the_clock_and_the_use() {
        let (max, half) = (Msats::from_sats(10), Msats::from_sats(5));
        assert_eq!(AllowanceState::read("active", 1, 2, half, max), AllowanceState::Active);
        assert_eq!(AllowanceState::read("active", 2, 2, half, max), AllowanceState::Expired);
        assert_eq!(AllowanceState::read("active", 1, 2, max, max), AllowanceState::Exhausted);
        assert_eq!(AllowanceState::read("requested", 1, 2, Msats(0), max), AllowanceState::Requested);
        assert_eq!(AllowanceState::read("requested", 3, 2, Msats(0), max), AllowanceState::Expired);
        assert_eq!(AllowanceState::read("closed", 3, 2, max, max), AllowanceState::Closed);
        assert_eq!(AllowanceState::read("denied", 1, 2, Msats(0), max), AllowanceState::Denied);
        assert!(AllowanceState::Exhausted.is_open() && !AllowanceState::Expired.is_open());
    }
}
