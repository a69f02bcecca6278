//! The sandbox's play rate: a price endpoint in the mempool shape (`GET /api/v1/prices`) on the demo API,
//! with fixed play prices in a few currencies. Not a market price, and it says so; it exists so limits and
//! figures in a currency can be tried without the network. Only the sandbox ever asks it.

use serde_json::{Value, json};

/// The path of the play rate.
pub const PATH: &str = "/api/v1/prices";

/// Play prices of one bitcoin: round numbers, so conversions are easy to check by hand.
pub const PLAY_PRICES: [(&str, u64); 7] = [
    ("USD", 100_000),
    ("EUR", 90_000),
    ("GBP", 80_000),
    ("CAD", 140_000),
    ("CHF", 90_000),
    ("AUD", 150_000),
    ("JPY", 15_000_000),
];

/// The answer: `{"time": …, "USD": 100000, …, "note": "…"}`.
pub fn document() -> Value {
    let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let mut doc = json!({ "time": time, "note": "play rate from Purser's sandbox, not a market price" });
    for (code, price) in PLAY_PRICES {
        doc[code] = json!(price);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rates::shape::Shape;

    #[test]
    fn the_play_rate_reads_as_a_mempool_answer() {
        let body = document().to_string();
        assert_eq!(Shape::Mempool.read(body.as_bytes(), "usd"), Ok(100_000.0));
        assert_eq!(Shape::Mempool.read(body.as_bytes(), "JPY"), Ok(15_000_000.0));
        assert!(body.contains("not a market price"));
    }
}
