//! An amount of a person's currency, as limits are set and figures shown: whole millionths of the unit, so a
//! limit typed as `0.05` is exactly five cents and sums of recorded values never drift with rounding.

use std::fmt;

/// Millionths of a currency unit in one unit.
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// An amount in a currency: `micros` millionths of one unit of `currency` (an ISO 4217 code, upper case).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Money {
    pub currency: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub micros: i64,
}

/// Why an amount or a currency code cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a currency code: write three letters, such as USD or EUR")]
    BadCurrency(String),
    #[error("`{0}` is not an amount: write a number such as 0.25 (at most six decimals)")]
    BadAmount(String),
    #[error("write an amount and its currency, such as `0.25 USD`; `{0}` is not that")]
    BadMoney(String),
}

/// A currency code as Purser stores it: three ASCII letters, upper case.
pub fn currency_code(s: &str) -> Result<String, MoneyError> {
    let code = s.trim();
    if code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(code.to_ascii_uppercase())
    } else {
        Err(MoneyError::BadCurrency(s.to_string()))
    }
}

impl Money {
    /// `amount` (a decimal such as `0.05` or `50`, not negative) in `currency`.
    pub fn parse_amount(currency: &str, amount: &str) -> Result<Money, MoneyError> {
        let currency = currency_code(currency)?;
        let bad = || MoneyError::BadAmount(amount.to_string());
        let text = amount.trim().trim_start_matches(['$', '€', '£', '¥']);
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) || frac.len() > 6 {
            return Err(bad());
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
        let frac: i64 = format!("{frac:0<6}").parse().map_err(|_| bad())?;
        let micros = whole.checked_mul(MICROS_PER_UNIT).and_then(|w| w.checked_add(frac)).ok_or_else(bad)?;
        Ok(Money { currency, micros })
    }

    /// `0.25 USD` or `USD 0.25`, as an agent writes `Purser-Max-Fiat`.
    pub fn parse(s: &str) -> Result<Money, MoneyError> {
        let mut parts = s.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), None) if currency_code(b).is_ok() => Money::parse_amount(b, a),
            (Some(a), Some(b), None) if currency_code(a).is_ok() => Money::parse_amount(a, b),
            _ => Err(MoneyError::BadMoney(s.to_string())),
        }
    }

    /// The amount in units, for display and conversion.
    pub fn units(&self) -> f64 {
        self.micros as f64 / MICROS_PER_UNIT as f64
    }
}

/// The symbol written before amounts of well-known currencies; others are written after, by code.
fn symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" => "¥",
        _ => return None,
    })
}

/// "$1.00", "$0.05", "$0.0012", "€12.30", "0.50 CHF": two decimals, more only when the amount needs them
/// (a sat is a fraction of a cent), thousands grouped.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.micros < 0 { "-" } else { "" };
        let abs = self.micros.unsigned_abs();
        let (whole, frac) = (abs / MICROS_PER_UNIT as u64, abs % MICROS_PER_UNIT as u64);
        let mut decimals = format!("{frac:06}");
        while decimals.len() > 2 && decimals.ends_with('0') {
            decimals.pop();
        }
        let number = format!("{}.{decimals}", crate::units::grouped(whole));
        match symbol(&self.currency) {
            Some(s) => write!(f, "{sign}{s}{number}"),
            None => write!(f, "{sign}{number} {}", self.currency),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(micros: i64) -> Money {
        Money { currency: "USD".into(), micros }
    }

    #[test]
    fn reads_amounts_exactly() {
        assert_eq!(Money::parse_amount("usd", "0.05"), Ok(usd(50_000)));
        assert_eq!(Money::parse_amount("USD", "1"), Ok(usd(1_000_000)));
        assert_eq!(Money::parse_amount("USD", "$0.29"), Ok(usd(290_000)));
        assert_eq!(Money::parse_amount("USD", ".5"), Ok(usd(500_000)));
        assert_eq!(Money::parse("0.25 USD"), Ok(usd(250_000)));
        assert_eq!(Money::parse("EUR 3"), Ok(Money { currency: "EUR".into(), micros: 3_000_000 }));
        for bad in ["", "-1", "1.2345678", "1,5", "abc", "1.2.3", "."] {
            assert!(Money::parse_amount("USD", bad).is_err(), "{bad:?}");
        }
        assert!(Money::parse("0.25").is_err());
        assert!(Money::parse("0.25 DOLLARS").is_err());
        assert!(currency_code("US").is_err());
        assert!(Money::parse_amount("USD", "99999999999999999").is_err());
    }

    #[test]
    fn writes_amounts_as_people_read_them() {
        assert_eq!(usd(1_000_000).to_string(), "$1.00");
        assert_eq!(usd(50_000).to_string(), "$0.05");
        assert_eq!(usd(1_200).to_string(), "$0.0012");
        assert_eq!(usd(1_234_567_890_000).to_string(), "$1,234,567.89");
        assert_eq!(Money { currency: "CHF".into(), micros: 500_000 }.to_string(), "0.50 CHF");
        assert_eq!(usd(-50_000).to_string(), "-$0.05");
    }
}
