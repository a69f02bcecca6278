//! A wallet with a fallback: every call goes to the first wallet, and to the second only when the first
//! cannot be reached at all (its relay is down, or it is not configured), so a request that went to the
//! first wallet is never sent to the second. Set with `PURSER_NWC_FALLBACK_URI` for `purser serve`.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Error, Lookup, Paid, Result, Wallet, WalletInfo};
use crate::units::{Msats, PaymentHash};

pub struct Failover {
    primary: Arc<dyn Wallet>,
    fallback: Arc<dyn Wallet>,
}

impl Failover {
    pub fn new(primary: Arc<dyn Wallet>, fallback: Arc<dyn Wallet>) -> Self {
        Failover { primary, fallback }
    }
}

/// The request never left: nothing can have been paid or done by the first wallet.
fn never_reached(e: &Error) -> bool {
    matches!(e, Error::Unreachable(_) | Error::NotConfigured | Error::BadUri(_))
}

macro_rules! failover {
    ($self:ident, $call:ident ( $($arg:expr),* )) => {
        match $self.primary.$call($($arg),*).await {
            Err(e) if never_reached(&e) => {
                tracing::warn!("the wallet cannot be reached ({e}); using the fallback wallet");
                $self.fallback.$call($($arg),*).await
            }
            other => other,
        }
    };
}

#[async_trait]
impl Wallet for Failover {
    async fn get_info(&self) -> Result<WalletInfo> {
        failover!(self, get_info())
    }

    async fn get_balance(&self) -> Result<Msats> {
        failover!(self, get_balance())
    }

    async fn pay_invoice(&self, bolt11: &str) -> Result<Paid> {
        failover!(self, pay_invoice(bolt11))
    }

    async fn lookup_invoice(&self, payment_hash: &PaymentHash) -> Result<Lookup> {
        failover!(self, lookup_invoice(payment_hash))
    }

    async fn list_payments(&self, since_unix: u64) -> Result<Vec<Lookup>> {
        failover!(self, list_payments(since_unix))
    }

    async fn make_invoice(&self, amount_msat: u64, description: &str, expiry_secs: u64) -> Result<String> {
        failover!(self, make_invoice(amount_msat, description, expiry_secs))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::units::Preimage;

    /// A wallet that fails every payment with `error`, or pays; counting the calls.
    struct Scripted {
        error: Option<Error>,
        calls: AtomicU32,
    }

    #[async_trait]
    impl Wallet for Scripted {
        async fn get_info(&self) -> Result<WalletInfo> {
            Err(Error::NotConfigured)
        }
        async fn get_balance(&self) -> Result<Msats> {
            Ok(Msats(0))
        }
        async fn pay_invoice(&self, _: &str) -> Result<Paid> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match &self.error {
                Some(e) => Err(e.clone()),
                None => Ok(Paid { preimage: Preimage([1; 32]), fee: Msats(0) }),
            }
        }
        async fn lookup_invoice(&self, _: &PaymentHash) -> Result<Lookup> {
            Err(Error::NotConfigured)
        }
        async fn list_payments(&self, _: u64) -> Result<Vec<Lookup>> {
            Ok(Vec::new())
        }
    }

    fn pair(first: Option<Error>) -> (Failover, Arc<Scripted>, Arc<Scripted>) {
        let primary = Arc::new(Scripted { error: first, calls: AtomicU32::new(0) });
        let fallback = Arc::new(Scripted { error: None, calls: AtomicU32::new(0) });
        (Failover::new(primary.clone(), fallback.clone()), primary, fallback)
    }

    #[tokio::test]
    async fn only_a_wallet_never_reached_hands_over() {
        let (w, _, fallback) = pair(Some(Error::Unreachable("relay down".into())));
        assert!(w.pay_invoice("lnbc1").await.is_ok());
        assert_eq!(fallback.calls.load(Ordering::SeqCst), 1);
        // A request that reached the first wallet may have been paid there: never sent to the second.
        for e in [
            Error::Timeout { secs: 60 },
            Error::Refused { code: crate::wallet::ErrorCode::PaymentFailed, message: "x".into() },
        ] {
            let (w, primary, fallback) = pair(Some(e));
            assert!(w.pay_invoice("lnbc1").await.is_err());
            assert_eq!((primary.calls.load(Ordering::SeqCst), fallback.calls.load(Ordering::SeqCst)), (1, 0));
        }
    }
}
