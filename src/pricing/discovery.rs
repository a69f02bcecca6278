//! The L402 discovery document (`/.well-known/l402.json` as lightninglabs/L402's `discovery-spec.md`
//! defines it, manifest version "1.0") and its OpenAPI form (`x-l402-pricing` on an operation,
//! `x-l402-quote-endpoint` at the root): each service's resources with their pricing model — **fixed** (a
//! price), **formula** (a base and a price per unit of a constraint the token carries) or **dynamic** (asked
//! of the quote endpoint) — and where a server says its manifest is (`Link: <…>; rel="l402-manifest"`).
//!
//! Every price here is advisory: the invoice's amount is what is paid, and only a fixed price is an amount
//! an invoice can be compared with.

use http::HeaderMap;
use serde_json::Value;

use super::{Price, PriceModel};

/// Whether `doc` is a discovery manifest (services listing resources) rather than an older flat listing.
pub fn is_manifest(doc: &Value) -> bool {
    doc.get("services")
        .and_then(Value::as_array)
        .is_some_and(|services| services.iter().any(|s| s.get("resources").is_some_and(Value::is_array)))
}

/// The prices a manifest states, one per resource that has a path and a pricing model Purser knows.
pub fn manifest_prices(doc: &Value, source: &str) -> Vec<Price> {
    let quote = doc.get("quote_endpoint").and_then(Value::as_str);
    let mut out = Vec::new();
    for service in doc.get("services").and_then(Value::as_array).into_iter().flatten() {
        let name = service.get("name").and_then(Value::as_str);
        for resource in service.get("resources").and_then(Value::as_array).into_iter().flatten() {
            // A resource without a path names a capability, not an endpoint a request can be matched with.
            let Some(path) = resource.get("path").and_then(Value::as_str).filter(|p| p.starts_with('/')) else {
                continue;
            };
            let Some(pricing) = resource.get("pricing") else { continue };
            let Some(mut price) = priced(pricing, quote, source) else { continue };
            price.method = Some(resource.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase());
            price.path = path.to_string();
            price.service = name.map(str::to_string);
            price.capability = resource.get("capability").and_then(Value::as_str).map(str::to_string);
            price.description = ["description", "capability"]
                .iter()
                .find_map(|k| resource.get(*k).and_then(Value::as_str))
                .or(service.get("description").and_then(Value::as_str))
                .or(name)
                .map(str::to_string);
            out.push(price);
        }
    }
    out
}

/// A `pricing` object (the manifest's, or OpenAPI's `x-l402-pricing`) as a price with no path yet; `None`
/// when its model is unknown or an amount is not a whole number of msat.
pub fn priced(pricing: &Value, quote_endpoint: Option<&str>, source: &str) -> Option<Price> {
    let whole = |key: &str| pricing.get(key).and_then(Value::as_u64);
    let (model, price_msat, detail) = match pricing.get("model").and_then(Value::as_str)? {
        "fixed" => (PriceModel::Fixed, whole("price_msat")?, None),
        "formula" => {
            let base = whole("base_msat")?;
            let mut parts = Vec::new();
            for c in pricing.get("components").and_then(Value::as_array)? {
                let constraint = c.get("constraint").and_then(Value::as_str)?;
                let per = c.get("price_msat_per_unit").and_then(Value::as_u64)?;
                let unit = match c.get("unit") {
                    None => 1,
                    Some(u) => u.as_u64().filter(|u| *u > 0)?,
                };
                let each = if unit == 1 { String::new() } else { format!("{unit} ") };
                parts.push(format!("{} per {each}{constraint}", msat_text(per)));
            }
            let terms = std::iter::once(msat_text(base)).chain(parts).collect::<Vec<_>>().join(" + ");
            (PriceModel::Formula, base, Some(terms))
        }
        "dynamic" => (PriceModel::Dynamic, 0, Some("quoted for each request".to_string())),
        _ => return None,
    };
    Some(Price {
        method: None,
        path: String::new(),
        price_msat,
        description: None,
        source: source.to_string(),
        model,
        detail,
        quote_endpoint: quote_endpoint.filter(|_| model != PriceModel::Fixed).map(str::to_string),
        service: None,
        capability: None,
    })
}

/// An amount for people: sats, with the msat when there are any.
fn msat_text(msat: u64) -> String {
    if msat.is_multiple_of(1000) { format!("{} sat", msat / 1000) } else { format!("{} msat", msat) }
}

/// Where the server says its manifest is: the target of a `Link` header with `rel="l402-manifest"`.
pub fn manifest_link(headers: &HeaderMap) -> Option<String> {
    headers.get_all(http::header::LINK).iter().filter_map(|v| v.to_str().ok()).find_map(|value| {
        // A header may list several links: `<a>; rel="x", <b>; rel="y"`.
        value.split(',').find_map(|link| {
            let (target, params) = link.trim().strip_prefix('<')?.split_once('>')?;
            let names_manifest = params.split(';').any(|p| {
                let Some((key, val)) = p.split_once('=') else { return false };
                key.trim().eq_ignore_ascii_case("rel")
                    && val.trim().trim_matches('"').split_whitespace().any(|r| r.eq_ignore_ascii_case("l402-manifest"))
            });
            names_manifest.then(|| target.trim().to_string())
        })
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The manifest example of discovery-spec.md (§5.6), with a dynamic resource and a quote endpoint as
    /// the specification describes them.
    fn spec_manifest() -> Value {
        json!({
            "version": "1.0",
            "provider": {"name": "Acme Weather", "uri": "https://api.weather.example"},
            "currencies": ["msat", "usd"], "macaroon_versions": [0], "payment_methods": ["bolt11"],
            "quote_endpoint": "/l402/quote", "openapi": "/openapi.json",
            "services": [{
                "name": "weather", "description": "Forecast and historical weather data.",
                "tiers": [{"tier": 0, "name": "base"}, {"tier": 1, "name": "pro"}],
                "capabilities": ["forecast", "historical"],
                "resources": [
                    {"path": "/v1/forecast", "method": "GET", "capability": "forecast",
                     "pricing": {"model": "formula", "base_msat": 1000,
                                 "components": [{"constraint": "forecast_monthly_requests", "price_msat_per_unit": 10, "unit": 1}]},
                     "constraints": {"forecast_monthly_requests": {"type": "integer", "max": 1_000_000}}},
                    {"path": "/v1/historical", "capability": "historical", "pricing": {"model": "fixed", "price_msat": 5000}},
                    {"path": "/v1/bulk", "method": "post", "pricing": {"model": "dynamic"}},
                    {"capability": "forecast", "pricing": {"model": "fixed", "price_msat": 1}},
                    {"path": "/v1/odd", "pricing": {"model": "auction"}},
                    {"path": "/v1/half", "pricing": {"model": "fixed", "price_msat": 1.5}}
                ]
            }]
        })
    }

    #[test]
    fn each_pricing_model_of_the_specification() {
        let doc = spec_manifest();
        assert!(is_manifest(&doc));
        let prices = manifest_prices(&doc, "l402.json");
        let got: Vec<_> = prices
            .iter()
            .map(|p| (p.method.as_deref(), p.path.as_str(), p.model, p.price_msat, p.quote_endpoint.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("GET"), "/v1/forecast", PriceModel::Formula, 1000, Some("/l402/quote")),
                (Some("GET"), "/v1/historical", PriceModel::Fixed, 5000, None),
                (Some("POST"), "/v1/bulk", PriceModel::Dynamic, 0, Some("/l402/quote")),
            ],
            "no path, an unknown model and a fractional amount are left out"
        );
        assert_eq!(prices[0].detail.as_deref(), Some("1 sat + 10 msat per forecast_monthly_requests"));
        assert_eq!(prices[1].description.as_deref(), Some("historical"));
    }

    #[test]
    fn a_flat_listing_is_not_a_manifest() {
        assert!(!is_manifest(&json!({"endpoints": [{"path": "/c", "price": 4}]})));
        assert!(!is_manifest(&json!({"services": [{"name": "a", "endpoint": "/a"}]})));
    }

    #[test]
    fn the_manifest_link_among_other_links() {
        let mut headers = HeaderMap::new();
        headers.append("link", "</docs>; rel=\"help\"".parse().unwrap());
        assert_eq!(manifest_link(&headers), None);
        headers.append(
            "link",
            "<https://api.example.com/openapi.json>; rel=\"service-desc\", </meta/l402.json>; REL=\"l402-manifest\""
                .parse()
                .unwrap(),
        );
        assert_eq!(manifest_link(&headers).as_deref(), Some("/meta/l402.json"));
    }
}
