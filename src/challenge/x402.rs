//! x402 offers with the Lightning `exact` scheme: v2 in the `PAYMENT-REQUIRED` header (base64 JSON), v1 in
//! the JSON body, each `{"x402Version": N, "accepts": [offer, …]}`. A Lightning offer has `scheme: "exact"`,
//! a Bitcoin network (`bip122:…`, `lnbtc:…` or the older `btc-lightning-…`), the BOLT11 invoice in
//! `extra.invoice`, and its amount (`amount` in v2, `maxAmountRequired` in v1; msat, or sats on the older
//! `btc-lightning-…` networks), which the invoice must ask exactly. The retry carries base64 JSON naming the accepted offer, the invoice and the preimage in
//! `PAYMENT-SIGNATURE` (v2) or `X-PAYMENT` (v1). Offers on other chains are reported as unsupported.

use serde_json::{Value, json};

use super::{ChallengeKind, Error, PaymentChallenge, ProofForm, Result};

const WHAT: &str = "x402";

/// Reads a v2 `PAYMENT-REQUIRED` header value.
pub fn from_header(value: &str) -> Result<PaymentChallenge> {
    from_document(&super::decode_json(value, WHAT)?)
}

/// Reads a v1 JSON body; bodies that are not x402 documents are no challenge.
pub fn from_body(body: &[u8]) -> Result<PaymentChallenge> {
    match serde_json::from_slice::<Value>(body) {
        Ok(doc) if doc.get("x402Version").is_some() && doc.get("accepts").is_some() => from_document(&doc),
        _ => Err(Error::NoChallenge),
    }
}

fn is_lightning(offer: &Value) -> bool {
    let network = offer.get("network").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    let method = offer.pointer("/extra/paymentMethod").and_then(Value::as_str).unwrap_or("lightning");
    let bitcoin = network.starts_with("bip122:")
        || network.starts_with("lnbtc:")
        || network.starts_with("btc-lightning")
        || network == "lightning";
    offer.get("scheme").and_then(Value::as_str) == Some("exact") && bitcoin && method.eq_ignore_ascii_case("lightning")
}

fn from_document(doc: &Value) -> Result<PaymentChallenge> {
    let version = match doc.get("x402Version").and_then(Value::as_u64) {
        Some(v @ 1..=2) => v as u8,
        other => return Err(Error::Malformed(WHAT, format!("unknown x402Version {other:?}"))),
    };
    let offers = doc
        .get("accepts")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Malformed(WHAT, "`accepts` is not a list".into()))?;
    let Some(offer) = offers.iter().find(|o| is_lightning(o)) else {
        let named: Vec<String> = offers
            .iter()
            .take(8)
            .map(|o| {
                let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
                format!("{} on {}", s("scheme"), s("network"))
            })
            .collect();
        return Err(Error::UnsupportedScheme(format!("x402 offers {}", named.join(", "))));
    };
    let invoice = offer
        .pointer("/extra/invoice")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(Error::MissingInvoice(WHAT))?;
    let amount_key = if version == 2 { "amount" } else { "maxAmountRequired" };
    // The older `btc-lightning-*` networks state sats; the CAIP-2 (`bip122:`, `lnbtc:`) ones msat.
    let network = offer.get("network").and_then(Value::as_str).unwrap_or_default();
    let scale = if network.to_ascii_lowercase().starts_with("btc-lightning") { 1000 } else { 1 };
    let amount = match offer.get(amount_key).or_else(|| offer.get("amount")) {
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    }
    .and_then(|a| a.checked_mul(scale))
    .ok_or_else(|| Error::Malformed(WHAT, format!("`{amount_key}` is not a whole amount")))?;
    let mut c = PaymentChallenge::new(
        ChallengeKind::X402,
        invoice,
        ProofForm::X402 { version, accepted: offer.clone(), resource: doc.get("resource").cloned() },
    );
    c.stated_amount_msat = Some(amount);
    Ok(c)
}

/// The header name and value proving payment of `accepted` with `preimage_hex`.
pub fn payment_header(
    version: u8,
    accepted: &Value,
    resource: Option<&Value>,
    invoice: &str,
    preimage_hex: &str,
) -> (&'static str, String) {
    use base64::Engine;
    // `invoice` as the current specs name it, `bolt11` as the older `btc-lightning` one does.
    let payload = json!({"invoice": invoice, "bolt11": invoice, "preimage": preimage_hex});
    let (name, doc) = if version >= 2 {
        let mut doc = json!({"x402Version": 2, "accepted": accepted, "payload": payload});
        if let Some(r) = resource {
            doc["resource"] = r.clone();
        }
        ("payment-signature", doc)
    } else {
        let doc =
            json!({"x402Version": 1, "scheme": accepted["scheme"], "network": accepted["network"], "payload": payload});
        ("x-payment", doc)
    };
    (name, base64::engine::general_purpose::STANDARD.encode(doc.to_string()))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    const MAINNET: &str = "bip122:000000000019d6689c085ae165831e93";

    #[test]
    fn v2_header_with_a_lightning_offer_among_others() {
        let doc = json!({"x402Version": 2, "resource": {"url": "http://a/b"}, "accepts": [
            {"scheme": "exact", "network": "eip155:8453", "amount": "1000", "asset": "0xabc", "payTo": "0x1"},
            {"scheme": "exact", "network": MAINNET, "amount": "21000", "asset": "BTC", "payTo": "anonymous",
             "extra": {"paymentMethod": "lightning", "invoice": "lnbc210n1"}},
        ]});
        let c = from_header(&STANDARD.encode(doc.to_string())).unwrap();
        assert_eq!(c.kind, ChallengeKind::X402);
        assert_eq!(c.invoice, "lnbc210n1");
        assert_eq!(c.stated_amount_msat, Some(21_000));
        let ProofForm::X402 { version, accepted, resource } = &c.proof else { panic!() };
        let (name, value) = payment_header(*version, accepted, resource.as_ref(), &c.invoice, "00");
        assert_eq!(name, "payment-signature");
        let sent: Value = serde_json::from_slice(&STANDARD.decode(value).unwrap()).unwrap();
        assert_eq!(sent["accepted"]["network"], MAINNET);
        assert_eq!(sent["payload"]["preimage"], "00");
        assert_eq!(sent["resource"]["url"], "http://a/b");
    }

    #[test]
    fn v1_body_and_unsupported_offers() {
        let body = json!({"x402Version": 1, "error": "X-PAYMENT header is required", "accepts": [
            {"scheme": "exact", "network": "btc-lightning-signet", "maxAmountRequired": "5",
             "extra": {"invoice": "lntbs50n1"}}]});
        let c = from_body(body.to_string().as_bytes()).unwrap();
        assert_eq!(c.stated_amount_msat, Some(5000));
        let ProofForm::X402 { version, accepted, .. } = &c.proof else { panic!() };
        assert_eq!(payment_header(*version, accepted, None, "i", "p").0, "x-payment");
        let evm = json!({"x402Version": 1, "accepts": [{"scheme": "exact", "network": "base-sepolia",
            "maxAmountRequired": "1000", "payTo": "0xfa"}]});
        let err = from_body(evm.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.reason(), "unsupported_scheme");
        assert!(err.to_string().contains("exact on base-sepolia"), "{err}");
        assert_eq!(from_body(b"{\"error\":1}"), Err(Error::NoChallenge));
        assert!(matches!(from_header("not base64 !"), Err(Error::Malformed(..))));
        let onchain = json!({"x402Version": 2, "accepts": [{"scheme": "exact", "network": MAINNET, "amount": "1",
            "extra": {"paymentMethod": "on-chain"}}]});
        assert!(matches!(from_header(&STANDARD.encode(onchain.to_string())), Err(Error::UnsupportedScheme(_))));
    }
}
