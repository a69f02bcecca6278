//! Putting the proof of payment on the retried request, where the challenge's dialect says it goes.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{HeaderName, Uri};

use crate::challenge::{HashPlacement, PaymentChallenge, ProofForm, mpp, x402};
use crate::units::{PaymentHash, Preimage};

/// The `Authorization` value for an L402/LSAT proof: `<scheme> <token>:<preimage, lowercase hex>`.
pub fn authorization(scheme: &str, token: &str, preimage: &Preimage) -> String {
    format!("{scheme} {token}:{}", preimage.to_hex())
}

/// The parts of a request a proof may change.
pub struct Retry {
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The `Authorization` value sent, when the proof is one that can be sent again (L402/LSAT tokens); it is
    /// then kept for reuse. MPP and x402 proofs answer one challenge: see `single_use`.
    pub authorization: Option<String>,
    /// An MPP or x402 proof as (header, value): kept for one more try only if the paid request is not
    /// delivered.
    pub single_use: Option<(&'static str, String)>,
}

/// The proof a payment yields, as it is sent and kept for the agent's next requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The header it goes in (lowercase).
    pub header: &'static str,
    pub value: String,
    /// It answers one challenge only (MPP, x402): kept for one more try of the same request, not for reuse.
    pub single_use: bool,
}

/// The proof `preimage` makes for `ch`, when it is one that goes in a header (a payment hash is not kept).
pub fn kept(ch: &PaymentChallenge, preimage: &Preimage) -> Option<Kept> {
    let (header, value, single_use) = match &ch.proof {
        ProofForm::Authorization { scheme, token } => ("authorization", authorization(scheme, token, preimage), false),
        ProofForm::PaymentHash(_) | ProofForm::Unchanged => return None,
        ProofForm::Mpp { challenge } => ("authorization", mpp::credential(challenge, &preimage.to_hex()), true),
        ProofForm::MppSession { challenge, return_invoice: Some(return_invoice), .. } => {
            let open = mpp::SessionAction::Open { return_invoice };
            ("authorization", mpp::session_credential(challenge, open, &preimage.to_hex()), true)
        }
        ProofForm::MppSession { return_invoice: None, .. } => return None,
        ProofForm::X402 { version, accepted, resource } => {
            let (name, value) =
                x402::payment_header(*version, accepted, resource.as_ref(), &ch.invoice, &preimage.to_hex());
            (name, value, true)
        }
    };
    HeaderValue::from_str(&value).is_ok().then_some(Kept { header, value, single_use })
}

pub fn apply(ch: &PaymentChallenge, hash: &PaymentHash, preimage: &Preimage, mut retry: Retry) -> Retry {
    if let ProofForm::PaymentHash(placement) = &ch.proof {
        place_hash(placement, &hash.to_hex(), &mut retry);
        return retry;
    }
    let Some(proof) = kept(ch, preimage) else { return retry };
    header_field(proof.header, &proof.value, &mut retry);
    if proof.single_use {
        retry.single_use = Some((proof.header, proof.value));
    } else {
        retry.authorization = Some(proof.value);
    }
    retry
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"))
}

fn place_hash(placement: &HashPlacement, hash: &str, retry: &mut Retry) {
    match placement {
        HashPlacement::Default if is_json(&retry.headers) => json_field("payment_hash", hash, retry),
        HashPlacement::Default => header_field("x-payment-hash", hash, retry),
        HashPlacement::JsonField(name) => json_field(name, hash, retry),
        HashPlacement::Header(name) => header_field(name, hash, retry),
        HashPlacement::Query(name) => {
            let pq = retry.uri.path_and_query().map_or("/", |p| p.as_str());
            let sep = if pq.contains('?') { '&' } else { '?' };
            let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
            let mut parts = retry.uri.clone().into_parts();
            if let Ok(new_pq) = format!("{pq}{sep}{encoded}={hash}").parse() {
                parts.path_and_query = Some(new_pq);
                if let Ok(uri) = Uri::from_parts(parts) {
                    retry.uri = uri;
                }
            }
        }
    }
}

fn header_field(name: &str, value: &str, retry: &mut Retry) {
    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
        retry.headers.insert(n, v);
    }
}

/// Adds the hash to the JSON object body; an empty body becomes `{name: hash}`; a body that is not a JSON
/// object gets the hash in `X-Payment-Hash` instead.
fn json_field(name: &str, hash: &str, retry: &mut Retry) {
    let mut object = if retry.body.is_empty() {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice::<serde_json::Value>(&retry.body) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return header_field("x-payment-hash", hash, retry),
        }
    };
    object.insert(name.to_string(), serde_json::Value::String(hash.to_string()));
    retry.body = Bytes::from(serde_json::Value::Object(object).to_string());
    retry.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(body: &str, ct: Option<&str>) -> Retry {
        let mut headers = HeaderMap::new();
        if let Some(ct) = ct {
            headers.insert(header::CONTENT_TYPE, ct.parse().unwrap());
        }
        Retry {
            uri: "http://h/p?a=1".parse().unwrap(),
            headers,
            body: Bytes::from(body.to_string()),
            authorization: None,
            single_use: None,
        }
    }

    const PRE: Preimage = Preimage([1; 32]);

    fn challenge(proof: ProofForm) -> PaymentChallenge {
        PaymentChallenge {
            kind: crate::challenge::ChallengeKind::L402,
            invoice: "lnbc1".into(),
            payment_hash: None,
            proof,
            stated_amount_msat: None,
            expires_at_unix: None,
            quoted_msat: None,
        }
    }

    #[test]
    fn l402_authorization_uses_lowercase_hex() {
        let form = ProofForm::Authorization { scheme: "LSAT", token: "mac".into() };
        let out = apply(&challenge(form), &PRE.payment_hash(), &PRE, retry("", None));
        let want = format!("LSAT mac:{}", "01".repeat(32));
        assert_eq!(out.headers["authorization"], want.as_str());
        assert_eq!(out.authorization.as_deref(), Some(want.as_str()));
    }

    #[test]
    fn hash_goes_where_asked() {
        let hash = PRE.payment_hash();
        let hex = hash.to_hex();
        let json = apply(
            &challenge(ProofForm::PaymentHash(HashPlacement::Default)),
            &hash,
            &PRE,
            retry(r#"{"q":1}"#, Some("application/json")),
        );
        let v: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
        assert_eq!(v["payment_hash"], hex.as_str());
        assert_eq!(v["q"], 1);
        let plain = apply(&challenge(ProofForm::PaymentHash(HashPlacement::Default)), &hash, &PRE, retry("", None));
        assert_eq!(plain.headers["x-payment-hash"], hex.as_str());
        let q =
            apply(&challenge(ProofForm::PaymentHash(HashPlacement::Query("ph".into()))), &hash, &PRE, retry("", None));
        assert_eq!(q.uri.to_string(), format!("http://h/p?a=1&ph={hex}"));
        let field = apply(
            &challenge(ProofForm::PaymentHash(HashPlacement::JsonField("hash".into()))),
            &hash,
            &PRE,
            retry("", None),
        );
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&field.body).unwrap()["hash"], hex.as_str());
    }
}
