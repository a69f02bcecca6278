//! L402 and LSAT `WWW-Authenticate` challenges: `macaroon=` (and the newer `version="0", token=`) with an
//! `invoice=`. L402 is preferred when a server offers both; the `LSAT` scheme is kept for the proof only when
//! the server offered nothing else. A challenge saying `macaroon="none"` (or naming a `payment_hash`, or whose
//! body gives `payment_hints`) is the hash-only variant: the retry carries the invoice's payment hash where the
//! body's `payment_hints` say. A challenge with no token and none of those is broken, and is not paid.

use super::json_body::{self, HashPlacement};
use super::{AuthChallenge, ChallengeKind, Error, PaymentChallenge, ProofForm, Result, parse_auth_params};
use crate::units::PaymentHash;

/// Reads L402/LSAT challenges from `WWW-Authenticate` values alone.
pub fn from_www_authenticate(values: &[&str]) -> Result<PaymentChallenge> {
    let all: Vec<AuthChallenge> = values.iter().flat_map(|v| parse_auth_params(v)).collect();
    from_challenges(&all, b"")
}

/// Reads the L402/LSAT challenge among `all`; `body` supplies `payment_hints` for the hash-only variant.
pub fn from_challenges(all: &[AuthChallenge], body: &[u8]) -> Result<PaymentChallenge> {
    let pick = |name: &str| all.iter().find(|c| c.scheme.eq_ignore_ascii_case(name));
    let (challenge, kind, scheme) = match (pick("L402"), pick("LSAT")) {
        (Some(c), _) => (c, ChallengeKind::L402, "L402"),
        (None, Some(c)) => (c, ChallengeKind::Lsat, "LSAT"),
        (None, None) => return Err(Error::NoChallenge),
    };
    let invoice = challenge.param("invoice").filter(|v| !v.is_empty()).ok_or(Error::MissingInvoice(scheme))?;
    let token = challenge.param("macaroon").or_else(|| challenge.param("token")).filter(|v| !v.is_empty());
    let token = match token {
        Some(t) if !t.eq_ignore_ascii_case("none") => t,
        Some(_) => return hash_only(challenge, invoice, body),
        None if challenge.param("payment_hash").is_some() || body_says_hash_only(body) => {
            return hash_only(challenge, invoice, body);
        }
        // No token and nothing saying the hash is the proof: a broken challenge, not paid for a guess.
        None => return Err(Error::MissingToken(scheme)),
    };
    super::usable_token(token)?;
    Ok(PaymentChallenge::new(kind, invoice, ProofForm::Authorization { scheme, token: token.to_string() }))
}

/// A body naming the payment hash or where it goes (`payment_hash`, `payment_hints`).
fn body_says_hash_only(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|b| b.get("payment_hints").is_some() || b.get("payment_hash").is_some_and(|h| h.is_string()))
}

fn hash_only(challenge: &AuthChallenge, invoice: &str, body: &[u8]) -> Result<PaymentChallenge> {
    let body: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let named = challenge
        .param("payment_hash")
        .or_else(|| body.as_ref().and_then(|b| b.get("payment_hash")).and_then(|v| v.as_str()));
    let payment_hash = match named {
        Some(h) => Some(PaymentHash::from_hex(h).ok_or(Error::BadPaymentHash)?),
        None => None,
    };
    let placement = match body.as_ref().and_then(|b| b.get("payment_hints")) {
        Some(hints) => json_body::placement(Some(hints))?,
        None => HashPlacement::Header("X-Payment-Hash".into()),
    };
    let mut c = PaymentChallenge::new(ChallengeKind::HashOnly, invoice, ProofForm::PaymentHash(placement));
    c.payment_hash = payment_hash;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macaroon_none_is_hash_only_with_the_bodys_hints() {
        let body = br#"{"payment_hints":{"payment_hash_in":"query","name":"ph"}}"#;
        let all = parse_auth_params(r#"L402 macaroon="none", invoice="lnbcrt1""#);
        let c = from_challenges(&all, body).unwrap();
        assert_eq!(c.kind, ChallengeKind::HashOnly);
        assert_eq!(c.proof, ProofForm::PaymentHash(HashPlacement::Query("ph".into())));
        let none = from_challenges(&parse_auth_params(r#"L402 macaroon="none", invoice="lnbcrt1""#), b"").unwrap();
        assert_eq!(none.proof, ProofForm::PaymentHash(HashPlacement::Header("X-Payment-Hash".into())));
        // No token and no sign that the hash is the proof: broken, not paid for a guess.
        let bare = parse_auth_params(r#"L402 invoice="lnbcrt1""#);
        assert_eq!(from_challenges(&bare, b"{}"), Err(Error::MissingToken("L402")));
        let hints = br#"{"payment_hints":{"payment_hash_in":"header"}}"#;
        assert_eq!(from_challenges(&bare, hints).unwrap().kind, ChallengeKind::HashOnly);
        // A token always wins over hints in the body.
        let with_token = parse_auth_params(r#"L402 macaroon="AgE", invoice="lnbcrt1""#);
        assert_eq!(from_challenges(&with_token, hints).unwrap().kind, ChallengeKind::L402);
        let bad = parse_auth_params(r#"L402 macaroon="none", invoice="lnbcrt1", payment_hash="zz""#);
        assert_eq!(from_challenges(&bad, b""), Err(Error::BadPaymentHash));
    }
}
