//! Budget periods and their windows. Calendar periods are computed in the user's time zone (weeks start on
//! Monday), so "today" ends at the user's midnight, across daylight-saving changes; rolling windows look back
//! N hours from now.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Period {
    /// Each payment on its own.
    Request,
    Day,
    Week,
    Month,
    /// The last N hours.
    Rolling {
        hours: u32,
    },
    /// Since the budget was made.
    Lifetime,
    /// Not a window: what is held at an API at once (session deposits not yet drawn, refunds awaited). It
    /// counts deposits only, and frees as the API draws or refunds.
    Held,
}

/// A period as a person names it, its length apart: what the CLI's `--period`, the desktop's budget form and
/// the database say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum PeriodKind {
    Request,
    Day,
    Week,
    Month,
    Rolling,
    Lifetime,
    Held,
}

impl PeriodKind {
    /// Every kind, in the order forms offer them.
    pub const ALL: [PeriodKind; 7] = [
        PeriodKind::Request,
        PeriodKind::Day,
        PeriodKind::Week,
        PeriodKind::Month,
        PeriodKind::Rolling,
        PeriodKind::Lifetime,
        PeriodKind::Held,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Request => "request",
            PeriodKind::Day => "day",
            PeriodKind::Week => "week",
            PeriodKind::Month => "month",
            PeriodKind::Rolling => "rolling",
            PeriodKind::Lifetime => "lifetime",
            PeriodKind::Held => "held",
        }
    }
}

impl std::str::FromStr for PeriodKind {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Self, PeriodError> {
        Ok(match s {
            "request" => PeriodKind::Request,
            "day" => PeriodKind::Day,
            "week" => PeriodKind::Week,
            "month" => PeriodKind::Month,
            "rolling" => PeriodKind::Rolling,
            "lifetime" => PeriodKind::Lifetime,
            "held" => PeriodKind::Held,
            _ => return Err(PeriodError::Unknown(s.to_string())),
        })
    }
}

/// Why a period cannot be made from what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("`{0}` is not a period: request, day, week, month, rolling, lifetime or held")]
    Unknown(String),
    #[error("a rolling period needs a number of hours (1 or more)")]
    RollingWithoutHours,
    #[error("a number of hours goes with a rolling period only")]
    HoursWithoutRolling,
}

impl Period {
    /// The one way a period is made from its kind and, for a rolling one, its hours.
    pub fn new(kind: PeriodKind, hours: Option<u32>) -> Result<Period, PeriodError> {
        Ok(match (kind, hours) {
            (PeriodKind::Rolling, Some(hours)) if hours > 0 => Period::Rolling { hours },
            (PeriodKind::Rolling, _) => return Err(PeriodError::RollingWithoutHours),
            (_, Some(_)) => return Err(PeriodError::HoursWithoutRolling),
            (PeriodKind::Request, None) => Period::Request,
            (PeriodKind::Day, None) => Period::Day,
            (PeriodKind::Week, None) => Period::Week,
            (PeriodKind::Month, None) => Period::Month,
            (PeriodKind::Lifetime, None) => Period::Lifetime,
            (PeriodKind::Held, None) => Period::Held,
        })
    }

    pub fn kind(&self) -> PeriodKind {
        match self {
            Period::Request => PeriodKind::Request,
            Period::Day => PeriodKind::Day,
            Period::Week => PeriodKind::Week,
            Period::Month => PeriodKind::Month,
            Period::Rolling { .. } => PeriodKind::Rolling,
            Period::Lifetime => PeriodKind::Lifetime,
            Period::Held => PeriodKind::Held,
        }
    }

    /// A period as the database stores it (`rolling_hours` beside the kind, `NULL` for the others).
    pub fn from_parts(kind: &str, rolling_hours: Option<i64>) -> Option<Period> {
        let hours = rolling_hours.map(u32::try_from).transpose().ok()?;
        Period::new(kind.parse().ok()?, hours).ok()
    }

    /// "daily", "per request", "rolling 6 h" …
    pub fn adjective(&self) -> String {
        match self {
            Period::Request => "per-request".into(),
            Period::Day => "daily".into(),
            Period::Week => "weekly".into(),
            Period::Month => "monthly".into(),
            Period::Rolling { hours } => format!("rolling {hours} h"),
            Period::Lifetime => "lifetime".into(),
            Period::Held => "held-at-API".into(),
        }
    }

    /// Where the current window starts, in ms since the epoch: `None` for `Request` (nothing accumulates)
    /// and `Held` (what counts is what is held now, not what was paid), `Some(i64::MIN)` for `Lifetime`
    /// (everything counts).
    pub fn window_start_ms(&self, now_ms: i64, tz: &TimeZone) -> Option<i64> {
        let now = Timestamp::from_millisecond(now_ms).ok()?;
        let zoned = now.to_zoned(tz.clone());
        let start = match self {
            Period::Request | Period::Held => return None,
            Period::Lifetime => return Some(i64::MIN),
            Period::Rolling { hours } => return Some(now_ms - i64::from(*hours) * 3_600_000),
            Period::Day => zoned.start_of_day().ok()?,
            Period::Week => {
                let back = zoned.weekday().to_monday_zero_offset();
                let monday = zoned.date().checked_sub(i64::from(back).days()).ok()?;
                monday.to_zoned(tz.clone()).ok()?.start_of_day().ok()?
            }
            Period::Month => zoned.first_of_month().ok()?.start_of_day().ok()?,
        };
        Some(start.timestamp().as_millisecond())
    }
    /// When the current window ends and a new one starts, in ms since the epoch: for calendar periods only
    /// (a rolling window frees each payment's share as it ages out; per-request and lifetime budgets never
    /// reset).
    pub fn window_end_ms(&self, now_ms: i64, tz: &TimeZone) -> Option<i64> {
        let start = Timestamp::from_millisecond(self.window_start_ms(now_ms, tz)?).ok()?.to_zoned(tz.clone());
        let next = match self {
            Period::Day => start.date().tomorrow().ok()?,
            Period::Week => start.date().checked_add(7.days()).ok()?,
            Period::Month => start.date().checked_add(1.month()).ok()?,
            Period::Request | Period::Rolling { .. } | Period::Lifetime | Period::Held => return None,
        };
        Some(next.to_zoned(tz.clone()).ok()?.start_of_day().ok()?.timestamp().as_millisecond())
    }
}

/// A time zone name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a known IANA time zone (e.g. Europe/Berlin, UTC)")]
pub struct UnknownTimeZone(pub String);

/// Parses an IANA zone name (`Europe/Berlin`) or `UTC`.
pub fn time_zone(name: &str) -> Result<TimeZone, UnknownTimeZone> {
    TimeZone::get(name).map_err(|_| UnknownTimeZone(name.to_string()))
}

/// The machine's zone, or UTC when it cannot be told.
pub fn system_time_zone() -> TimeZone {
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn calendar_windows_in_the_users_zone() {
        let berlin = time_zone("Europe/Berlin").unwrap();
        // 23:30 UTC on 14 March 2026 is already 00:30 on the 15th in Berlin.
        let now = ms("2026-03-14T23:30:00Z");
        assert_eq!(Period::Day.window_start_ms(now, &berlin), Some(ms("2026-03-14T23:00:00Z")));
        assert_eq!(Period::Day.window_start_ms(now, &TimeZone::UTC), Some(ms("2026-03-14T00:00:00Z")));
        // 15 March 2026 is a Sunday: the week began on Monday the 9th.
        assert_eq!(Period::Week.window_start_ms(now, &berlin), Some(ms("2026-03-08T23:00:00Z")));
        assert_eq!(Period::Month.window_start_ms(now, &berlin), Some(ms("2026-02-28T23:00:00Z")));
    }

    #[test]
    fn calendar_windows_end_at_the_users_next_midnight() {
        let berlin = time_zone("Europe/Berlin").unwrap();
        let now = ms("2026-03-14T23:30:00Z");
        assert_eq!(Period::Day.window_end_ms(now, &berlin), Some(ms("2026-03-15T23:00:00Z")));
        // The week of Monday 9 March ends on Monday 16 March, the month at 1 April (after the change to
        // summer time: 22:00 UTC).
        assert_eq!(Period::Week.window_end_ms(now, &berlin), Some(ms("2026-03-15T23:00:00Z")));
        assert_eq!(Period::Month.window_end_ms(now, &berlin), Some(ms("2026-03-31T22:00:00Z")));
        assert_eq!(Period::Rolling { hours: 6 }.window_end_ms(now, &berlin), None);
        assert_eq!(Period::Lifetime.window_end_ms(now, &berlin), None);
        assert_eq!(Period::Request.window_end_ms(now, &berlin), None);
    }

    #[test]
    fn days_across_daylight_saving_changes() {
        let berlin = time_zone("Europe/Berlin").unwrap();
        // 29 March 2026 has 23 hours in Berlin: it starts at 23:00 UTC the day before, and the 30th starts
        // at 22:00 UTC.
        assert_eq!(Period::Day.window_start_ms(ms("2026-03-29T12:00:00Z"), &berlin), Some(ms("2026-03-28T23:00:00Z")));
        assert_eq!(Period::Day.window_start_ms(ms("2026-03-29T22:30:00Z"), &berlin), Some(ms("2026-03-29T22:00:00Z")));
    }

    #[test]
    fn rolling_request_and_lifetime() {
        let now = ms("2026-06-01T12:00:00Z");
        assert_eq!(Period::Rolling { hours: 6 }.window_start_ms(now, &TimeZone::UTC), Some(ms("2026-06-01T06:00:00Z")));
        assert_eq!(Period::Request.window_start_ms(now, &TimeZone::UTC), None);
        assert_eq!(Period::Lifetime.window_start_ms(now, &TimeZone::UTC), Some(i64::MIN));
        assert_eq!(Period::from_parts("rolling", Some(0)), None);
        assert_eq!(Period::from_parts("rolling", Some(3)), Some(Period::Rolling { hours: 3 }));
        assert_eq!(Period::from_parts("day", None), Some(Period::Day));
        assert_eq!(Period::from_parts("fortnight", None), None);
        assert_eq!(Period::from_parts("held", None), Some(Period::Held));
        assert_eq!(Period::Held.window_start_ms(now, &TimeZone::UTC), None, "what is held now counts");
        assert_eq!(Period::new(PeriodKind::Rolling, None), Err(PeriodError::RollingWithoutHours));
        assert_eq!(Period::new(PeriodKind::Day, Some(3)), Err(PeriodError::HoursWithoutRolling));
        assert!(time_zone("Mars/Olympus").is_err());
    }
}
