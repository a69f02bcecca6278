//! Turning a `402 Payment Required` response into one normalised [`PaymentChallenge`].
//!
//! Dialects read here, strongest proof first (the order a 402 offering several is paid in):
//!
//! - [`l402`]: `WWW-Authenticate: L402 …` / `LSAT …` (`macaroon=`, or `version=`/`token=`), and the JSON-body
//!   form carrying a macaroon or token;
//! - [`mpp`]: `WWW-Authenticate: Payment … method="lightning", intent="charge", request="<b64url JSON>"`, and
//!   `intent="session"` (a deposit, then calls drawn from it);
//! - [`x402`]: the `PAYMENT-REQUIRED` header (v2) or JSON body (v1) with a Lightning `exact` offer;
//! - hash-only: an L402 header without a token (`macaroon="none"`), or a JSON body naming only the invoice's
//!   payment hash, proved by sending the hash back where the body's `payment_hints` say.
//!
//! - [`offers`]: the L402 offers form, a JSON body listing offers and where to ask the invoice of one; the
//!   payment flow asks for the invoice, then builds the challenge ([`PaymentChallenge::from_offer`]).
//!
//! Offers Purser cannot pay (x402 on EVM or Solana, MPP with another method) make
//! [`Error::UnsupportedScheme`]: the agent gets the 402 untouched and the ledger records the attempt.

mod auth_params;
pub mod caveats;
mod json_body;
pub mod l402;
pub mod mpp;
pub mod offers;
pub mod token_hash;
pub mod x402;

pub use auth_params::{AuthChallenge, parse as parse_auth_params};
pub use json_body::HashPlacement;
pub use l402::from_www_authenticate;

use base64::Engine;
use http::HeaderMap;

use crate::units::PaymentHash;

/// Which dialect the challenge came in; stored on the ledger row and shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeKind {
    /// `WWW-Authenticate: L402 …`
    L402,
    /// `WWW-Authenticate: LSAT …` (the legacy name, when the server offered only that)
    Lsat,
    /// A JSON body carrying the invoice and a token (proved with `Authorization: L402`).
    JsonL402,
    /// `WWW-Authenticate: Payment …` with `method="lightning"` (MPP).
    Mpp,
    /// `WWW-Authenticate: Payment … intent="session"`: a deposit paid once, calls drawn from it (MPP
    /// Lightning sessions).
    MppSession,
    /// An x402 Lightning `exact` offer (v2 header or v1 body).
    X402,
    /// An L402 header without a token: proved by sending the payment hash back.
    HashOnly,
    /// A JSON body carrying the invoice and its payment hash (proved by sending the hash back).
    JsonPaymentHash,
    /// An L402 offers body: the invoice of the chosen offer asked for, the request sent again unchanged.
    L402Offers,
    /// A top-up offer in an L402 offers body: credit bought at the API, which its next calls draw.
    L402TopUp,
}

impl ChallengeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeKind::L402 => "l402",
            ChallengeKind::Lsat => "lsat",
            ChallengeKind::JsonL402 => "json_l402",
            ChallengeKind::Mpp => "mpp",
            ChallengeKind::MppSession => "mpp_session",
            ChallengeKind::X402 => "x402",
            ChallengeKind::HashOnly => "hash_only",
            ChallengeKind::JsonPaymentHash => "json_payment_hash",
            ChallengeKind::L402Offers => "l402_offers",
            ChallengeKind::L402TopUp => "l402_top_up",
        }
    }

    /// The dialect a payment for `offer` is recorded in: a top-up's own, else the offers form's.
    pub fn of_offer(offer: &offers::Offer) -> ChallengeKind {
        match offer.kind {
            offers::OfferKind::TopUp => ChallengeKind::L402TopUp,
            _ => ChallengeKind::L402Offers,
        }
    }

    /// Whether a payment in the dialect named `kind` (as the ledger records it) parks money at the API (a
    /// session's deposit, a credit top-up): budgets on what is held at an API count such payments only.
    pub fn holds_at_api(kind: &str) -> bool {
        kind == ChallengeKind::MppSession.as_str() || kind == ChallengeKind::L402TopUp.as_str()
    }

    /// How strong the dialect's proof is; a 402 offering several is paid in the strongest.
    fn strength(self) -> u8 {
        match self {
            ChallengeKind::L402 | ChallengeKind::Lsat => 6,
            ChallengeKind::JsonL402 => 5,
            ChallengeKind::Mpp => 4,
            // A session parks a deposit at the API: a one-time charge offered beside it is preferred.
            ChallengeKind::MppSession => 3,
            ChallengeKind::X402 => 2,
            ChallengeKind::HashOnly
            | ChallengeKind::JsonPaymentHash
            | ChallengeKind::L402Offers
            | ChallengeKind::L402TopUp => 1,
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
    /// `Authorization: Payment <b64url JSON {challenge, payload: {preimage}}>`; `challenge` echoes the
    /// server's parameters.
    Mpp { challenge: serde_json::Map<String, serde_json::Value> },
    /// An MPP Lightning session's deposit: the challenge's parameters, the price of one call drawn from the
    /// deposit, and the amountless invoice the unspent deposit is returned to (made by the wallet before
    /// the deposit is paid). The open credential carries the deposit's preimage and that invoice.
    MppSession { challenge: serde_json::Map<String, serde_json::Value>, unit_msat: u64, return_invoice: Option<String> },
    /// `PAYMENT-SIGNATURE` (v2) or `X-PAYMENT` (v1): base64 JSON naming the accepted offer, the invoice and
    /// the preimage.
    X402 { version: u8, accepted: serde_json::Value, resource: Option<serde_json::Value> },
    /// Nothing: the request is sent again as it was, and the server knows the payment from the context token
    /// it gave with its offers (the L402 offers form).
    Unchanged,
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
    /// The amount the challenge states apart from the invoice (x402, MPP); the invoice must ask exactly this.
    pub stated_amount_msat: Option<u64>,
    /// When the challenge itself stops being payable (MPP `expires`), in seconds since the Unix epoch.
    pub expires_at_unix: Option<u64>,
    /// A price the 402's JSON body quotes beside a header challenge (`amount_sat`, `price_sats`,
    /// `amount_msat`…), or an offer's price in a currency as converted: the invoice must not ask more.
    pub quoted_msat: Option<u64>,
}

impl PaymentChallenge {
    fn new(kind: ChallengeKind, invoice: &str, proof: ProofForm) -> Self {
        PaymentChallenge {
            kind,
            invoice: invoice.to_string(),
            payment_hash: None,
            proof,
            stated_amount_msat: None,
            expires_at_unix: None,
            quoted_msat: None,
        }
    }
}

/// How much more than an offer's price in a currency, converted at Purser's rate, its invoice may ask.
pub const FIAT_OFFER_SLACK_PERCENT: u64 = 2;

impl PaymentChallenge {
    /// The challenge an offer makes once its invoice was asked for, `msat` being the offer's price: for an
    /// offer in sats the invoice must ask exactly that; for one in a currency (converted at Purser's rate) it
    /// may ask at most [`FIAT_OFFER_SLACK_PERCENT`] more, as the API converts at a rate of its own.
    pub fn from_offer(offer: &offers::Offer, invoice: &str, msat: u64) -> Self {
        let mut c = PaymentChallenge::new(ChallengeKind::of_offer(offer), invoice, ProofForm::Unchanged);
        match offer.msat() {
            Some(exact) => c.stated_amount_msat = Some(exact),
            None => c.quoted_msat = Some(msat.saturating_add(msat.saturating_mul(FIAT_OFFER_SLACK_PERCENT) / 100)),
        }
        c
    }
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
    #[error("the {0} challenge is malformed: {1}")]
    Malformed(&'static str, String),
    #[error("the 402 offers only payments Purser cannot make: {0}")]
    UnsupportedScheme(String),
}

impl Error {
    /// The reason code the ledger and the agent see.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::UnsupportedScheme(_) => "unsupported_scheme",
            _ => "malformed_challenge",
        }
    }

    /// The dialect to record for an unreadable challenge.
    pub fn kind_label(&self) -> &'static str {
        match self {
            Error::UnsupportedScheme(offer) if offer.starts_with("MPP") => "mpp",
            Error::UnsupportedScheme(_) => "x402",
            _ => "unreadable",
        }
    }
}

/// A token Purser can send back as `Authorization: L402 <token>:<preimage>`: visible ASCII, no spaces.
/// Checked before paying, so a payment is never made for a proof that cannot be delivered.
pub(crate) fn usable_token(token: &str) -> Result<()> {
    if token.bytes().all(|b| b.is_ascii_graphic()) { Ok(()) } else { Err(Error::UnusableToken) }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Decodes base64 in either alphabet, padded or not, as servers write it.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = s.trim();
    [URL_SAFE_NO_PAD, URL_SAFE, STANDARD, STANDARD_NO_PAD].iter().find_map(|e| e.decode(s).ok())
}

/// Decodes base64 JSON; `what` names the field in the error.
pub(crate) fn decode_json(s: &str, what: &'static str) -> Result<serde_json::Value> {
    let bytes = decode_base64(s).ok_or_else(|| Error::Malformed(what, "not base64".into()))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Malformed(what, format!("not JSON: {e}")))
}

/// Reads the challenge of a 402 from its headers and (already bounded) body. When several dialects are
/// offered, the payable one with the strongest proof wins; when none is payable, the first error that says
/// more than "no challenge" is returned.
pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<PaymentChallenge> {
    let mut found: Vec<Result<PaymentChallenge>> = Vec::new();
    let auth: Vec<&str> =
        headers.get_all(http::header::WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok()).collect();
    let challenges: Vec<AuthChallenge> = auth.iter().flat_map(|v| parse_auth_params(v)).collect();
    found.push(l402::from_challenges(&challenges, body));
    found.extend(mpp::from_challenges(&challenges));
    let required: Vec<&str> = headers.get_all("payment-required").iter().filter_map(|v| v.to_str().ok()).collect();
    found.extend(required.iter().map(|v| x402::from_header(v)));
    found.push(x402::from_body(body));
    found.push(json_body::parse(body));
    let mut chosen = choose(found)?;
    if chosen.stated_amount_msat.is_none() {
        chosen.quoted_msat = quoted_price(body);
    }
    Ok(chosen)
}

/// The price a JSON 402 body quotes, in msat, when it quotes one as a whole number. A quote in sats too large
/// for msat saturates: it never wraps around into a smaller price than the body states (the invoice is then
/// judged by its own amount, as always).
fn quoted_price(body: &[u8]) -> Option<u64> {
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    let whole = |k: &str| doc.get(k).and_then(serde_json::Value::as_u64);
    whole("amount_msat").or_else(|| whole("price_msat")).or_else(|| {
        ["amount_sat", "amount_sats", "price_sat", "price_sats"]
            .iter()
            .find_map(|k| whole(k))
            .map(|s| s.saturating_mul(1000))
    })
}

fn choose(found: Vec<Result<PaymentChallenge>>) -> Result<PaymentChallenge> {
    let mut best: Option<PaymentChallenge> = None;
    let mut error: Option<Error> = None;
    let mut unsupported: Option<Error> = None;
    for r in found {
        match r {
            Ok(c) => {
                if best.as_ref().is_none_or(|b| c.kind.strength() > b.kind.strength()) {
                    best = Some(c);
                }
            }
            Err(Error::NoChallenge) => {}
            Err(e @ Error::UnsupportedScheme(_)) => {
                unsupported.get_or_insert(e);
            }
            Err(e) => {
                error.get_or_insert(e);
            }
        }
    }
    match (best, error, unsupported) {
        (Some(c), _, _) => Ok(c),
        (None, Some(e), _) => Err(e),
        (None, None, Some(e)) => Err(e),
        (None, None, None) => Err(Error::NoChallenge),
    }
}

#[cfg(test)]
mod vectors;

#[cfg(test)]
mod quote_tests {
    #[test]
    fn a_quote_too_large_for_msat_saturates_instead_of_overflowing() {
        let body = format!(r#"{{"price_sats": {}}}"#, u64::MAX);
        assert_eq!(super::quoted_price(body.as_bytes()), Some(u64::MAX));
        assert_eq!(super::quoted_price(br#"{"price_sats": 21}"#), Some(21_000));
        assert_eq!(super::quoted_price(br#"{"amount_msat": 5}"#), Some(5));
    }
}
