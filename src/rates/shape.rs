//! The answer shapes of the price sources Purser knows, each read into "units of the currency per bitcoin".
//! Shapes as their APIs document them: Coinbase `GET /v2/prices/BTC-USD/spot` →
//! `{"data": {"amount": "97000.12", "currency": "USD"}}`; Kraken `GET /0/public/Ticker?pair=XBTUSD` →
//! `{"error": [], "result": {"XXBTZUSD": {"c": ["97000.1", "0.01"], …}}}` (`c`: the last trade, price then
//! volume; the pair's key varies); CoinGecko `GET /api/v3/simple/price?ids=bitcoin&vs_currencies=usd` →
//! `{"bitcoin": {"usd": 97000}}`; mempool `GET /api/v1/prices` → `{"time": …, "USD": 97000, "EUR": …}`.

use serde_json::Value;

/// How a source writes its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    Coinbase,
    Kraken,
    Coingecko,
    Mempool,
}

/// Why an answer could not be read as a price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("the answer is not JSON")]
    NotJson,
    #[error("the answer has no price for {0}")]
    NoPrice(String),
    #[error("the answer is for {found}, not {asked}")]
    OtherCurrency { asked: String, found: String },
    #[error("the source reported an error: {0}")]
    SourceError(String),
}

impl Shape {
    /// The price of one bitcoin in `currency` (an ISO code, any case) that `body` gives.
    pub fn read(self, body: &[u8], currency: &str) -> Result<f64, ShapeError> {
        let v: Value = serde_json::from_slice(body).map_err(|_| ShapeError::NotJson)?;
        let upper = currency.to_ascii_uppercase();
        let none = || ShapeError::NoPrice(upper.clone());
        match self {
            Shape::Coinbase => {
                if let Some(found) = v["data"]["currency"].as_str()
                    && !found.eq_ignore_ascii_case(&upper)
                {
                    return Err(ShapeError::OtherCurrency { asked: upper, found: found.to_string() });
                }
                number(&v["data"]["amount"]).ok_or_else(none)
            }
            Shape::Kraken => {
                if let Some(first) = v["error"].as_array().and_then(|e| e.first()) {
                    return Err(ShapeError::SourceError(first.as_str().unwrap_or("unknown").to_string()));
                }
                let pairs = v["result"].as_object().ok_or_else(none)?;
                // XXBTZUSD, XBTUSD, XBTUSDT: the pair whose quote is exactly the currency.
                let (_, ticker) = pairs
                    .iter()
                    .find(|(pair, _)| pair.ends_with(&upper) && !pair.ends_with(&format!("{upper}T")))
                    .ok_or_else(none)?;
                number(&ticker["c"][0]).ok_or_else(none)
            }
            Shape::Coingecko => number(&v["bitcoin"][currency.to_ascii_lowercase()]).ok_or_else(none),
            Shape::Mempool => number(&v[upper.as_str()]).ok_or_else(none),
        }
    }
}

/// A JSON number, or a string holding one (exchanges quote prices as strings to keep their digits).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shape_as_its_api_documents_it() {
        let coinbase = br#"{"data":{"amount":"97000.12","base":"BTC","currency":"USD"}}"#;
        assert_eq!(Shape::Coinbase.read(coinbase, "usd"), Ok(97_000.12));
        let kraken =
            br#"{"error":[],"result":{"XXBTZUSD":{"a":["97001.0","1","1.000"],"c":["97000.10000","0.00100000"]}}}"#;
        assert_eq!(Shape::Kraken.read(kraken, "USD"), Ok(97_000.1));
        let coingecko = br#"{"bitcoin":{"usd":97000}}"#;
        assert_eq!(Shape::Coingecko.read(coingecko, "USD"), Ok(97_000.0));
        let mempool = br#"{"time":1764633600,"USD":97000,"EUR":90000,"GBP":77000}"#;
        assert_eq!(Shape::Mempool.read(mempool, "eur"), Ok(90_000.0));
    }

    #[test]
    fn answers_that_say_something_else_are_not_prices() {
        assert_eq!(Shape::Mempool.read(b"<html>", "USD"), Err(ShapeError::NotJson));
        assert_eq!(Shape::Mempool.read(br#"{"USD":97000}"#, "CHF"), Err(ShapeError::NoPrice("CHF".into())));
        let eur = br#"{"data":{"amount":"90000","currency":"EUR"}}"#;
        assert!(matches!(Shape::Coinbase.read(eur, "USD"), Err(ShapeError::OtherCurrency { .. })));
        let failed = br#"{"error":["EQuery:Unknown asset pair"]}"#;
        assert_eq!(Shape::Kraken.read(failed, "USD"), Err(ShapeError::SourceError("EQuery:Unknown asset pair".into())));
        // A tether pair is not the dollar.
        let tether = br#"{"error":[],"result":{"XBTUSDT":{"c":["97010.0","1"]}}}"#;
        assert_eq!(Shape::Kraken.read(tether, "USD"), Err(ShapeError::NoPrice("USD".into())));
        assert_eq!(
            Shape::Coingecko.read(br#"{"bitcoin":{"usd":"n/a"}}"#, "USD"),
            Err(ShapeError::NoPrice("USD".into()))
        );
    }
}
