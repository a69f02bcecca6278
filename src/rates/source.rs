//! Where prices are asked: a URL with the currency in it and the shape of its answer. The defaults are four
//! public sources of different kinds (two exchanges' spot prices, an aggregator, a mempool-style price
//! endpoint); `purser.toml` may name others, a private price feed among them.

use super::shape::Shape;

/// One price source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Source {
    /// How explanations and alerts name it.
    pub name: String,
    /// `{CURRENCY}` and `{currency}` stand for the ISO code in upper and lower case.
    pub url: String,
    pub shape: Shape,
}

impl Source {
    pub fn new(name: &str, url: &str, shape: Shape) -> Self {
        Source { name: name.into(), url: url.into(), shape }
    }

    /// The URL that asks for `currency`.
    pub fn url_for(&self, currency: &str) -> String {
        self.url
            .replace("{CURRENCY}", &currency.to_ascii_uppercase())
            .replace("{currency}", &currency.to_ascii_lowercase())
    }
}

/// The sources asked when `purser.toml` names none.
pub fn defaults() -> Vec<Source> {
    vec![
        Source::new("coinbase", "https://api.coinbase.com/v2/prices/BTC-{CURRENCY}/spot", Shape::Coinbase),
        Source::new("kraken", "https://api.kraken.com/0/public/Ticker?pair=XBT{CURRENCY}", Shape::Kraken),
        Source::new(
            "coingecko",
            "https://api.coingecko.com/api/v3/simple/price?ids=bitcoin&vs_currencies={currency}",
            Shape::Coingecko,
        ),
        Source::new("mempool", "https://mempool.space/api/v1/prices", Shape::Mempool),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_currency_as_each_source_wants_it() {
        let d = defaults();
        assert_eq!(d[0].url_for("eur"), "https://api.coinbase.com/v2/prices/BTC-EUR/spot");
        assert_eq!(d[1].url_for("usd"), "https://api.kraken.com/0/public/Ticker?pair=XBTUSD");
        assert!(d[2].url_for("USD").ends_with("vs_currencies=usd"));
        assert_eq!(d[3].url_for("USD"), "https://mempool.space/api/v1/prices");
    }
}
