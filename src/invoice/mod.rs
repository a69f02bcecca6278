//! BOLT11 checks made before any sat moves, on what protects the money and only that: the invoice is one a
//! payer may pay by BOLT 11's reader rules ([`reader`]: signed, its fields sound, no feature a payer does not
//! know), names an amount, has not expired (with a safety margin), is on the wallet's network, and carries
//! the payment hash the challenge named. Routing details are the wallet's: its own refusal is the last check.

pub mod reader;

use std::time::Duration;

use lightning_invoice::Currency;

pub use reader::{Decoded, Flaw, read};

use crate::units::{Msats, PaymentHash};

/// An invoice that passed every check.
#[derive(Debug, Clone)]
pub struct CheckedInvoice {
    pub bolt11: String,
    pub payment_hash: PaymentHash,
    pub amount: Msats,
    /// Seconds since the Unix epoch after which the invoice can no longer be paid.
    pub expires_at_unix: u64,
    /// The least its route hints charge to reach the payee (every hop's base fee and proportional fee on
    /// the amount), when it names any: a floor under the routing fee, whatever route the wallet finds to them.
    pub route_hint_fee: Option<Msats>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the invoice cannot be paid: {0}")]
    Invalid(Flaw),
    #[error("the invoice cannot be paid: {0}; BOLT 11 asks a payer to refuse it")]
    UnsupportedFeature(Flaw),
    #[error("the invoice names no amount; Purser pays only invoices that say what they cost")]
    Amountless,
    #[error("the invoice expired, or expires within {margin_secs} s")]
    Expired { margin_secs: u64 },
    #[error("the invoice is for {invoice} but the wallet is on {wallet}")]
    WrongNetwork { invoice: String, wallet: String },
    #[error("the invoice's payment hash differs from the one the challenge names")]
    HashMismatch,
}

impl Error {
    /// The reason code an agent and the ledger see.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid_invoice",
            Error::UnsupportedFeature(_) => "unsupported_invoice_feature",
            Error::Amountless => "amountless_invoice",
            Error::Expired { .. } => "invoice_expired",
            Error::WrongNetwork { .. } => "wrong_network",
            Error::HashMismatch => "payment_hash_mismatch",
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The network names NIP-47 `get_info` reports, mapped to invoice currencies.
pub fn currency_for_network(network: &str) -> Option<Currency> {
    match network.to_ascii_lowercase().as_str() {
        "mainnet" | "bitcoin" | "main" => Some(Currency::Bitcoin),
        "testnet" | "testnet3" | "testnet4" | "test" => Some(Currency::BitcoinTestnet),
        "signet" => Some(Currency::Signet),
        "regtest" => Some(Currency::Regtest),
        "simnet" => Some(Currency::Simnet),
        _ => None,
    }
}

fn currency_name(c: Currency) -> &'static str {
    match c {
        Currency::Bitcoin => "mainnet",
        Currency::BitcoinTestnet => "testnet",
        Currency::Regtest => "regtest",
        Currency::Simnet => "simnet",
        Currency::Signet => "signet",
    }
}

/// What the checks are made against.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// The hash the challenge named apart from the invoice, if it did.
    pub payment_hash: Option<&'a PaymentHash>,
    /// The wallet's network as `get_info` reported it; `None` when the wallet does not say.
    pub wallet_network: Option<&'a str>,
    /// Now, as time since the Unix epoch (injectable for tests).
    pub now: Duration,
    /// An invoice expiring sooner than this is refused: paying takes time.
    pub expiry_margin: Duration,
}

impl From<Flaw> for Error {
    fn from(flaw: Flaw) -> Self {
        match flaw {
            Flaw::UnknownRequiredFeature(_) => Error::UnsupportedFeature(flaw),
            _ => Error::Invalid(flaw),
        }
    }
}

pub fn check(bolt11: &str, want: &Expectations<'_>) -> Result<CheckedInvoice> {
    let bolt11 = bolt11.trim();
    let invoice = read(bolt11)?;
    let amount = invoice.amount.filter(|a| a.0 > 0).ok_or(Error::Amountless)?;
    if invoice.expired_at(want.now + want.expiry_margin) {
        return Err(Error::Expired { margin_secs: want.expiry_margin.as_secs() });
    }
    if let Some(network) = want.wallet_network {
        let wallet = currency_for_network(network);
        if wallet.as_ref() != Some(&invoice.currency) {
            return Err(Error::WrongNetwork {
                invoice: currency_name(invoice.currency.clone()).to_string(),
                wallet: network.to_string(),
            });
        }
    }
    let payment_hash = invoice.payment_hash;
    if want.payment_hash.is_some_and(|h| *h != payment_hash) {
        return Err(Error::HashMismatch);
    }
    let expires_at_unix = invoice.expires_at_unix();
    let route_hint_fee = cheapest_hint(&invoice.route_hints, amount);
    Ok(CheckedInvoice { bolt11: bolt11.to_string(), payment_hash, amount, expires_at_unix, route_hint_fee })
}

/// What the cheapest of `hints` charges to forward `amount`.
fn cheapest_hint(hints: &[Vec<lightning_invoice::RoutingFees>], amount: Msats) -> Option<Msats> {
    hints
        .iter()
        .map(|hops| {
            hops.iter().fold(0u128, |sum, fees| {
                sum + u128::from(fees.base_msat)
                    + u128::from(amount.0) * u128::from(fees.proportional_millionths) / 1_000_000
            })
        })
        .min()
        .map(|fee| Msats(u64::try_from(fee).unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests;
