//! Turning a `402 Payment Required` response into one normalised [`PaymentChallenge`].
//!
//! Dialects read here: L402 and LSAT `WWW-Authenticate` challenges (`macaroon=` or `version=`/`token=`), and
//! the JSON-body form (`invoice`/`payment_request`, `payment_hash`, optional `macaroon`/`token`, optional
//! `payment_hints`). A header challenge wins over the body when both are present.

mod auth_params;
mod json_body;

pub use auth_params::{AuthChallenge, parse as parse_auth_params};
pub use json_body::HashPlacement;

use http::HeaderMap;

use crate::units::PaymentHash;

/// Which form the challenge came in; stored on the ledger row and shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeKind {
    /// `WWW-Authenticate: L402 …`
    L402,
    /// `WWW-Authenticate: LSAT …` (the legacy name, when the server offered only that)
    Lsat,
    /// A JSON body carrying the invoice and a token (proved with `Authorization: L402`).
    JsonL402,
    /// A JSON body carrying the invoice and its payment hash (proved by sending the hash back).
    JsonPaymentHash,
}

impl ChallengeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeKind::L402 => "l402",
            ChallengeKind::Lsat => "lsat",
            ChallengeKind::JsonL402 => "json_l402",
            ChallengeKind::JsonPaymentHash => "json_payment_hash",
        }
    }
}

/// How the retried request proves the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofForm {
    /// `Authorization: <scheme> <token>:<preimage hex>`; `scheme` is `L402` or `LSAT`.
    Authorization { scheme: &'static str, token: String },
    /// The payment hash sent back where the server asked for it.
    PaymentHash(HashPlacement),
}

/// One payable challenge, whatever dialect it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentChallenge {
    pub kind: ChallengeKind,
    /// The BOLT11 string as the server sent it (checked later, in [`crate::invoice`]).
    pub invoice: String,
    /// The payment hash the challenge names apart from the invoice, which must then match it.
    pub payment_hash: Option<PaymentHash>,
    pub proof: ProofForm,
}

/// Why a 402 could not be read as a payable challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the 402 response carries no Lightning payment challenge Purser can read")]
    NoChallenge,
    #[error("the {0} challenge has no invoice")]
    MissingInvoice(&'static str),
    #[error("the {0} challenge has no macaroon or token")]
    MissingToken(&'static str),
    #[error("the challenge's payment_hash is not 32 bytes of hex")]
    BadPaymentHash,
    #[error("the challenge's token cannot be sent back in an Authorization header")]
    UnusableToken,
    #[error("the challenge's payment_hints name a place the payment hash cannot go: {0}")]
    BadHint(String),
}

/// A token Purser can send back as `Authorization: L402 <token>:<preimage>`: visible ASCII, no spaces.
/// Checked before paying, so a payment is never made for a proof that cannot be delivered.
pub(crate) fn usable_token(token: &str) -> Result<()> {
    if token.bytes().all(|b| b.is_ascii_graphic()) { Ok(()) } else { Err(Error::UnusableToken) }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Reads the challenge of a 402 from its headers and (already bounded) body.
pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<PaymentChallenge> {
    let values: Vec<&str> =
        headers.get_all(http::header::WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok()).collect();
    match from_www_authenticate(&values) {
        Err(Error::NoChallenge) => json_body::parse(body),
        other => other,
    }
}

/// Reads L402/LSAT challenges from `WWW-Authenticate` values. L402 is preferred when a server offers both;
/// the `LSAT` scheme is kept for the proof only when the server offered nothing else.
pub fn from_www_authenticate(values: &[&str]) -> Result<PaymentChallenge> {
    let all: Vec<AuthChallenge> = values.iter().flat_map(|v| parse_auth_params(v)).collect();
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
        .filter(|v| !v.is_empty())
        .ok_or(Error::MissingToken(scheme))?;
    usable_token(token)?;
    Ok(PaymentChallenge {
        kind,
        invoice: invoice.to_string(),
        payment_hash: None,
        proof: ProofForm::Authorization { scheme, token: token.to_string() },
    })
}

#[cfg(test)]
mod vectors;
