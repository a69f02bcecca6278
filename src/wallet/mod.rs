//! The wallet Purser pays with: the [`Wallet`] trait that the payment flow and the tests drive, its
//! Nostr Wallet Connect (NIP-47) implementation in [`nwc`], and where the connection URI is kept
//! ([`uri_store`]: the OS keyring, or `PURSER_NWC_URI` on headless machines).

pub mod failover;
pub mod handle;
pub mod nwc;
pub mod uri_check;
pub mod uri_store;

use async_trait::async_trait;
pub use handle::WalletHandle;
pub use nostr_sdk::nips::nip47::ErrorCode;

use crate::units::{Msats, PaymentHash, Preimage};

/// What `get_info` tells about a wallet.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct WalletInfo {
    pub alias: Option<String>,
    /// As the wallet names it (`mainnet`, `testnet`, `signet`, `regtest`); `None` when it does not say.
    pub network: Option<String>,
    pub methods: Vec<String>,
    /// The encryption this connection speaks (`nip44_v2` or `nip04`), chosen from the wallet's info event.
    pub encryption: String,
}

/// A settled payment as the wallet reports it.
#[derive(Debug, Clone)]
pub struct Paid {
    pub preimage: Preimage,
    pub fee: Msats,
}

/// An invoice's state as `lookup_invoice` reports it.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The payment hash the wallet names (it should be the one asked about).
    pub payment_hash: Option<PaymentHash>,
    pub state: Option<String>,
    pub preimage: Option<Preimage>,
    pub amount: Msats,
    pub fee: Msats,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("no wallet is connected: run `purser wallet connect <nostr+walletconnect://…>` or set PURSER_NWC_URI")]
    NotConfigured,
    #[error("the wallet connection string is not valid: {0}")]
    BadUri(String),
    #[error("the wallet's relay cannot be reached: {0}")]
    Unreachable(String),
    /// The request went out and no answer came in time; for a payment the outcome is unknown.
    #[error("the wallet did not answer within {secs} s")]
    Timeout { secs: u64 },
    /// The wallet answered with a NIP-47 error.
    #[error("the wallet refused: {message} ({})", code_name(*.code))]
    Refused { code: ErrorCode, message: String },
    #[error("the wallet's answer could not be read: {0}")]
    Protocol(String),
    #[error("the OS keyring is not available: {0}")]
    Keyring(String),
}

impl Error {
    /// The reason code an agent and the ledger see.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::NotConfigured => "wallet_not_configured",
            Error::BadUri(_) => "wallet_not_configured",
            Error::Unreachable(_) => "wallet_unreachable",
            Error::Timeout { .. } => "wallet_timeout",
            Error::Refused { code, .. } => match code {
                ErrorCode::InsufficientBalance => "insufficient_balance",
                ErrorCode::QuotaExceeded => "wallet_quota_exceeded",
                ErrorCode::RateLimited => "wallet_rate_limited",
                ErrorCode::PaymentFailed => "payment_failed",
                ErrorCode::Unauthorized | ErrorCode::Restricted => "wallet_unauthorized",
                ErrorCode::NotImplemented => "wallet_not_implemented",
                ErrorCode::NotFound | ErrorCode::Internal | ErrorCode::Other => "wallet_error",
            },
            Error::Protocol(_) => "wallet_error",
            Error::Keyring(_) => "wallet_not_configured",
        }
    }

    /// Whether this error proves nothing left the wallet: the request never went out, or the wallet gave a
    /// clear NIP-47 refusal. Anything else after a `pay_invoice` was sent leaves the outcome unknown.
    pub fn nothing_was_paid(&self) -> bool {
        match self {
            Error::NotConfigured | Error::BadUri(_) | Error::Unreachable(_) | Error::Keyring(_) => true,
            // A clear refusal: nothing left the wallet. `INTERNAL` and `OTHER` say too little to rely on, and
            // `NOT_FOUND` does not answer a payment.
            Error::Refused { code, .. } => match code {
                ErrorCode::PaymentFailed
                | ErrorCode::InsufficientBalance
                | ErrorCode::QuotaExceeded
                | ErrorCode::RateLimited
                | ErrorCode::Unauthorized
                | ErrorCode::Restricted
                | ErrorCode::NotImplemented => true,
                ErrorCode::NotFound | ErrorCode::Internal | ErrorCode::Other => false,
            },
            Error::Timeout { .. } | Error::Protocol(_) => false,
        }
    }

    /// Whether the agent should simply try again later (`503` + `Retry-After`) rather than being refused.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unreachable(_) | Error::Timeout { .. } | Error::NotConfigured | Error::Keyring(_))
            || matches!(self, Error::Refused { code: ErrorCode::RateLimited | ErrorCode::Internal, .. })
    }
}

/// A NIP-47 error code as the protocol spells it.
pub fn code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::RateLimited => "RATE_LIMITED",
        ErrorCode::NotImplemented => "NOT_IMPLEMENTED",
        ErrorCode::InsufficientBalance => "INSUFFICIENT_BALANCE",
        ErrorCode::PaymentFailed => "PAYMENT_FAILED",
        ErrorCode::NotFound => "NOT_FOUND",
        ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
        ErrorCode::Restricted => "RESTRICTED",
        ErrorCode::Unauthorized => "UNAUTHORIZED",
        ErrorCode::Internal => "INTERNAL",
        ErrorCode::Other => "OTHER",
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[async_trait]
pub trait Wallet: Send + Sync {
    async fn get_info(&self) -> Result<WalletInfo>;
    async fn get_balance(&self) -> Result<Msats>;
    async fn pay_invoice(&self, bolt11: &str) -> Result<Paid>;
    async fn lookup_invoice(&self, payment_hash: &PaymentHash) -> Result<Lookup>;
    /// The wallet's outgoing payments since `since_unix` (NIP-47 `list_transactions`), for wallets that do not
    /// do `lookup_invoice`.
    async fn list_payments(&self, since_unix: u64) -> Result<Vec<Lookup>>;
    /// A new invoice paying into this wallet (NIP-47 `make_invoice`); `amount_msat` 0 asks for one without
    /// an amount, which the payer fills in (an MPP session's refund). Returns the BOLT11 string.
    async fn make_invoice(&self, amount_msat: u64, description: &str, expiry_secs: u64) -> Result<String> {
        let _ = (amount_msat, description, expiry_secs);
        Err(Error::Protocol("this wallet cannot make invoices".into()))
    }
}
