//! Reading the pricing documents APIs publish. Each reader is lenient about names — servers write
//! `price_sats`, `price: {amount, currency}`, `amount_msat`… — and strict about amounts: a price that is not
//! a whole number of sats or msats is skipped, never guessed.

use serde_json::Value;

use super::Price;

/// Where a document lives under the API's origin, and its name in [`Price::source`].
pub const LOCATIONS: [(&str, &str); 4] = [
    ("/pricing", "pricing"),
    ("/.well-known/l402-services", "l402-services"),
    ("/.well-known/l402.json", "l402.json"),
    ("/openapi.json", "openapi"),
];

/// A document's prices, plus what the `/pricing` form adds.
#[derive(Debug, Default)]
pub struct Read {
    pub prices: Vec<Price>,
    pub free_tier: Option<Value>,
    pub payment_hints: Option<Value>,
}

/// Reads the document fetched from the location named `source`.
pub fn read(source: &str, body: &[u8]) -> Option<Read> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    let prices = if source == "openapi" {
        openapi(&doc)
    } else if super::discovery::is_manifest(&doc) {
        super::discovery::manifest_prices(&doc, source)
    } else {
        listed(&doc, source)
    };
    Some(Read {
        prices,
        free_tier: doc.get("free_tier").cloned().filter(|v| !v.is_null()),
        payment_hints: doc.get("payment_hints").cloned().filter(|v| !v.is_null()),
    })
}

/// An amount in msat from a number or a string of digits, `scale` msat per unit.
fn whole(v: &Value, scale: u64) -> Option<u64> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }?;
    n.checked_mul(scale)
}

fn unit_scale(unit: Option<&str>) -> Option<u64> {
    match unit.map(str::to_ascii_lowercase).as_deref() {
        None | Some("sat" | "sats" | "satoshi" | "satoshis") => Some(1000),
        Some("msat" | "msats" | "millisatoshi" | "millisatoshis") => Some(1),
        _ => None,
    }
}

/// The price an object states, in msat.
pub fn price_msat(o: &Value) -> Option<u64> {
    for (key, scale) in [("price_msat", 1), ("amount_msat", 1), ("price_msats", 1)] {
        if let Some(v) = o.get(key) {
            return whole(v, scale);
        }
    }
    for key in ["price_sats", "price_sat", "amount_sats", "amount_sat", "sats"] {
        if let Some(v) = o.get(key) {
            return whole(v, 1000);
        }
    }
    let unit = o.get("currency").or_else(|| o.get("unit")).and_then(Value::as_str);
    match o.get("price") {
        Some(p @ Value::Object(_)) => return price_msat(p),
        Some(p) => return whole(p, unit_scale(unit)?),
        None => {}
    }
    o.get("amount").and_then(|a| whole(a, unit_scale(unit)?))
}

fn path_of(o: &Value) -> Option<String> {
    let raw = ["path", "endpoint", "route", "pattern", "url"].iter().find_map(|k| o.get(*k).and_then(Value::as_str))?;
    if raw.starts_with('/') {
        return Some(raw.to_string());
    }
    url::Url::parse(raw).ok().map(|u| u.path().to_string())
}

fn listed(doc: &Value, source: &str) -> Vec<Price> {
    let lists = ["priced_endpoints", "endpoints", "services", "routes", "prices"];
    let entries = lists.iter().filter_map(|k| doc.get(*k).and_then(Value::as_array)).flatten();
    let top = if doc.is_array() { doc.as_array().map(|a| a.iter()) } else { None };
    entries
        .chain(top.into_iter().flatten())
        .filter_map(|e| {
            Some(Price {
                method: e.get("method").and_then(Value::as_str).map(str::to_ascii_uppercase),
                path: path_of(e)?,
                price_msat: price_msat(e)?,
                description: ["description", "about", "name"]
                    .iter()
                    .find_map(|k| e.get(*k).and_then(Value::as_str))
                    .map(str::to_string),
                source: source.to_string(),
                ..Price::default()
            })
        })
        .collect()
}

const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

fn openapi(doc: &Value) -> Vec<Price> {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return Vec::new();
    };
    let quote = doc.get("x-l402-quote-endpoint").and_then(Value::as_str);
    let mut out = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let summary = op.get("summary").and_then(Value::as_str).map(str::to_string);
            // The L402 discovery form first: it also says how a price that is not fixed is had.
            if let Some(price) = op.get("x-l402-pricing").and_then(|p| super::discovery::priced(p, quote, "openapi")) {
                let service = op.get("x-l402-service").and_then(Value::as_str).map(str::to_string);
                let method = Some(method.to_ascii_uppercase());
                out.push(Price { method, path: path.clone(), description: summary, service, ..price });
                continue;
            }
            let Some(info) = op.get("x-payment-info") else { continue };
            // One offer, or a list of offers (one per protocol): the lowest is the price.
            let offers: Vec<&Value> = match info {
                Value::Array(list) => list.iter().collect(),
                _ => vec![info],
            };
            if let Some(price) = offers.iter().filter_map(|o| price_msat(o)).min() {
                out.push(Price {
                    method: Some(method.to_ascii_uppercase()),
                    path: path.clone(),
                    price_msat: price,
                    description: summary,
                    source: "openapi".into(),
                    ..Price::default()
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn prices(source: &str, doc: Value) -> Vec<(Option<String>, String, u64)> {
        read(source, doc.to_string().as_bytes())
            .unwrap()
            .prices
            .into_iter()
            .map(|p| (p.method, p.path, p.price_msat))
            .collect()
    }

    #[test]
    fn each_published_form() {
        let pricing = json!({"priced_endpoints": [{"method": "get", "path": "/a", "price_sats": 2},
            {"path": "/b", "price_msat": 1500}, {"path": "/bad", "price_sats": 1.5}],
            "free_tier": {"path": "/a", "free_calls_per_day": 1}});
        assert_eq!(
            prices("pricing", pricing.clone()),
            vec![(Some("GET".into()), "/a".into(), 2000), (None, "/b".into(), 1500)]
        );
        assert!(read("pricing", pricing.to_string().as_bytes()).unwrap().free_tier.is_some());
        let services = json!({"services": [{"name": "a", "endpoint": "https://x.test/a", "price": {"amount": "3",
            "currency": "sat"}}]});
        assert_eq!(prices("l402-services", services), vec![(None, "/a".into(), 3000)]);
        let l402 = json!({"endpoints": [{"path": "/c", "method": "POST", "price": 4}]});
        assert_eq!(prices("l402.json", l402), vec![(Some("POST".into()), "/c".into(), 4000)]);
        let openapi = json!({"openapi": "3.1.0", "paths": {"/d": {"get": {"summary": "d",
            "x-payment-info": [{"protocol": "l402", "price": {"amount": 5, "currency": "sat"}},
                               {"protocol": "x402", "amount": "6000", "currency": "msat"}]},
            "post": {"summary": "free"}}}});
        assert_eq!(prices("openapi", openapi), vec![(Some("GET".into()), "/d".into(), 5000)]);
        assert!(read("pricing", b"<html>").is_none());
        assert_eq!(prices("pricing", json!({"price": {"amount": 1, "currency": "usd"}})), vec![]);
    }
}
