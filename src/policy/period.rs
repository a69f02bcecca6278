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
}

impl Period {
    /// The database spelling (`rolling` keeps its hours apart).
    pub fn kind(&self) -> &'static str {
        match self {
            Period::Request => "request",
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Rolling { .. } => "rolling",
            Period::Lifetime => "lifetime",
        }
    }

    pub fn from_parts(kind: &str, rolling_hours: Option<i64>) -> Option<Period> {
        Some(match kind {
            "request" => Period::Request,
            "day" => Period::Day,
            "week" => Period::Week,
            "month" => Period::Month,
            "rolling" => Period::Rolling { hours: u32::try_from(rolling_hours?).ok().filter(|h| *h > 0)? },
            "lifetime" => Period::Lifetime,
            _ => return None,
        })
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
        }
    }

    /// Where the current window starts, in ms since the epoch: `None` for `Request` (nothing accumulates)
    /// and `Some(i64::MIN)` for `Lifetime` (everything counts).
    pub fn window_start_ms(&self, now_ms: i64, tz: &TimeZone) -> Option<i64> {
        let now = Timestamp::from_millisecond(now_ms).ok()?;
        let zoned = now.to_zoned(tz.clone());
        let start = match self {
            Period::Request => return None,
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
}

/// Parses an IANA zone name (`Europe/Berlin`) or `UTC`.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| format!("`{name}` is not a known IANA time zone (e.g. Europe/Berlin, UTC)"))
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
        assert!(time_zone("Mars/Olympus").is_err());
    }
}
