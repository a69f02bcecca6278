//! BOLT11 checks on top of `lightning-invoice`, made before any sat moves: the invoice parses and is signed,
//! names an amount, has not expired (with a safety margin), is on the wallet's network, and carries the
//! payment hash the challenge named.

use std::str::FromStr;
use std::time::Duration;

use lightning_invoice::{Bolt11Invoice, Currency};

use crate::units::{Msats, PaymentHash};

/// An invoice that passed every check.
#[derive(Debug, Clone)]
pub struct CheckedInvoice {
    pub bolt11: String,
    pub payment_hash: PaymentHash,
    pub amount: Msats,
    /// Seconds since the Unix epoch after which the invoice can no longer be paid.
    pub expires_at_unix: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the invoice is not a valid BOLT11 invoice: {0}")]
    Invalid(String),
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

pub fn check(bolt11: &str, want: &Expectations<'_>) -> Result<CheckedInvoice> {
    let bolt11 = bolt11.trim();
    let invoice = Bolt11Invoice::from_str(bolt11).map_err(|e| Error::Invalid(e.to_string()))?;
    let amount = invoice.amount_milli_satoshis().filter(|a| *a > 0).ok_or(Error::Amountless)?;
    if invoice.would_expire(want.now + want.expiry_margin) {
        return Err(Error::Expired { margin_secs: want.expiry_margin.as_secs() });
    }
    if let Some(network) = want.wallet_network {
        let wallet = currency_for_network(network);
        if wallet != Some(invoice.currency()) {
            return Err(Error::WrongNetwork {
                invoice: currency_name(invoice.currency()).to_string(),
                wallet: network.to_string(),
            });
        }
    }
    let hash: [u8; 32] = *invoice.payment_hash().as_ref();
    let payment_hash = PaymentHash(hash);
    if want.payment_hash.is_some_and(|h| *h != payment_hash) {
        return Err(Error::HashMismatch);
    }
    let expires_at_unix = invoice.expires_at().map(|d| d.as_secs()).unwrap_or(u64::MAX);
    Ok(CheckedInvoice { bolt11: bolt11.to_string(), payment_hash, amount: Msats(amount), expires_at_unix })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::mint::{InvoiceSpec, Mint};

    fn now() -> Duration {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap()
    }

    fn want<'a>(network: Option<&'a str>, hash: Option<&'a PaymentHash>) -> Expectations<'a> {
        Expectations { payment_hash: hash, wallet_network: network, now: now(), expiry_margin: Duration::from_secs(10) }
    }

    #[test]
    fn accepts_a_fresh_regtest_invoice() {
        let mint = Mint::new(Currency::Regtest);
        let minted = mint.mint(InvoiceSpec::sats(21, "test"));
        let ok = check(&minted.bolt11, &want(Some("regtest"), Some(&minted.payment_hash))).unwrap();
        assert_eq!(ok.amount, Msats(21_000));
        assert_eq!(ok.payment_hash, minted.payment_hash);
    }

    #[test]
    fn refuses_each_bad_invoice_with_its_reason() {
        let mint = Mint::new(Currency::Regtest);
        let amountless = mint.mint(InvoiceSpec { amount_msat: None, ..InvoiceSpec::sats(1, "x") });
        assert_eq!(check(&amountless.bolt11, &want(None, None)).unwrap_err().reason(), "amountless_invoice");

        let short = mint.mint(InvoiceSpec { expiry: Duration::from_secs(5), ..InvoiceSpec::sats(1, "x") });
        assert_eq!(check(&short.bolt11, &want(None, None)).unwrap_err().reason(), "invoice_expired");

        let ok = mint.mint(InvoiceSpec::sats(1, "x"));
        assert_eq!(check(&ok.bolt11, &want(Some("mainnet"), None)).unwrap_err().reason(), "wrong_network");
        let other = PaymentHash([7; 32]);
        assert_eq!(check(&ok.bolt11, &want(None, Some(&other))).unwrap_err().reason(), "payment_hash_mismatch");
        assert_eq!(check("DEV:0000", &want(None, None)).unwrap_err().reason(), "invalid_invoice");
    }

    #[test]
    fn bolt11_spec_vectors() {
        let path = format!("{}/tests/data/bolt11-vectors.json", env!("CARGO_MANIFEST_DIR"));
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        // The spec's examples date from 2017: judged at their own timestamp, with no network expectation.
        let then = Duration::from_secs(1_496_314_658);
        let at_then =
            Expectations { payment_hash: None, wallet_network: None, now: then, expiry_margin: Duration::ZERO };
        let mut valid = 0;
        for case in v["vectors"].as_array().unwrap() {
            let s = case["invoice"].as_str().unwrap();
            let parsed = Bolt11Invoice::from_str(s);
            if case["valid"].as_bool().unwrap() {
                if parsed.is_err() {
                    // lightning-invoice rejects the spec's high-S signature vector (noted with the vectors).
                    continue;
                }
                valid += 1;
                match check(s, &at_then) {
                    Ok(ok) => assert!(ok.amount.0 > 0),
                    Err(e) => assert_eq!(e, Error::Amountless, "{s}"),
                }
            } else {
                assert!(check(s, &at_then).is_err(), "{s} must be refused");
            }
        }
        assert!(valid >= 13, "only {valid} valid vectors parsed");
    }
}
