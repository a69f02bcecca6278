//! One start-up for every way Purser runs: `purser serve`, `purser sandbox`, the desktop app and the tests all
//! open the config and the ledger, pick the wallet and serve the proxy through these functions, so each
//! gets the same wallet choice (the stored one with the fallback of `PURSER_NWC_FALLBACK_URI`, or the
//! sandbox's) and the same `control.json` while it runs.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::agent_env::AgentEnv;
use crate::config::{self, Settings};
use crate::events::Events;
use crate::ledger::Ledger;
use crate::proxy::{self, Proxy, WalletHandle, control};
use crate::sandbox::Sandbox;
use crate::sandbox::wallet_service::{SANDBOX_WALLET_FILE, WalletServiceOptions};
use crate::wallet::failover::Failover;
use crate::wallet::nwc::{NwcOptions, NwcWallet};
use crate::wallet::{self, Wallet, uri_store};

/// The environment variable naming a second wallet, used when the first cannot be reached at all.
pub const FALLBACK_ENV: &str = "PURSER_NWC_FALLBACK_URI";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Listen(#[from] config::ListenError),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::Error),
    #[error(
        "cannot open the team database {shown}: {source}. Purser keeps payments in one ledger, so it does not \
         fall back to this machine's own file: fix the server or the login, or take `database` out of {config} \
         to go back to this machine's own ledger"
    )]
    TeamDatabase { shown: String, config: String, source: crate::ledger::Error },
    #[error(transparent)]
    Wallet(#[from] wallet::Error),
    #[error("the wallet of {FALLBACK_ENV} cannot be used: {0}")]
    Fallback(wallet::Error),
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::Error),
    #[error(transparent)]
    AgentEnv(#[from] crate::agent_env::Error),
    #[error(transparent)]
    Start(#[from] proxy::StartError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("cannot listen on {addr}: it is taken by {holder}. Stop it, or choose another port with --listen")]
    PortTaken { addr: String, holder: String },
    #[error("cannot write {path}: {source}")]
    ControlFile { path: String, source: std::io::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

/// The config file read from `data_dir` and the ledger opened with its policy settings; in a team's database,
/// this instance's name claimed for as long as it runs (a second instance under one name is refused).
pub async fn open(data_dir: &Path) -> Result<(Settings, Ledger)> {
    let (settings, policy) = config::load(data_dir)?;
    let opened = Ledger::open_at(&settings.ledger).await.map_err(|source| match &settings.ledger {
        crate::ledger::Location::Server(url) => Error::TeamDatabase {
            shown: crate::ledger::postgres::without_password(url),
            config: data_dir.join(config::CONFIG_FILE).display().to_string(),
            source,
        },
        crate::ledger::Location::File(_) => Error::Ledger(source),
    })?;
    let ledger = opened.with_policy(policy).with_instance(&settings.instance);
    // Only this process resolves the open payments recorded under its name.
    ledger.claim_instance().await?;
    Ok((settings, ledger))
}

/// Binds `listen` (from the command line or `purser.toml`), refusing any address but loopback.
pub async fn bind(listen: &str) -> Result<TcpListener> {
    let addr = config::loopback_addr(listen)?;
    TcpListener::bind(addr).await.map_err(|source| match source.kind() {
        std::io::ErrorKind::AddrInUse => Error::PortTaken {
            addr: addr.to_string(),
            holder: crate::port_owner::holder(addr.port())
                .map(|h| h.describe())
                .unwrap_or_else(|| "a program this user cannot see".into()),
        },
        _ => Error::Bind { addr: addr.to_string(), source },
    })
}

/// The wallet a person connected (OS keyring, or `PURSER_NWC_URI`), with the fallback wallet behind it, and
/// where it came from. No wallet is not an error: payments are then answered `wallet_not_configured`; a
/// connection string that cannot be used is.
pub async fn stored_wallet(data_dir: &Path) -> Result<(Option<Arc<dyn Wallet>>, Option<String>)> {
    let dir = data_dir.to_path_buf();
    let stored = tokio::task::spawn_blocking(move || uri_store::load(&dir))
        .await
        .unwrap_or_else(|e| Err(wallet::Error::Keyring(e.to_string())));
    let (wallet, source): (Option<Arc<dyn Wallet>>, _) = match stored {
        Ok(Some((uri, source))) => {
            let wallet = NwcWallet::new(&uri, NwcOptions::default())?;
            tracing::info!("paying with the wallet from {}", source.describe());
            (Some(Arc::new(wallet)), Some(source.describe().to_string()))
        }
        Ok(None) => {
            let e = wallet::Error::NotConfigured;
            tracing::warn!("{e}. Until a wallet is connected, payments are answered 503 wallet_not_configured.");
            (None, None)
        }
        Err(e) => {
            tracing::warn!("{e}. Until a wallet is connected, payments are answered 503 wallet_not_configured.");
            (None, None)
        }
    };
    Ok((with_fallback(wallet)?, source))
}

/// `wallet`, with the wallet of `PURSER_NWC_FALLBACK_URI` behind it when that is set.
pub fn with_fallback(wallet: Option<Arc<dyn Wallet>>) -> Result<Option<Arc<dyn Wallet>>> {
    let Some(uri) = std::env::var(FALLBACK_ENV).ok().filter(|u| !u.trim().is_empty()) else {
        return Ok(wallet);
    };
    let fallback: Arc<dyn Wallet> = Arc::new(NwcWallet::new(&uri, NwcOptions::default()).map_err(Error::Fallback)?);
    tracing::info!("a fallback wallet ({FALLBACK_ENV}) pays when the wallet cannot be reached");
    Ok(Some(match wallet {
        Some(primary) => Arc::new(Failover::new(primary, fallback)),
        None => fallback,
    }))
}

/// The play-sats pieces a sandbox runs on.
pub struct SandboxParts {
    pub sandbox: Sandbox,
    /// The sandbox wallet, over NIP-47 through the sandbox relay.
    pub wallet: Arc<dyn Wallet>,
    /// What the `demo` agent's shell needs, the demo API's addresses included.
    pub env: AgentEnv,
}

/// Starts the sandbox (relay, wallet with its balance kept in `data_dir`, demo API) for a proxy on `addr`:
/// `settings` come to trust the demo API's certificate and to take BTC rates from its play rate only, and the
/// `demo` agent gets a key if it has none. The
/// wallet takes `pay_delay` to answer each payment.
pub async fn sandbox(
    data_dir: &Path,
    settings: &mut Settings,
    ledger: &Ledger,
    addr: SocketAddr,
    pay_delay: std::time::Duration,
) -> Result<SandboxParts> {
    let key = crate::agent_env::usable_key(ledger, data_dir, "demo").await?;
    let wallet_opts = WalletServiceOptions {
        state_file: Some(data_dir.join(SANDBOX_WALLET_FILE)),
        pay_delay,
        ..WalletServiceOptions::default()
    };
    let sandbox = Sandbox::start(wallet_opts, Default::default()).await?;
    settings.extra_roots.push(sandbox.ca.cert_der().clone());
    // Play sats, play rate: the sandbox never asks a market price source.
    settings.rate_sources = vec![sandbox.rate_source()];
    let wallet: Arc<dyn Wallet> = Arc::new(NwcWallet::new(&sandbox.wallet.uri, NwcOptions::default())?);
    let mut env = AgentEnv::new(data_dir, addr, "demo", &key)?;
    env.extra = sandbox.agent_vars();
    Ok(SandboxParts { sandbox, wallet, env })
}

/// The proxy over `ledger`, paying with `wallet`.
pub fn proxy(
    settings: Settings,
    ledger: Ledger,
    wallet: Option<Arc<dyn Wallet>>,
    events: Events,
) -> Result<Arc<Proxy>> {
    Ok(Arc::new(Proxy::new(settings, ledger, WalletHandle::new(wallet), events)?))
}

/// Serves agents on `listener` until `shutdown` completes, with `control.json` written for the CLI (and
/// `agent_vars` for `purser env`) while it runs.
pub async fn serve(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    agent_vars: &[(String, String)],
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let addr = listener.local_addr().map_err(|source| Error::Bind { addr: "the listener".into(), source })?;
    let control = proxy.settings.control_path();
    let socket = proxy.settings.control_socket_path();
    let unix = match control::bind_socket(&socket) {
        Ok(listener) => Some(listener),
        Err(e) => {
            tracing::warn!("cannot make the control socket {} ({e}); the CLI uses the proxy's port", socket.display());
            None
        }
    };
    control::write_control_file(&control, addr, unix.is_some().then_some(&*socket), &proxy.control_token, agent_vars)
        .map_err(|source| Error::ControlFile { path: control.display().to_string(), source })?;
    let answering = unix.map(|listener| tokio::spawn(control::serve_socket(listener, proxy.clone())));
    // The display currency's rate, asked now so the first payment finds it.
    if let Ok(Some(currency)) = proxy.display_currency().await {
        proxy.rates.refresh_in_background(&tokio::runtime::Handle::current(), &currency, proxy.settings.rate_max_age);
    }
    proxy::run(listener, proxy, shutdown).await;
    if let Some(answering) = answering {
        answering.abort();
        let _ = std::fs::remove_file(&socket);
    }
    let _ = std::fs::remove_file(control);
    Ok(())
}
