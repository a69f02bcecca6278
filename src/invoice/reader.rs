//! BOLT 11 as a payer reads it: the reader rules of the specification (lightning/bolts
//! `11-payment-encoding.md` and `09-features.md`, revision a3772650 of 2026-03-23), applied to
//! `lightning-invoice`'s syntactic parse. Purser does not route payments, the wallet does, so what
//! `lightning-invoice` demands only for routing is not demanded here.
//!
//! `lightning-invoice`'s own semantic check (`Bolt11Invoice::from_signed`) goes beyond the reader rules, and
//! each difference is decided here on purpose:
//!
//! - **A missing feature field** (`9`): refused there, since LDK needs the `payment_secret` bit to send.
//!   BOLT 11 does not ask a reader to refuse it, and invoices LNbits mints have none: **accepted**.
//! - **The `payment_secret` feature bit not set** while an `s` field is present: refused there; a routing
//!   detail for the wallet: **accepted**. So are features set without the ones they depend on (`basic_mpp`
//!   without `payment_secret`): the wallet's to judge.
//! - **Unknown odd (optional) feature bits**: ignored, as BOLT 11 says.
//! - **Unknown even (required) feature bits**: BOLT 11 says to fail the payment and name the bit: **refused**,
//!   with a reason of their own ([`Flaw::UnknownRequiredFeature`] → `unsupported_invoice_feature`). Known
//!   are the bits BOLT 9 assigns to invoices ([`KNOWN_REQUIRED_BITS`]); `lightning-types`' list differs (it
//!   lacks route blinding and attribution data, and has trampoline, which BOLT 9 does not), so the list is
//!   Purser's own.
//! - **High-S signatures with public-key recovery** (no `n` field): BOLT 11 says a reader must accept them
//!   (its vector "Public-key recovery with high-S signature"); secp256k1 recovery does: **accepted**.
//! - **High-S signatures with an `n` field**: BOLT 11 says to fail; verification against `n` accepts low-S
//!   only: **refused**.
//! - **`p`, `h`, `s` or `n` of the wrong length**: the requirements say to fail the payment, but the
//!   specification's own vector "Same, but including fields which must be ignored" carries such fields and
//!   is valid, and LND, CLN and `lightning-invoice` skip them. Purser reads what the wallet reads:
//!   **skipped** (a lone `p` of the wrong length leaves no payment hash, which is refused).
//! - **No `s` field, no `p` field, no description or both kinds of description, more than one `p` or `s`**:
//!   reader rules: **refused**.
//! - **An amount in pico-bitcoin that is not a whole millisatoshi**: a reader rule: **refused**.
//! - **Non-minimal `c`, `x` or `9` lengths**: BOLT 11 says a reader *should* treat them as invalid; they
//!   change no amount, hash or expiry, so the wallet judges them: **accepted**.
//! - **The `h` description hash**: a reader checks it against a description it was given; a 402 gives none,
//!   so there is nothing to compare.
//!
//! The signature is checked over the fields as `lightning-invoice` encodes them again, which is the invoice
//! as written whenever it was written minimally, as wallets and servers write invoices. An invoice written
//! otherwise and naming its payee (`n`) is refused, the safe way; without `n` the recovered payee is then
//! another key, and nothing here decides by the payee.

use std::str::FromStr;
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use lightning_invoice::{Currency, DEFAULT_EXPIRY_TIME, SignedRawBolt11Invoice, TaggedField};

use crate::units::{Msats, PaymentHash};

/// An invoice read by BOLT 11's reader rules, with what the money checks need.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub payment_hash: PaymentHash,
    /// `None` for an invoice that leaves the amount to the payer.
    pub amount: Option<Msats>,
    pub currency: Currency,
    /// The payee: the `n` field (which the signature was verified against), or the key the signature
    /// recovers.
    pub payee: PublicKey,
    /// When it was made, as time since the Unix epoch.
    pub created_at: Duration,
    /// How long after `created_at` it can be paid (BOLT 11's default of an hour when it says nothing).
    pub expiry: Duration,
    /// The private routes (`r` fields) it names, each a list of hops' fees.
    pub route_hints: Vec<Vec<lightning_invoice::RoutingFees>>,
}

impl Decoded {
    /// Seconds since the Unix epoch after which the invoice can no longer be paid.
    pub fn expires_at_unix(&self) -> u64 {
        self.created_at.as_secs().saturating_add(self.expiry.as_secs())
    }

    /// Whether it can no longer be paid at `at` (time since the Unix epoch).
    pub fn expired_at(&self, at: Duration) -> bool {
        self.created_at.checked_add(self.expiry).is_some_and(|end| end < at)
    }
}

/// What makes an invoice one no payer may pay; each says which rule failed, in a person's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Flaw {
    #[error("it cannot be read as a BOLT11 invoice ({0})")]
    Unreadable(String),
    #[error("its signature does not match its contents")]
    BadSignature,
    #[error("its signature does not verify against the payee key it names (a high-S signature, or another key)")]
    BadSignatureForPayee,
    #[error("it names no payment hash")]
    NoPaymentHash,
    #[error("it names more than one payment hash")]
    SeveralPaymentHashes,
    #[error("it carries no description and no description hash")]
    NoDescription,
    #[error("it carries more than one description or description hash")]
    SeveralDescriptions,
    #[error("it carries no payment secret, which BOLT 11 requires")]
    NoPaymentSecret,
    #[error("it carries more than one payment secret")]
    SeveralPaymentSecrets,
    #[error("its amount is not a whole number of millisatoshis")]
    SubMillisatAmount,
    #[error("its amount is too large to be real")]
    AmountOverflow,
    #[error("it requires {}, which payers do not know", bits(.0))]
    UnknownRequiredFeature(Vec<u64>),
}

fn bits(bits: &[u64]) -> String {
    let list = bits.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    if bits.len() == 1 { format!("feature bit {list}") } else { format!("feature bits {list}") }
}

/// The required (even) feature bits BOLT 9 (revision a3772650) assigns to invoices, each with its odd
/// optional twin: `var_onion_optin`, `payment_secret`, `basic_mpp`, `option_route_blinding`,
/// `option_attribution_data`, `option_payment_metadata`.
pub const KNOWN_REQUIRED_BITS: [u64; 6] = [8, 14, 16, 24, 36, 48];

/// Reads `bolt11` by BOLT 11's reader rules.
pub fn read(bolt11: &str) -> Result<Decoded, Flaw> {
    let signed = SignedRawBolt11Invoice::from_str(bolt11.trim()).map_err(|e| Flaw::Unreadable(e.to_string()))?;
    check_fields(&signed)?;
    if let Some(features) = signed.features() {
        refuse_unknown_required(features.le_flags())?;
    }
    let payee = match signed.payee_pub_key() {
        Some(named) => {
            if !signed.check_signature() {
                return Err(Flaw::BadSignatureForPayee);
            }
            named.0
        }
        None => signed.recover_payee_pub_key().map_err(|_| Flaw::BadSignature)?.0,
    };
    let amount = match signed.hrp.raw_amount {
        None => None,
        Some(_) => {
            let pico_btc = signed.amount_pico_btc().ok_or(Flaw::AmountOverflow)?;
            if pico_btc % 10 != 0 {
                return Err(Flaw::SubMillisatAmount);
            }
            Some(Msats(pico_btc / 10))
        }
    };
    let hash = signed.payment_hash().ok_or(Flaw::NoPaymentHash)?;
    Ok(Decoded {
        payment_hash: PaymentHash(*hash.0.as_ref()),
        amount,
        currency: signed.currency(),
        payee,
        created_at: signed.data.timestamp.as_duration_since_epoch(),
        expiry: signed.expiry_time().map_or(Duration::from_secs(DEFAULT_EXPIRY_TIME), |e| *e.as_duration()),
        route_hints: signed.private_routes().iter().map(|r| r.0.iter().map(|hop| hop.fees).collect()).collect(),
    })
}

/// The field-count rules (fields of a known tag but the wrong length were skipped by the parse, as wallets
/// skip them).
fn check_fields(signed: &SignedRawBolt11Invoice) -> Result<(), Flaw> {
    let count = |pick: fn(&TaggedField) -> bool| signed.known_tagged_fields().filter(|f| pick(f)).count();
    match count(|f| matches!(f, TaggedField::PaymentHash(_))) {
        0 => return Err(Flaw::NoPaymentHash),
        1 => {}
        _ => return Err(Flaw::SeveralPaymentHashes),
    }
    match count(|f| matches!(f, TaggedField::Description(_) | TaggedField::DescriptionHash(_))) {
        0 => return Err(Flaw::NoDescription),
        1 => {}
        _ => return Err(Flaw::SeveralDescriptions),
    }
    match count(|f| matches!(f, TaggedField::PaymentSecret(_))) {
        0 => Err(Flaw::NoPaymentSecret),
        1 => Ok(()),
        _ => Err(Flaw::SeveralPaymentSecrets),
    }
}

/// Refuses required (even) feature bits that BOLT 9 does not assign to invoices, naming each.
fn refuse_unknown_required(flags_le: &[u8]) -> Result<(), Flaw> {
    let unknown: Vec<u64> = (0..flags_le.len() as u64 * 8)
        .step_by(2)
        .filter(|bit| flags_le[(bit / 8) as usize] & (1 << (bit % 8)) != 0)
        .filter(|bit| !KNOWN_REQUIRED_BITS.contains(bit))
        .collect();
    if unknown.is_empty() { Ok(()) } else { Err(Flaw::UnknownRequiredFeature(unknown)) }
}
