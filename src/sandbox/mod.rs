//! "Try it without real sats": an in-process Nostr relay on loopback, a NIP-47 wallet service with play
//! sats, and a demo paid API whose invoices that wallet can settle. `purser sandbox` wires the proxy to
//! them; the integration tests use the same pieces.
//!
//! - [`relay`]: the Nostr relay, behind an accept loop that sets `TCP_NODELAY`.
//! - [`mint`]: the sandbox Lightning node (signs invoices, keeps preimages).
//! - [`wallet_service`]: the NIP-47 wallet service.
//! - [`demo_api`]: the paid HTTP API, on plain HTTP and on HTTPS with a certificate from a sandbox-only CA
//!   that the sandbox's proxy trusts.
//! - [`demo_dialects`]: its MPP, x402 and hash-only challenges and proof checks.
//! - [`demo_pricing`]: its prices in every published form.
//! - [`demo_rate`]: a play BTC rate in the mempool shape, so currencies can be tried offline.

pub mod demo_api;
mod demo_challenges;
pub mod demo_dialects;
mod demo_endpoints;
pub mod demo_offers;
pub mod demo_pricing;
mod demo_quote;
pub mod demo_rate;
pub mod demo_session;
pub mod mint;
pub mod relay;
pub mod wallet_service;
mod wallet_state;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use lightning_invoice::Currency;
use nostr_relay_builder::prelude::RelayUrl;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use demo_api::{DemoApi, DemoOptions};
use mint::Mint;
use wallet_service::{SandboxWallet, WalletServiceOptions};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the sandbox relay could not start: {0}")]
    Relay(String),
    #[error(transparent)]
    Wallet(#[from] wallet_service::StartError),
    #[error("the demo API could not listen: {0}")]
    DemoApi(#[from] std::io::Error),
    #[error("the demo API's certificate could not be made: {0}")]
    DemoCertificate(String),
}

/// An in-process Nostr relay on 127.0.0.1 (a free port): see [`relay`].
pub async fn start_relay() -> Result<relay::SandboxRelay, Error> {
    relay::start().await
}

/// A demo API on 127.0.0.1 (a free port); it stops when the returned sender is dropped.
pub async fn start_demo_api(
    mint: Arc<Mint>,
    opts: DemoOptions,
) -> Result<(SocketAddr, Arc<DemoApi>, oneshot::Sender<()>), Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let api = Arc::new(DemoApi::new(mint, opts));
    tokio::spawn(demo_api::run(listener, api.clone(), async move {
        let _ = stopped.await;
    }));
    Ok((addr, api, stop))
}

/// The demo API over HTTPS on 127.0.0.1 (a free port), with a certificate for `127.0.0.1` and `localhost`
/// from `ca`; it stops when the returned sender is dropped.
pub async fn start_demo_api_https(
    mint: Arc<Mint>,
    opts: DemoOptions,
    ca: &crate::ca::Authority,
) -> Result<(SocketAddr, oneshot::Sender<()>), Error> {
    crate::install_crypto_provider();
    let leaf = ca.leaf_for(&["127.0.0.1", "localhost"]).map_err(|e| Error::DemoCertificate(e.to_string()))?;
    let mut tls = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .map_err(|e| Error::DemoCertificate(e.to_string()))?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = oneshot::channel::<()>();
    let api = Arc::new(DemoApi::new(mint, opts));
    tokio::spawn(async move {
        loop {
            let tcp = tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => match accepted { Ok((s, _)) => s, Err(_) => continue },
            };
            let (acceptor, api) = (acceptor.clone(), api.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    demo_api::serve_connection(hyper_util::rt::TokioIo::new(tls), api).await;
                }
            });
        }
    });
    Ok((addr, stop))
}

/// Relay, wallet and demo API (HTTP and HTTPS), running together.
pub struct Sandbox {
    pub relay: relay::SandboxRelay,
    pub relay_url: RelayUrl,
    pub mint: Arc<Mint>,
    pub wallet: SandboxWallet,
    pub demo_addr: SocketAddr,
    /// The plain-HTTP demo API, for what it saw (its sessions).
    pub demo: Arc<DemoApi>,
    pub demo_https_addr: SocketAddr,
    /// The sandbox-only CA behind the HTTPS demo API's certificate; the sandbox's proxy trusts it.
    pub ca: crate::ca::Authority,
    _demo_stop: oneshot::Sender<()>,
    _demo_https_stop: oneshot::Sender<()>,
}

impl Sandbox {
    pub async fn start(wallet: WalletServiceOptions, demo: DemoOptions) -> Result<Self, Error> {
        let relay = start_relay().await?;
        let relay_url = relay.url().clone();
        let mint = Arc::new(Mint::new(Currency::Regtest));
        let wallet = wallet_service::start(&relay_url, mint.clone(), wallet).await?;
        let ca = crate::ca::Authority::generate_named("Purser sandbox CA (demo API only)")
            .map_err(|e| Error::DemoCertificate(e.to_string()))?;
        let (demo_https_addr, demo_https_stop) = start_demo_api_https(mint.clone(), demo.clone(), &ca).await?;
        let (demo_addr, demo, demo_stop) = start_demo_api(mint.clone(), demo).await?;
        Ok(Sandbox {
            relay,
            relay_url,
            mint,
            wallet,
            demo_addr,
            demo,
            demo_https_addr,
            ca,
            _demo_stop: demo_stop,
            _demo_https_stop: demo_https_stop,
        })
    }

    pub fn demo_url(&self) -> String {
        format!("http://{}", self.demo_addr)
    }

    pub fn demo_https_url(&self) -> String {
        format!("https://{}", self.demo_https_addr)
    }

    /// The play rate on the demo API as a rate source: the only one the sandbox asks.
    pub fn rate_source(&self) -> crate::rates::Source {
        let url = format!("http://{}{}", self.demo_addr, demo_rate::PATH);
        crate::rates::Source::new("sandbox play rate", &url, crate::rates::shape::Shape::Mempool)
    }

    /// The demo API's addresses, as variables for an agent's shell.
    pub fn agent_vars(&self) -> Vec<(String, String)> {
        vec![
            ("PURSER_DEMO_API".to_string(), self.demo_url()),
            ("PURSER_DEMO_API_HTTPS".to_string(), self.demo_https_url()),
        ]
    }
}
