//! The wallet Purser pays with, which a person may connect or disconnect while it runs, and its network,
//! asked once per wallet.

use std::sync::{Arc, RwLock};

use tokio::sync::OnceCell;

use super::{Error, Result, Wallet};

/// The wallet the proxy pays with, and its network, asked once.
/// It can be replaced while the proxy runs (the desktop app connects and disconnects wallets).
pub struct WalletHandle {
    current: RwLock<Current>,
}

#[derive(Clone)]
struct Current {
    wallet: Option<Arc<dyn Wallet>>,
    network: Arc<OnceCell<Option<String>>>,
}

impl WalletHandle {
    pub fn new(wallet: Option<Arc<dyn Wallet>>) -> Self {
        WalletHandle { current: RwLock::new(Current { wallet, network: Arc::new(OnceCell::new()) }) }
    }

    /// Pays with `wallet` from the next payment on (`None`: no wallet).
    pub fn replace(&self, wallet: Option<Arc<dyn Wallet>>) {
        *self.current.write().unwrap() = Current { wallet, network: Arc::new(OnceCell::new()) };
    }

    pub fn wallet(&self) -> Result<Arc<dyn Wallet>> {
        self.current.read().unwrap().wallet.clone().ok_or(Error::NotConfigured)
    }

    /// The wallet's network from `get_info`, asked on first use and kept; the future owns what it needs, so
    /// it can run on another runtime (`crate::flow::Flow::wallet_network`).
    pub fn asking_network(&self) -> impl std::future::Future<Output = Result<Option<String>>> + Send + 'static {
        let current = self.current.read().unwrap().clone();
        async move {
            let wallet = current.wallet.ok_or(Error::NotConfigured)?;
            current.network.get_or_try_init(|| async { Ok(wallet.get_info().await?.network) }).await.cloned()
        }
    }
}
