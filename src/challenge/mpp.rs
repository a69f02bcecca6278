//! MPP, the `Payment` HTTP authentication scheme, with the Lightning `charge` intent:
//!
//! ```text
//! WWW-Authenticate: Payment id="…", realm="…", method="lightning", intent="charge",
//!                   request="<b64url JSON>", expires="2026-11-22T10:00:00Z"
//! ```
//!
//! `request` decodes to `{"amount": "21", "currency": "sat", "methodDetails": {"invoice": "lnbc…",
//! "paymentHash": "…"}}`. `amount` is in sats unless `currency` says `msat`. The retry carries
//! `Authorization: Payment <b64url JSON {"challenge": {the parameters echoed}, "payload": {"preimage": hex}}>`,
//! and the server may answer with a `Payment-Receipt` header. Challenges for other methods or intents are
//! offers Purser cannot pay.

use serde_json::{Map, Value};

use super::{AuthChallenge, ChallengeKind, Error, PaymentChallenge, ProofForm, Result};
use crate::units::PaymentHash;

const WHAT: &str = "MPP";

/// One result per `Payment` challenge among `all`.
pub fn from_challenges(all: &[AuthChallenge]) -> Vec<Result<PaymentChallenge>> {
    all.iter().filter(|c| c.scheme.eq_ignore_ascii_case("Payment")).map(read).collect()
}

fn read(c: &AuthChallenge) -> Result<PaymentChallenge> {
    let method = c.param("method").unwrap_or_default();
    let intent = c.param("intent").unwrap_or("charge");
    if !method.eq_ignore_ascii_case("lightning") || !intent.eq_ignore_ascii_case("charge") {
        return Err(Error::UnsupportedScheme(format!("MPP method `{method}`, intent `{intent}`")));
    }
    let request = c.param("request").ok_or_else(|| Error::Malformed(WHAT, "no `request` parameter".into()))?;
    let request = super::decode_json(request, WHAT)?;
    let details = request.get("methodDetails").unwrap_or(&Value::Null);
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let invoice = text(details, "invoice").or_else(|| text(&request, "invoice")).ok_or(Error::MissingInvoice(WHAT))?;
    let mut out = PaymentChallenge::new(
        ChallengeKind::Mpp,
        &invoice,
        ProofForm::Mpp { challenge: c.params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect() },
    );
    if let Some(h) = text(details, "paymentHash").or_else(|| text(details, "payment_hash")) {
        out.payment_hash = Some(PaymentHash::from_hex(&h).ok_or(Error::BadPaymentHash)?);
    }
    out.stated_amount_msat = amount_msat(&request)?;
    if let Some(expires) = c.param("expires") {
        let at: jiff::Timestamp =
            expires.parse().map_err(|e| Error::Malformed(WHAT, format!("`expires` is not an RFC 3339 time: {e}")))?;
        out.expires_at_unix = Some(u64::try_from(at.as_second()).unwrap_or(0));
    }
    Ok(out)
}

fn amount_msat(request: &Value) -> Result<Option<u64>> {
    let amount = match request.get("amount") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    let amount = amount.ok_or_else(|| Error::Malformed(WHAT, "`amount` is not a whole number".into()))?;
    let currency = request.get("currency").and_then(Value::as_str).unwrap_or("sat").to_ascii_lowercase();
    match currency.as_str() {
        "msat" | "msats" | "millisatoshi" => Ok(Some(amount)),
        "sat" | "sats" | "satoshi" => Ok(Some(amount.saturating_mul(1000))),
        other => Err(Error::Malformed(WHAT, format!("unknown currency `{other}`"))),
    }
}

/// The `Authorization` value proving payment of the challenge whose parameters are `challenge`.
pub fn credential(challenge: &Map<String, Value>, preimage_hex: &str) -> String {
    use base64::Engine;
    let json = serde_json::json!({"challenge": challenge, "payload": {"preimage": preimage_hex}});
    format!("Payment {}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string()))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::super::parse_auth_params;
    use super::*;

    fn header(request: &Value, extra: &str) -> String {
        let req = URL_SAFE_NO_PAD.encode(request.to_string());
        format!(r#"Payment id="c1", realm="api", method="lightning", intent="charge", request="{req}"{extra}"#)
    }

    #[test]
    fn reads_a_lightning_charge() {
        let req = serde_json::json!({"amount": "21", "currency": "sat", "methodDetails": {"invoice": "lnbcrt1"}});
        let got = from_challenges(&parse_auth_params(&header(&req, r#", expires="2026-11-22T10:00:00Z""#)));
        let c = got[0].clone().unwrap();
        assert_eq!(c.kind, ChallengeKind::Mpp);
        assert_eq!(c.invoice, "lnbcrt1");
        assert_eq!(c.stated_amount_msat, Some(21_000));
        assert_eq!(c.expires_at_unix, Some(1_795_341_600));
        let ProofForm::Mpp { challenge } = &c.proof else { panic!() };
        assert_eq!(challenge["id"], "c1");
        let cred = credential(challenge, "ab");
        let json: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cred.strip_prefix("Payment ").unwrap()).unwrap()).unwrap();
        assert_eq!(json["payload"]["preimage"], "ab");
        assert_eq!(json["challenge"]["request"], challenge["request"]);
    }

    #[test]
    fn other_methods_are_unsupported_and_bad_requests_malformed() {
        let tempo = parse_auth_params(r#"Payment id="x", method="tempo", intent="charge", request="e30""#);
        assert!(matches!(from_challenges(&tempo)[0], Err(Error::UnsupportedScheme(_))));
        let bad = parse_auth_params(r#"Payment id="x", method="lightning", intent="charge", request="%%%""#);
        assert!(matches!(from_challenges(&bad)[0], Err(Error::Malformed("MPP", _))));
        let msat = serde_json::json!({"amount": 1500, "currency": "msat", "methodDetails": {"invoice": "lnbc1"}});
        let c = from_challenges(&parse_auth_params(&header(&msat, ""))).remove(0).unwrap();
        assert_eq!(c.stated_amount_msat, Some(1500));
        let btc = serde_json::json!({"amount": 1, "currency": "BTC", "methodDetails": {"invoice": "lnbc1"}});
        assert!(matches!(from_challenges(&parse_auth_params(&header(&btc, "")))[0], Err(Error::Malformed(..))));
        let no_invoice = serde_json::json!({"amount": 1});
        assert_eq!(from_challenges(&parse_auth_params(&header(&no_invoice, "")))[0], Err(Error::MissingInvoice("MPP")));
        let late = header(&msat, r#", expires="tomorrow""#);
        assert!(matches!(from_challenges(&parse_auth_params(&late))[0], Err(Error::Malformed(..))));
    }
}
