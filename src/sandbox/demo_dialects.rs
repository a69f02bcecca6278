//! The demo API's challenges and proof checks in the dialects other than L402: MPP (`Payment` scheme,
//! Lightning charge), x402 v2 (`PAYMENT-REQUIRED` header) and v1 (JSON body) with the Lightning `exact`
//! scheme, an x402 offer on an EVM chain only (which Purser cannot pay), and the hash-only L402 variant.
//! Proofs are checked as a real server would: against the sandbox node's settled invoices, once each.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::mint::Mint;
use crate::units::{PaymentHash, Preimage};

/// The CAIP-2 id of Bitcoin regtest, where the sandbox's invoices live.
pub const REGTEST: &str = "bip122:0f9188f13cb7b2c71f2a335e3a4fc328";

/// `WWW-Authenticate: Payment …` for an MPP Lightning charge of `invoice`; `id` names the challenge.
pub fn mpp_challenge(id: &str, invoice: &str, hash: &PaymentHash, sats: u64, expires: jiff::Timestamp) -> String {
    let request = json!({
        "amount": sats.to_string(),
        "currency": "sat",
        "methodDetails": {"invoice": invoice, "paymentHash": hash.to_hex(), "network": "regtest"},
    });
    format!(
        "Payment id=\"{id}\", realm=\"purser-sandbox\", method=\"lightning\", intent=\"charge\", request=\"{}\", \
         expires=\"{expires}\"",
        URL_SAFE_NO_PAD.encode(request.to_string())
    )
}

/// The challenge id and preimage an `Authorization: Payment …` credential carries.
pub fn mpp_credential(authorization: &str) -> Option<(String, Preimage)> {
    let encoded = authorization.strip_prefix("Payment ")?;
    let json: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded.trim()).ok()?).ok()?;
    let id = json.pointer("/challenge/id")?.as_str()?.to_string();
    let preimage = Preimage::from_hex(json.pointer("/payload/preimage")?.as_str()?)?;
    Some((id, preimage))
}

/// The `Payment-Receipt` for a settled MPP charge.
pub fn mpp_receipt(hash: &PaymentHash) -> String {
    let receipt = json!({"status": "success", "method": "lightning", "reference": hash.to_hex(),
        "timestamp": jiff::Timestamp::now().to_string()});
    URL_SAFE_NO_PAD.encode(receipt.to_string())
}

/// An x402 Lightning `exact` offer for `invoice` of `sats`.
pub fn x402_offer(invoice: &str, sats: u64, path: &str) -> Value {
    json!({
        "scheme": "exact", "network": REGTEST, "amount": (sats * 1000).to_string(),
        "maxAmountRequired": (sats * 1000).to_string(), "asset": "BTC", "payTo": "anonymous",
        "resource": path, "maxTimeoutSeconds": 600,
        "extra": {"paymentMethod": "lightning", "invoice": invoice},
    })
}

/// An x402 offer on an EVM chain: USDC on Base, which Purser cannot pay.
pub fn evm_offer(path: &str) -> Value {
    json!({"scheme": "exact", "network": "eip155:8453", "amount": "10000", "maxAmountRequired": "10000",
        "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "payTo": "0x000000000000000000000000000000000000dEaD",
        "resource": path, "maxTimeoutSeconds": 60, "extra": {"name": "USD Coin", "version": "2"}})
}

/// The x402 v2 `PAYMENT-REQUIRED` header value offering `accepts`.
pub fn x402_required(accepts: Vec<Value>, url: &str) -> String {
    let doc = json!({"x402Version": 2, "error": "payment required",
        "resource": {"url": url, "description": "Purser sandbox", "mimeType": "application/json"}, "accepts": accepts});
    STANDARD.encode(doc.to_string())
}

/// The x402 v1 402 body offering `accepts`.
pub fn x402_v1_body(accepts: Vec<Value>) -> Value {
    json!({"x402Version": 1, "error": "X-PAYMENT header is required", "accepts": accepts})
}

/// The payment hash and invoice of a settled x402 proof (`PAYMENT-SIGNATURE` or `X-PAYMENT`) for at least
/// `sats`; `None` when it does not hold up.
pub fn x402_paid(value: &str, mint: &Mint, sats: u64) -> Option<(PaymentHash, String)> {
    let json: Value = serde_json::from_slice(&STANDARD.decode(value.trim()).ok()?).ok()?;
    let invoice = json.pointer("/payload/invoice")?.as_str()?;
    if let Some(accepted) = json.pointer("/accepted/extra/invoice").and_then(Value::as_str)
        && accepted != invoice
    {
        return None;
    }
    let hash = crate::invoice::read(invoice).ok()?.payment_hash;
    if let Some(pre) = json.pointer("/payload/preimage").and_then(Value::as_str)
        && !Preimage::from_hex(pre).is_some_and(|p| p.matches(&hash))
    {
        return None;
    }
    let enough = mint.amount(&hash).is_some_and(|a| a.0 >= sats * 1000);
    (enough && mint.is_settled(&hash)).then(|| (hash, invoice.to_string()))
}

/// The x402 `PAYMENT-RESPONSE` for a settled invoice.
pub fn x402_response(invoice: &str) -> String {
    let doc = json!({"success": true, "transaction": invoice, "network": REGTEST, "payer": "anonymous"});
    STANDARD.encode(doc.to_string())
}
