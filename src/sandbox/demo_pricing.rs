//! The demo API's prices in every form Purser reads: a `/pricing` document, `/.well-known/l402-services`,
//! `/.well-known/l402.json`, and OpenAPI `x-payment-info` in `/openapi.json`. All say the same prices,
//! which are the advertised ones (the `/surge` endpoint's invoices ask more on purpose).

use serde_json::{Value, json};

/// One priced endpoint as the documents list it.
pub struct Listed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub price_sats: u64,
    pub about: &'a str,
    pub dialect: &'a str,
}

/// The document served at `path`, if `path` is one of the pricing locations.
pub fn document(path: &str, endpoints: &[Listed<'_>]) -> Option<Value> {
    Some(match path {
        "/pricing" => json!({
            "currency": "sat",
            "network": "regtest",
            "priced_endpoints": endpoints.iter().map(|e| json!({
                "method": e.method, "path": e.path, "price_sats": e.price_sats, "description": e.about,
                "dialect": e.dialect,
            })).collect::<Vec<_>>(),
            "free_tier": {"path": "/daily", "free_calls_per_day": 1},
            "payment_hints": {"payment_hash_in": "body", "name": "payment_hash"},
        }),
        "/.well-known/l402-services" => json!({
            "services": endpoints.iter().map(|e| json!({
                "name": e.path.trim_start_matches('/'), "endpoint": e.path, "method": e.method,
                "price": {"amount": e.price_sats, "currency": "sat"}, "protocol": e.dialect,
            })).collect::<Vec<_>>(),
        }),
        "/.well-known/l402.json" => json!({
            "version": "1",
            "endpoints": endpoints.iter().map(|e| json!({
                "path": e.path, "method": e.method, "price_msat": e.price_sats * 1000,
            })).collect::<Vec<_>>(),
        }),
        "/openapi.json" => {
            let mut paths = serde_json::Map::new();
            for e in endpoints {
                let op = json!({"summary": e.about, "x-payment-info": {"protocol": e.dialect,
                    "price": {"amount": e.price_sats.to_string(), "currency": "sat"}},
                    "responses": {"200": {"description": "paid"}, "402": {"description": "Payment Required"}}});
                paths.insert(e.path.to_string(), json!({ e.method.to_ascii_lowercase(): op }));
            }
            json!({"openapi": "3.1.0", "info": {"title": "Purser sandbox demo API", "version": "1"}, "paths": paths})
        }
        _ => return None,
    })
}
