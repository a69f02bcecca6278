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
//!
//! The `session` intent (`draft-lightning-session-00`) asks for a deposit: its `request` decodes to
//! `{"amount": "<sats per call>", "currency": "sat", "depositInvoice": "lnbc…", "paymentHash": "…",
//! "depositAmount": "<sats>", "idleTimeout": "<s>"}`. The deposit's preimage opens the session (with an
//! amountless `returnInvoice` for the refund), then proves each call drawn from it (`bearer`, the session's
//! id being the deposit's payment hash), and closes it (`close`): see [`session_credential`].

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
    if method.eq_ignore_ascii_case("lightning") && intent.eq_ignore_ascii_case("session") {
        return read_session(c);
    }
    if !method.eq_ignore_ascii_case("lightning") || !intent.eq_ignore_ascii_case("charge") {
        return Err(Error::UnsupportedScheme(format!("MPP method `{method}`, intent `{intent}`")));
    }
    let request = c.param("request").ok_or_else(|| Error::Malformed(WHAT, "no `request` parameter".into()))?;
    let request = super::decode_json(request, WHAT)?;
    let details = request.get("methodDetails").unwrap_or(&Value::Null);
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let invoice = text(details, "invoice").or_else(|| text(&request, "invoice")).ok_or(Error::MissingInvoice(WHAT))?;
    let mut out = PaymentChallenge::new(ChallengeKind::Mpp, &invoice, ProofForm::Mpp { challenge: echo(c) });
    if let Some(h) = text(details, "paymentHash").or_else(|| text(details, "payment_hash")) {
        out.payment_hash = Some(PaymentHash::from_hex(&h).ok_or(Error::BadPaymentHash)?);
    }
    out.stated_amount_msat = amount_msat(&request)?;
    out.expires_at_unix = expires(c)?;
    Ok(out)
}

fn echo(c: &AuthChallenge) -> Map<String, Value> {
    c.params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()
}

/// A session challenge: the deposit is the invoice to pay, `depositAmount` what it must ask, `amount` the
/// price of each call drawn.
fn read_session(c: &AuthChallenge) -> Result<PaymentChallenge> {
    const WHAT: &str = "MPP session";
    let request = c.param("request").ok_or_else(|| Error::Malformed(WHAT, "no `request` parameter".into()))?;
    let request = super::decode_json(request, WHAT)?;
    let text = |k: &str| request.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let invoice = text("depositInvoice").ok_or(Error::MissingInvoice(WHAT))?;
    let unit_msat = amount_msat(&request)?
        .filter(|m| *m > 0)
        .ok_or_else(|| Error::Malformed(WHAT, "no price per call (`amount`)".into()))?;
    let mut out = PaymentChallenge::new(
        ChallengeKind::MppSession,
        &invoice,
        ProofForm::MppSession { challenge: echo(c), unit_msat, return_invoice: None },
    );
    let hash = text("paymentHash").ok_or_else(|| Error::Malformed(WHAT, "no `paymentHash`".into()))?;
    out.payment_hash = Some(PaymentHash::from_hex(&hash).ok_or(Error::BadPaymentHash)?);
    let mut deposit = request.clone();
    if let Some(obj) = deposit.as_object_mut() {
        obj.insert("amount".into(), request.get("depositAmount").cloned().unwrap_or(Value::Null));
    }
    out.stated_amount_msat = amount_msat(&deposit)?;
    if out.stated_amount_msat.is_some_and(|d| d < unit_msat) {
        return Err(Error::Malformed(WHAT, "the deposit is smaller than the price of one call".into()));
    }
    out.expires_at_unix = expires(c)?;
    Ok(out)
}

fn expires(c: &AuthChallenge) -> Result<Option<u64>> {
    let Some(expires) = c.param("expires") else { return Ok(None) };
    let at: jiff::Timestamp =
        expires.parse().map_err(|e| Error::Malformed(WHAT, format!("`expires` is not an RFC 3339 time: {e}")))?;
    Ok(Some(u64::try_from(at.as_second()).unwrap_or(0)))
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

/// What a session credential does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAction<'a> {
    /// Opens the session with the deposit's preimage and the invoice the refund goes to.
    Open { return_invoice: &'a str },
    /// Draws one call's price from the session.
    Bearer,
    /// Ends the session: the server returns what is left to the open's return invoice.
    Close,
}

/// The `Authorization` value for a session action, answering the challenge whose parameters are
/// `challenge`; `preimage_hex` is the deposit's, whose payment hash is the session's id.
pub fn session_credential(challenge: &Map<String, Value>, action: SessionAction<'_>, preimage_hex: &str) -> String {
    use base64::Engine;
    let session_id = crate::units::Preimage::from_hex(preimage_hex).map(|p| p.payment_hash().to_hex());
    let payload = match action {
        SessionAction::Open { return_invoice } => {
            serde_json::json!({"action": "open", "preimage": preimage_hex, "returnInvoice": return_invoice})
        }
        SessionAction::Bearer => {
            serde_json::json!({"action": "bearer", "sessionId": session_id, "preimage": preimage_hex})
        }
        SessionAction::Close => {
            serde_json::json!({"action": "close", "sessionId": session_id, "preimage": preimage_hex})
        }
    };
    let json = serde_json::json!({"challenge": challenge, "payload": payload});
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

    fn session_header(request: &Value) -> String {
        let req = URL_SAFE_NO_PAD.encode(request.to_string());
        format!(
            r#"Payment id="s1", realm="api", method="lightning", intent="session", request="{req}", expires="2026-11-22T10:00:00Z""#
        )
    }

    /// The request of `draft-lightning-session-00` (tempoxyz/mpp-specs 2565c6f5), as Aperture writes it.
    #[test]
    fn reads_a_session_deposit_and_its_price_per_call() {
        let hash = "ab".repeat(32);
        let req = serde_json::json!({"amount": "3", "currency": "sat", "depositInvoice": "lnbcrt1",
            "paymentHash": hash, "depositAmount": "300", "idleTimeout": "300"});
        let c = from_challenges(&parse_auth_params(&session_header(&req))).remove(0).unwrap();
        assert_eq!(
            (c.kind, c.invoice.as_str(), c.stated_amount_msat),
            (ChallengeKind::MppSession, "lnbcrt1", Some(300_000))
        );
        assert_eq!(c.payment_hash.map(|h| h.to_hex()), Some(hash));
        let ProofForm::MppSession { challenge, unit_msat, return_invoice } = &c.proof else { panic!() };
        assert_eq!((*unit_msat, return_invoice.as_deref()), (3_000, None));
        let pre = "01".repeat(32);
        let open =
            credential_json(&session_credential(challenge, SessionAction::Open { return_invoice: "lnbcrt0" }, &pre));
        assert_eq!(open["payload"], serde_json::json!({"action": "open", "preimage": pre, "returnInvoice": "lnbcrt0"}));
        assert_eq!(open["challenge"]["id"], "s1");
        let bearer = credential_json(&session_credential(challenge, SessionAction::Bearer, &pre));
        let id = crate::units::Preimage([1; 32]).payment_hash().to_hex();
        assert_eq!(bearer["payload"], serde_json::json!({"action": "bearer", "sessionId": id, "preimage": pre}));
        let close = credential_json(&session_credential(challenge, SessionAction::Close, &pre));
        assert_eq!(close["payload"]["action"], "close");
    }

    #[test]
    fn a_session_without_a_price_hash_or_room_for_one_call_is_malformed() {
        let hash = "ab".repeat(32);
        for bad in [
            serde_json::json!({"currency": "sat", "depositInvoice": "lnbcrt1", "paymentHash": hash}),
            serde_json::json!({"amount": "3", "depositInvoice": "lnbcrt1"}),
            serde_json::json!({"amount": "30", "depositInvoice": "lnbcrt1", "paymentHash": hash, "depositAmount": "10"}),
        ] {
            let got = from_challenges(&parse_auth_params(&session_header(&bad))).remove(0);
            assert!(matches!(got, Err(Error::Malformed("MPP session", _))), "{bad}: {got:?}");
        }
        let none = serde_json::json!({"amount": "3", "paymentHash": hash});
        let got = from_challenges(&parse_auth_params(&session_header(&none))).remove(0);
        assert_eq!(got, Err(Error::MissingInvoice("MPP session")));
    }

    /// Aperture offers both intents on one 402 (in one header, comma-joined, as its vectors note): the
    /// one-time charge is paid, parking nothing at the API.
    #[test]
    fn a_charge_offered_beside_a_session_is_preferred() {
        let charge = serde_json::json!({"amount": "3", "currency": "sat", "methodDetails": {"invoice": "lnbc1"}});
        let session = serde_json::json!({"amount": "3", "currency": "sat", "depositInvoice": "lnbc2",
            "paymentHash": "ab".repeat(32), "depositAmount": "30"});
        let both = format!("{}, {}", session_header(&session), header(&charge, ""));
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::WWW_AUTHENTICATE, both.parse().unwrap());
        let chosen = super::super::parse(&headers, b"").unwrap();
        assert_eq!((chosen.kind, chosen.invoice.as_str()), (ChallengeKind::Mpp, "lnbc1"));
    }

    fn credential_json(value: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(value.strip_prefix("Payment ").unwrap()).unwrap()).unwrap()
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
