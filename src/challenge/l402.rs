//! L402 and LSAT `WWW-Authenticate` challenges: `macaroon=` (and the newer `version="0", token=`) with an
//! `invoice=`. L402 is preferred when a server offers both; the `LSAT` scheme is kept for the proof only when
//! the server offered nothing else. A challenge without a token (`macaroon="none"`, or none at all) is the
//! hash-only variant: the retry carries the invoice's payment hash where the body's `payment_hints` say.

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
    let token = challenge
        .param("macaroon")
        .or_else(|| challenge.param("token"))
        .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("none"));
    let Some(token) = token else {
        return hash_only(challenge, invoice, body);
    };
    super::usable_token(token)?;
    Ok(PaymentChallenge::new(kind, invoice, ProofForm::Authorization { scheme, token: token.to_string() }))
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
        let bare = from_challenges(&parse_auth_params(r#"L402 invoice="lnbcrt1""#), b"").unwrap();
        assert_eq!(bare.proof, ProofForm::PaymentHash(HashPlacement::Header("X-Payment-Hash".into())));
        let bad = parse_auth_params(r#"L402 macaroon="none", invoice="lnbcrt1", payment_hash="zz""#);
        assert_eq!(from_challenges(&bad, b""), Err(Error::BadPaymentHash));
    }
}
