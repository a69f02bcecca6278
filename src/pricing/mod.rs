//! What APIs publish about their prices, fetched and read before a payment is made.
//!
//! # Layout
//!
//! - [`documents`]: reading each published form — a `/pricing` document (`priced_endpoints`, free tier,
//!   payment hints), `/.well-known/l402-services`, `/.well-known/l402.json`, and OpenAPI `x-payment-info`
//!   offers in `/openapi.json` — into one list of [`Price`]s.
//! - [`discovery`]: the L402 discovery document's services and resources with their pricing models (fixed,
//!   formula, dynamic), its OpenAPI form (`x-l402-pricing`), and the `Link` header that says where it is.
//! - [`fetch`]: fetching them over the proxy's upstream client, with a timeout, and caching what was found
//!   (or that nothing was) for as long as the API's `Cache-Control` allows.
//! - [`quote`]: asking an API's quote endpoint what a dynamically priced endpoint costs now.
//!
//! Prices found are stored per API in the ledger with when they were read (see [`crate::ledger::prices`]);
//! the payer compares each invoice with them.

pub mod discovery;
pub mod documents;
pub mod fetch;
pub mod quote;

pub use fetch::Fetcher;

use serde::Serialize;

/// One advertised price.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Price {
    /// `GET`, `POST`…, or `None` when the document does not say (any method).
    pub method: Option<String>,
    /// The path, possibly with `{name}` segments or a trailing `*`.
    pub path: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub price_msat: u64,
    pub description: Option<String>,
    /// Which document said so: `pricing`, `l402-services`, `l402.json` or `openapi`.
    pub source: String,
    /// How the price is set; `price_msat` is the price itself only when it is fixed.
    pub model: PriceModel,
    /// A formula's terms, or how a dynamic price is had, for people.
    pub detail: Option<String>,
    /// Where a formula or dynamic price is quoted (an L402 discovery document's `quote_endpoint`), as
    /// published: a path on the API's origin or a URL.
    pub quote_endpoint: Option<String>,
    /// The L402 service the endpoint belongs to, which a quote is asked for.
    pub service: Option<String>,
    /// The service's capability the endpoint sells (a quote is asked for it alone).
    pub capability: Option<String>,
}

/// How an API sets a price (the L402 discovery document's pricing models; every other document states
/// fixed prices).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum PriceModel {
    /// `price_msat` is the price.
    #[default]
    Fixed,
    /// `price_msat` is the base; the token's constraints add to it (see `detail`).
    Formula,
    /// Known only from a quote for the request (`price_msat` is 0).
    Dynamic,
}

impl Price {
    /// Whether this price applies to `method` `path`.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method)) && path_matches(&self.path, path)
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    if let Some(prefix) = pattern.strip_suffix('*') {
        return path.starts_with(prefix);
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    a.len() == b.len() && a.iter().zip(&b).all(|(p, s)| p == s || (p.starts_with('{') && p.ends_with('}')))
}

/// What one API publishes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PriceList {
    /// `scheme://host[:port]`
    pub origin: String,
    pub prices: Vec<Price>,
    /// Each document tried, and what came of it.
    pub tried: Vec<Tried>,
    /// The `/pricing` document's free tier, as published.
    pub free_tier: Option<serde_json::Value>,
    /// The `/pricing` document's payment hints, as published.
    pub payment_hints: Option<serde_json::Value>,
    pub read_at_ms: i64,
}

/// One document fetched, and its outcome: `found N prices`, `not published (404)`, `timed out`…
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tried {
    pub url: String,
    pub outcome: String,
}

impl PriceList {
    /// No document gave a price: "no pricing published".
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    /// The price for `method` `path`: the most specific match, preferring the `/pricing` document. It may be
    /// a formula or a dynamic price, which no invoice is compared with.
    pub fn price_for(&self, method: &str, path: &str) -> Option<&Price> {
        self.best(method, path, |_| true)
    }

    /// The fixed price for `method` `path`, chosen as [`Self::price_for`] chooses: what an invoice is
    /// compared with when the price that applies could not be quoted.
    pub fn fixed_price_for(&self, method: &str, path: &str) -> Option<&Price> {
        self.best(method, path, |p| p.model == PriceModel::Fixed)
    }

    fn best(&self, method: &str, path: &str, keep: impl Fn(&Price) -> bool) -> Option<&Price> {
        self.prices.iter().filter(|p| keep(p) && p.matches(method, path)).max_by_key(|p| {
            (!p.path.contains('{') && !p.path.ends_with('*'), p.method.is_some(), p.source == "pricing")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(method: Option<&str>, path: &str, sats: u64, source: &str) -> Price {
        Price {
            method: method.map(str::to_string),
            path: path.into(),
            price_msat: sats * 1000,
            description: None,
            source: source.into(),
            model: PriceModel::Fixed,
            detail: None,
            quote_endpoint: None,
            service: None,
            capability: None,
        }
    }

    #[test]
    fn most_specific_price_wins() {
        let list = PriceList {
            prices: vec![
                price(None, "/items/*", 5, "openapi"),
                price(Some("GET"), "/items/{id}", 7, "openapi"),
                price(Some("GET"), "/items/42", 9, "l402.json"),
                price(Some("GET"), "/items/42", 10, "pricing"),
                price(Some("POST"), "/items/42", 50, "pricing"),
            ],
            ..Default::default()
        };
        assert_eq!(list.price_for("GET", "/items/42?x=1").unwrap().price_msat, 10_000);
        assert_eq!(list.price_for("GET", "/items/7").unwrap().price_msat, 7_000);
        assert_eq!(list.price_for("DELETE", "/items/7/sub").unwrap().price_msat, 5_000);
        assert!(list.price_for("GET", "/other").is_none());
    }
}
