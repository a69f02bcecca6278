//! The demo API's prices in every form Purser reads: a `/pricing` document, `/.well-known/l402-services`,
//! the L402 discovery document at `/.well-known/l402.json` (with the quote endpoint, `/l402/quote`), and
//! OpenAPI `x-payment-info` and `x-l402-pricing` in `/openapi.json`. All say the same prices, which are the
//! advertised ones (the `/surge` endpoint's invoices ask more on purpose); the dynamically priced endpoint
//! is only in the discovery forms, which can say so.

use serde_json::{Value, json};

/// One priced endpoint as the documents list it.
pub struct Listed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub price_sats: u64,
    pub about: &'a str,
    pub dialect: &'a str,
    /// Priced dynamically: quoted by the quote endpoint, not stated.
    pub quoted: bool,
}

/// Where the discovery document sends clients for a dynamic price.
pub const QUOTE_ENDPOINT: &str = "/l402/quote";
/// The service the discovery document names (its tokens carry `services=demo:0`).
pub const SERVICE: &str = "demo";

/// The document served at `path`, if `path` is one of the pricing locations.
pub fn document(path: &str, all: &[Listed<'_>]) -> Option<Value> {
    // The forms without pricing models state fixed prices only.
    let fixed: Vec<&Listed> = all.iter().filter(|e| !e.quoted).collect();
    let endpoints = &fixed;
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
        "/.well-known/l402.json" => manifest(all),
        "/openapi.json" => {
            let mut paths = serde_json::Map::new();
            for e in all {
                let mut op = json!({"summary": e.about,
                    "responses": {"200": {"description": "paid"}, "402": {"description": "Payment Required"}}});
                if e.quoted {
                    op["x-l402-service"] = json!(SERVICE);
                    op["x-l402-pricing"] = json!({"model": "dynamic"});
                } else {
                    op["x-payment-info"] = json!({"protocol": e.dialect,
                        "price": {"amount": e.price_sats.to_string(), "currency": "sat"}});
                }
                paths.insert(e.path.to_string(), json!({ e.method.to_ascii_lowercase(): op }));
            }
            json!({"openapi": "3.1.0", "info": {"title": "Purser sandbox demo API", "version": "1"},
                "x-l402-quote-endpoint": QUOTE_ENDPOINT, "paths": paths})
        }
        _ => return None,
    })
}

/// The L402 discovery document (manifest version "1.0"): one service whose resources are the endpoints,
/// each at its fixed price or, for the dynamically priced one, quoted by [`QUOTE_ENDPOINT`].
fn manifest(endpoints: &[Listed<'_>]) -> Value {
    let resources: Vec<Value> = endpoints
        .iter()
        .map(|e| {
            let pricing = if e.quoted {
                json!({"model": "dynamic"})
            } else {
                json!({"model": "fixed", "price_msat": e.price_sats * 1000})
            };
            json!({"path": e.path, "method": e.method, "capability": e.path.trim_start_matches('/'),
                "description": e.about, "pricing": pricing})
        })
        .collect();
    json!({
        "version": "1.0",
        "provider": {"name": "Purser sandbox demo API (play sats)"},
        "currencies": ["msat"],
        "macaroon_versions": [0],
        "payment_methods": ["bolt11"],
        "quote_endpoint": QUOTE_ENDPOINT,
        "openapi": "/openapi.json",
        "services": [{
            "name": SERVICE,
            "description": "Jokes, fortunes and forecasts for play sats",
            "capabilities": endpoints.iter().map(|e| e.path.trim_start_matches('/')).collect::<Vec<_>>(),
            "resources": resources,
        }],
    })
}
