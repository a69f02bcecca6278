//! The JSON-body form of a 402: `{"invoice" | "payment_request": "lnbc…", "payment_hash": "…"}`, with an
//! optional `macaroon`/`token` (then proved like L402) and optional `payment_hints` saying where the retry
//! carries the payment hash:
//!
//! ```json
//! {"payment_hints": {"payment_hash_in": "body" | "header" | "query", "name": "payment_hash"}}
//! ```
//!
//! Without hints the hash goes into the JSON body field `payment_hash` for JSON requests, and into the
//! `X-Payment-Hash` header otherwise.

use serde_json::Value;

use super::{ChallengeKind, Error, PaymentChallenge, ProofForm, Result};
use crate::units::PaymentHash;

/// Where the retried request carries the payment hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashPlacement {
    /// A top-level field of the request's JSON body.
    JsonField(String),
    /// A request header.
    Header(String),
    /// A query argument.
    Query(String),
    /// Not said by the server: the JSON field `payment_hash` for JSON requests, else `X-Payment-Hash`.
    Default,
}

pub fn parse(body: &[u8]) -> Result<PaymentChallenge> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err(Error::NoChallenge);
    };
    let text = |k: &str| map.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let Some(invoice) = text("invoice").or_else(|| text("payment_request")) else {
        return Err(Error::NoChallenge);
    };
    let payment_hash = match text("payment_hash") {
        Some(h) => Some(PaymentHash::from_hex(h).ok_or(Error::BadPaymentHash)?),
        None => None,
    };
    let token = text("macaroon").or_else(|| text("token")).filter(|t| *t != "none");
    let (kind, proof) = match token {
        Some(t) => {
            super::usable_token(t)?;
            (ChallengeKind::JsonL402, ProofForm::Authorization { scheme: "L402", token: t.to_string() })
        }
        None => {
            if payment_hash.is_none() {
                return Err(Error::MissingToken("JSON"));
            }
            (ChallengeKind::JsonPaymentHash, ProofForm::PaymentHash(placement(map.get("payment_hints"))?))
        }
    };
    let mut c = PaymentChallenge::new(kind, invoice, proof);
    c.payment_hash = payment_hash;
    Ok(c)
}

pub(super) fn placement(hints: Option<&Value>) -> Result<HashPlacement> {
    let Some(hints) = hints else {
        return Ok(HashPlacement::Default);
    };
    let name = |default: &str| hints.get("name").and_then(Value::as_str).unwrap_or(default).to_string();
    Ok(match hints.get("payment_hash_in").and_then(Value::as_str) {
        Some("body") => HashPlacement::JsonField(name("payment_hash")),
        Some("header") => {
            let header = name("X-Payment-Hash");
            if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                return Err(Error::BadHint(format!("`{header}` is not a header name")));
            }
            HashPlacement::Header(header)
        }
        Some("query") => HashPlacement::Query(name("payment_hash")),
        _ => HashPlacement::Default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "bad9b0dc007683ab4add1f80cea8ce6d1b000b1828d93cf8e01e858795e3f2da";

    #[test]
    fn hash_only_body_with_hints() {
        let body = format!(
            r#"{{"invoice":"lnbcrt1","payment_hash":"{HASH}","payment_hints":{{"payment_hash_in":"header","name":"X-Hash"}}}}"#
        );
        let c = parse(body.as_bytes()).unwrap();
        assert_eq!(c.kind, ChallengeKind::JsonPaymentHash);
        assert_eq!(c.payment_hash.unwrap().to_hex(), HASH);
        assert_eq!(c.proof, ProofForm::PaymentHash(HashPlacement::Header("X-Hash".into())));
    }

    #[test]
    fn payment_request_field_and_default_placement() {
        let body = format!(r#"{{"payment_request":"lnbc1","payment_hash":"{HASH}"}}"#);
        let c = parse(body.as_bytes()).unwrap();
        assert_eq!(c.invoice, "lnbc1");
        assert_eq!(c.proof, ProofForm::PaymentHash(HashPlacement::Default));
    }

    #[test]
    fn malformed_bodies() {
        assert_eq!(parse(b"not json"), Err(Error::NoChallenge));
        assert_eq!(parse(b"[1,2]"), Err(Error::NoChallenge));
        assert_eq!(parse(br#"{"error":"payment required"}"#), Err(Error::NoChallenge));
        assert_eq!(parse(br#"{"invoice":"lnbc1","payment_hash":"zz"}"#), Err(Error::BadPaymentHash));
        assert_eq!(parse(br#"{"invoice":"lnbc1"}"#), Err(Error::MissingToken("JSON")));
        let spaced = format!(r#"{{"invoice":"lnbc1","payment_hash":"{HASH}","macaroon":"a b"}}"#);
        assert_eq!(parse(spaced.as_bytes()), Err(Error::UnusableToken));
        let bad_header = format!(
            r#"{{"invoice":"lnbc1","payment_hash":"{HASH}","payment_hints":{{"payment_hash_in":"header","name":"x y"}}}}"#
        );
        assert!(matches!(parse(bad_header.as_bytes()), Err(Error::BadHint(_))));
    }
}
