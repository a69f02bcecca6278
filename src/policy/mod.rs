//! The one decision point for "may this payment go ahead?": pure, over a [`Snapshot`] the ledger reads inside
//! the same transaction that then writes the payment row, so concurrent requests never overspend.
//!
//! In order: a pause refuses (`payments_paused`); a tripped circuit breaker refuses (`loop_detected`);
//! every budget that applies must have room (the tightest decides, `budget_exceeded`); then the most specific
//! threshold routes the amount — up to its auto-approve limit it is paid, up to its ask limit it waits for a
//! person (unless a remembered rule covers it, or a person already approved it), above that it is refused
//! (`over_threshold_denied`).
//!
//! An active task allowance ([`allowance`]) takes the place of the threshold's "ask": a payment that fits it
//! is paid, one that does not is held for the person as an overage.
//!
//! Limits set in a currency are converted to msat first ([`fiat::price`]), with the rate fetched for this
//! payment, and the explanation names the rate; a limit whose rate is missing sends the payment to a person
//! (`rate_unavailable`).
//!
//! - [`allowance`]: task allowances as the decision sees them.
//! - [`fiat`]: limits in a person's currency, converted when a payment is decided.
//! - [`scope`]: what a budget, threshold or rule applies to.
//! - [`period`]: budget periods and their windows in the user's time zone.
//! - [`clock`]: injectable time.
//! - [`judge`]: these decisions as the ledger is handed them ([`Rules`]), so it never decides itself.
//! - [`concerns`]: what a payment should make a person aware of (budget levels crossed, velocity, prices above
//!   the advertised or usual one) and when an endpoint's breaker trips.

pub mod allowance;
pub mod clock;
pub mod concerns;
pub mod fiat;
pub mod judge;
pub mod period;
pub mod scope;

use serde::Serialize;
use serde_json::json;

pub use clock::{Clock, ManualClock, SystemClock};
pub use judge::{Judge, Rules};
pub use period::{Period, PeriodError, PeriodKind};
pub use scope::Scope;

use crate::rates::{Money, Rate};
use crate::units::Msats;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Budget {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub scope: Scope,
    pub period: Period,
    /// The limit in msat; for a budget set in a currency, what its limit buys at the decision's rate (0 until
    /// converted).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub limit: Msats,
    /// The limit as set in a currency, when it was.
    pub limit_fiat: Option<Money>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub expires_at_ms: Option<i64>,
    pub note: Option<String>,
}

impl Budget {
    /// E.g. "daily budget #3 of agent research (100 sats)", or "($1.00)" for one set in dollars; a cap on what
    /// is held at an API reads "budget #4 on what is held at API api.example.com (5000 sats)".
    pub fn describe(&self) -> String {
        let limit = self.limit_fiat.as_ref().map_or_else(|| self.limit.to_string(), Money::to_string);
        if self.period == Period::Held {
            return format!("budget #{} on what is held at {} ({limit})", self.id, self.scope.describe());
        }
        format!("{} budget #{} of {} ({limit})", self.period.adjective(), self.id, self.scope.describe())
    }
}

/// A budget with what its current window has used.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BudgetUse {
    pub budget: Budget,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub used: Msats,
    /// `None` for per-request budgets.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub window_start_ms: Option<i64>,
    /// For a budget set in a currency, what its window used as the ledger read it (before conversion).
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub fiat_spent: Option<fiat::FiatSpent>,
    /// For a budget set in a currency, what its window used in it, once converted: each payment at its
    /// recorded rate.
    pub used_fiat: Option<Money>,
}

impl BudgetUse {
    pub fn remaining(&self) -> Msats {
        Msats(self.budget.limit.0.saturating_sub(self.used.0))
    }

    /// What a payment of `amount` adds to this budget: per-request budgets look at the amount alone, and so
    /// do held-at-API ones (the routing fee is not held at the API); the others also hold back the fee reserve
    /// while the payment is in flight.
    pub fn demand(&self, amount: Msats, fee_reserve: Msats) -> Msats {
        match self.budget.period {
            Period::Request | Period::Held => amount,
            _ => Msats(amount.0.saturating_add(fee_reserve.0)),
        }
    }

    /// What it used and has left, as a person reads them: "750 sats" and "250 sats", or for a budget in a
    /// currency "$0.75" and "$0.25 (250 sats)".
    pub fn figures(&self) -> (String, String) {
        match (&self.budget.limit_fiat, &self.used_fiat) {
            (Some(limit), Some(used)) => {
                let left = Money { currency: limit.currency.clone(), micros: (limit.micros - used.micros).max(0) };
                (used.to_string(), format!("{left} ({})", self.remaining()))
            }
            _ => (self.used.to_string(), self.remaining().to_string()),
        }
    }

    fn details(&self) -> serde_json::Value {
        json!({
            "id": self.budget.id,
            "scope": self.budget.scope.describe(),
            "period": self.budget.period.adjective(),
            "limit_msat": self.budget.limit.0,
            "used_msat": self.used.0,
            "remaining_msat": self.remaining().0,
            "limit_fiat": self.budget.limit_fiat,
            "used_fiat": self.used_fiat,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Threshold {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub scope: Scope,
    /// Paid at once up to here.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub auto_max: Msats,
    /// Asked up to here; refused above.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ask_max: Msats,
    /// Above this, a payment needs the person's confirmation (the passphrase, or the amount typed when no
    /// passphrase is set); a click, a notification or a remembered rule is not enough. `None`: never.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub confirm_above: Option<Msats>,
    /// The limits as set in a currency, when they were: the msat limits are then what they buy at the
    /// decision's rate.
    pub fiat: Option<fiat::FiatThreshold>,
}

impl Threshold {
    /// Whether `amount` is in this threshold's confirm tier.
    pub fn needs_confirmation(&self, amount: Msats) -> bool {
        self.confirm_above.is_some_and(|c| amount > c)
    }

    /// A limit as a person reads it: "50 sats", or "$0.05 (50 sats)" when set in a currency.
    fn shown(&self, msat: Msats, micros: impl Fn(&fiat::FiatThreshold) -> Option<i64>) -> String {
        match self.fiat.as_ref().and_then(|f| Some(f.money(micros(f)?))) {
            Some(money) => format!("{money} ({msat})"),
            None => msat.to_string(),
        }
    }

    fn auto_text(&self) -> String {
        self.shown(self.auto_max, |f| Some(f.auto_max_micros))
    }

    fn ask_text(&self) -> String {
        self.shown(self.ask_max, |f| Some(f.ask_max_micros))
    }

    fn confirm_text(&self) -> String {
        self.shown(self.confirm_above.unwrap_or_default(), |f| f.confirm_above_micros)
    }
}

/// "Approve this API up to N sats per day for this agent."
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Rule {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub scope: Scope,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub max_per_day: Msats,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleUse {
    pub rule: Rule,
    /// What the agent spent on the rule's API today.
    pub used_today: Msats,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BreakerTrip {
    pub host: String,
    pub path: String,
    pub reason: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub tripped_at_ms: i64,
}

/// Everything the decision needs, read from the ledger in the reserving transaction.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub paused_all: bool,
    pub agent_paused: bool,
    pub breaker: Option<BreakerTrip>,
    /// Every active budget that applies.
    pub budgets: Vec<BudgetUse>,
    /// The most specific threshold that applies.
    pub threshold: Option<Threshold>,
    /// A remembered rule that applies, if any.
    pub rule: Option<RuleUse>,
    /// Every approval needs the passphrase (the option is on and a passphrase is set).
    pub confirm_every_approval: bool,
    /// The task allowance the payment is made under, if any.
    pub allowance: Option<allowance::AllowanceUse>,
    /// The rate limits in a currency were converted with, and how a person reads it ("1 BTC = $100,000.00
    /// (source, 3 s old)"); set by [`fiat::price`].
    pub rate_used: Option<(Rate, String)>,
    /// Limits in a currency that could not be converted (no young enough rate), with why: the payment
    /// goes to a person.
    pub unpriced: Vec<String>,
    /// An unconverted threshold had a confirm limit: a click is then not enough.
    pub unpriced_confirm: bool,
}

/// The payment being decided on.
#[derive(Debug, Clone)]
pub struct Request {
    pub agent: String,
    pub amount: Msats,
    pub fee_reserve: Msats,
    /// What a person already said to this payment.
    pub approved: Approved,
    /// Why the price looks wrong (above the advertised or usual price): a person decides even when a
    /// threshold or a remembered rule would allow it.
    pub price_concern: Option<String>,
}

/// How far a person approved a payment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Approved {
    /// Not yet asked, or not yet answered.
    #[default]
    Not,
    /// Approved with a click (the window, a notification, `purser approve`).
    Clicked,
    /// Approved with the passphrase, or with the amount typed when no passphrase is set.
    Confirmed,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Pay; the text names the rule that allowed it.
    Allow(String),
    /// Wait for a person; `confirm` says a click is not enough (see [`Threshold::confirm_above`]).
    Ask { why: String, confirm: bool },
    /// Do not pay: a reason code, the text a person reads, and the same in machine-readable form.
    Refuse { reason: &'static str, explanation: String, details: serde_json::Value },
}

/// The most a payment's routing fee may be, held back in budgets while the payment is pending: the larger of
/// 1 % of the amount and 10 sats, the bound NWC wallet services use.
pub fn fee_reserve(amount: Msats) -> Msats {
    Msats((amount.0 / 100).max(10_000))
}

/// The budget with the least room after this payment: the one that decides.
pub fn tightest<'a>(budgets: &'a [BudgetUse], r: &Request) -> Option<&'a BudgetUse> {
    budgets.iter().min_by_key(|b| b.remaining().0 as i128 - b.demand(r.amount, r.fee_reserve).0 as i128)
}

/// The decision for `r` over `s`, in order: pause, breaker, budgets, thresholds (with the price concern and
/// remembered rules between the ask and auto-approve limits). Above a threshold's confirm limit, and for every
/// approval when the person chose so, only a confirmed approval ([`Approved::Confirmed`]) lets it through.
pub fn decide(s: &Snapshot, r: &Request) -> Decision {
    let decision = decide_in_sats(s, r);
    let Some((_, rate)) = &s.rate_used else {
        return decision;
    };
    match decision {
        Decision::Allow(why) => Decision::Allow(format!("{why}; at {rate}")),
        Decision::Ask { why, confirm } => Decision::Ask { why: format!("{why}; at {rate}"), confirm },
        Decision::Refuse { reason, explanation, mut details } => {
            if let Some(d) = details.as_object_mut() {
                d.insert("rate".into(), json!(rate));
            }
            Decision::Refuse { reason, explanation: format!("{explanation}; at {rate}"), details }
        }
    }
}

/// The reason code a decision that cannot convert a limit in a currency names.
pub const RATE_UNAVAILABLE: &str = "rate_unavailable";

fn decide_in_sats(s: &Snapshot, r: &Request) -> Decision {
    if let Some(stop) = stopped(s, r) {
        return stop;
    }
    let tight = tightest(&s.budgets, r);
    if let Some(over) = tight.and_then(|b| over_budget(b, r)) {
        return over;
    }
    let room = tight
        .map(|b| format!("; tightest budget: {}, {} left", b.budget.describe(), b.figures().1))
        .unwrap_or_default();
    let threshold = s.threshold.as_ref();
    if let Some(refused) = threshold.and_then(|t| above_ask_limit(t, r)) {
        return refused;
    }
    if let Some(unpriced) = unpriced(s, r, &room) {
        return unpriced;
    }
    let covered = s.allowance.as_ref().filter(|a| a.room(r.amount, r.fee_reserve) == allowance::Room::Fits);
    if let Some(t) = threshold
        && t.needs_confirmation(r.amount)
        && r.approved < Approved::Confirmed
        && !covered.is_some_and(|a| a.confirmed)
    {
        return Decision::Ask {
            why: format!(
                "{} is above the confirm limit of {} for {}: it needs your passphrase{room}",
                r.amount,
                t.confirm_text(),
                t.scope.describe()
            ),
            confirm: true,
        };
    }
    if let Some(concern) = price_concern(s, r, &room) {
        return concern;
    }
    // A click-approved allowance stops carrying payments once every approval needs the passphrase.
    if let Some(a) = s.allowance.as_ref().filter(|a| a.confirmed || !s.confirm_every_approval) {
        return within_allowance(s, r, a, &room);
    }
    let Some(t) = threshold else {
        return Decision::Allow(format!("no threshold applies{room}"));
    };
    let scope = t.scope.describe();
    if r.amount <= t.auto_max {
        return Decision::Allow(format!(
            "auto-approved: {} is within the auto-approve limit of {} for {scope}{room}",
            r.amount,
            t.auto_text()
        ));
    }
    if let Some(allow) =
        approved(s, r, &format!(" ({} is above the auto-approve limit of {})", r.amount, t.auto_text()), &room)
    {
        return allow;
    }
    if let Some(u) = &s.rule
        && !s.confirm_every_approval
        && u.used_today.0.saturating_add(r.amount.0) <= u.rule.max_per_day.0
    {
        return Decision::Allow(format!(
            "remembered rule #{}: {} up to {} a day, {} used today{room}",
            u.rule.id,
            u.rule.scope.describe(),
            u.rule.max_per_day,
            u.used_today
        ));
    }
    ask(
        s,
        format!(
            "{} is above the auto-approve limit of {} for {scope} and within its ask limit of {}{room}",
            r.amount,
            t.auto_text(),
            t.ask_text()
        ),
    )
}

/// With a limit in a currency that has no rate young enough, a person decides (`rate_unavailable`), after
/// the limits that could be checked (pause, breaker, budgets, the ask limit): with the passphrase when the
/// amount is in a converted threshold's confirm tier, the unconverted threshold had a confirm limit, or every
/// approval needs it. A price concern is named too.
fn unpriced(s: &Snapshot, r: &Request, room: &str) -> Option<Decision> {
    if s.unpriced.is_empty() {
        return None;
    }
    let concern = r.price_concern.as_ref().map(|c| format!("; also: {c}")).unwrap_or_default();
    let what = format!("{RATE_UNAVAILABLE}: {}{concern}", s.unpriced.join("; "));
    let confirm_tier = s.threshold.as_ref().is_some_and(|t| t.needs_confirmation(r.amount));
    let needed = if s.unpriced_confirm || s.confirm_every_approval || confirm_tier {
        Approved::Confirmed
    } else {
        Approved::Clicked
    };
    if r.approved >= needed {
        return Some(Decision::Allow(format!("approved by a person ({what}){room}")));
    }
    Some(Decision::Ask {
        why: format!("{what}: these limits cannot be checked, so a person decides{room}"),
        confirm: needed == Approved::Confirmed,
    })
}

/// The refusal of an amount above `t`'s ask limit: no approval or allowance pays it.
fn above_ask_limit(t: &Threshold, r: &Request) -> Option<Decision> {
    (r.amount > t.ask_max).then(|| Decision::Refuse {
        reason: "over_threshold_denied",
        explanation: format!("{} is above the ask limit of {} for {}", r.amount, t.ask_text(), t.scope.describe()),
        details: json!({"threshold": {"id": t.id, "scope": t.scope.describe(), "auto_max_msat": t.auto_max.0, "ask_max_msat": t.ask_max.0}}),
    })
}

/// A payment under a task allowance: paid when it fits, an overage for the person when it does not.
fn within_allowance(s: &Snapshot, r: &Request, a: &allowance::AllowanceUse, room: &str) -> Decision {
    match a.room(r.amount, r.fee_reserve) {
        allowance::Room::Fits => {
            Decision::Allow(format!("within {}: {} of {} used before this payment{room}", a.describe(), a.used, a.max))
        }
        allowance::Room::Over(why) => approved(s, r, &format!(" beyond {} ({why})", a.describe()), room)
            .unwrap_or_else(|| ask(s, format!("{OVERAGE}{}: {why}{room}", a.describe()))),
    }
}

/// How an overage's question starts: [`is_overage`] tells it from the other reasons to ask.
const OVERAGE: &str = "overage on ";

/// Whether `d` asks the person about an overage on a task allowance (rather than a price, the confirm tier
/// or a threshold): a denial then tells the agent `allowance_exceeded`.
pub fn is_overage(d: &Decision) -> bool {
    matches!(d, Decision::Ask { why, .. } if why.starts_with(OVERAGE))
}

/// A person's answer when it is enough: a click, unless every approval needs the passphrase.
fn approved(s: &Snapshot, r: &Request, what: &str, room: &str) -> Option<Decision> {
    let enough = if s.confirm_every_approval { Approved::Confirmed } else { Approved::Clicked };
    (r.approved >= enough).then(|| Decision::Allow(format!("approved by a person{what}{room}")))
}

/// Asking a person: with the passphrase when every approval needs it.
fn ask(s: &Snapshot, why: String) -> Decision {
    Decision::Ask { why, confirm: s.confirm_every_approval }
}

/// A pause or a tripped breaker: nothing is paid, whatever the amount.
fn stopped(s: &Snapshot, r: &Request) -> Option<Decision> {
    if s.paused_all || s.agent_paused {
        let whom =
            if s.paused_all { "all payments are paused".to_string() } else { format!("agent {} is paused", r.agent) };
        return Some(Decision::Refuse {
            reason: "payments_paused",
            explanation: format!("{whom}; resume with `purser resume`"),
            details: json!({"paused": if s.paused_all { "all" } else { "agent" }}),
        });
    }
    s.breaker.as_ref().map(|trip| Decision::Refuse {
        reason: "loop_detected",
        explanation: format!(
            "payments to {}{} are stopped: {}; reset with `purser breaker reset`",
            trip.host, trip.path, trip.reason
        ),
        details: json!({"breaker": trip}),
    })
}

/// The refusal when the tightest budget `b` has no room for `r`.
fn over_budget(b: &BudgetUse, r: &Request) -> Option<Decision> {
    let demand = b.demand(r.amount, r.fee_reserve);
    let (used, left) = b.figures();
    (demand > b.remaining()).then(|| Decision::Refuse {
        reason: "budget_exceeded",
        explanation: format!(
            "{}: {used} {}, {left} left; this payment needs {demand}",
            b.budget.describe(),
            if b.budget.period == Period::Held { "held there now" } else { "used" }
        ),
        details: json!({"budget": b.details(), "needed_msat": demand.0}),
    })
}

/// An invoice priced above the advertised or usual price goes to a person, and is allowed once they approve.
fn price_concern(s: &Snapshot, r: &Request, room: &str) -> Option<Decision> {
    let concern = r.price_concern.as_ref()?;
    Some(
        approved(s, r, &format!(" despite the price ({concern})"), room)
            .unwrap_or_else(|| ask(s, format!("{concern}{room}"))),
    )
}

#[cfg(test)]
mod tests;
