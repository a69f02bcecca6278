//! `purser serve` and `purser sandbox`: start the proxy (and, for the sandbox, the play-sats pieces).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use purser::config::{DEFAULT_LISTEN, Settings, loopback_addr};
use purser::events::Events;
use purser::ledger::Ledger;
use purser::proxy::{self, Proxy, WalletHandle};
use purser::sandbox::Sandbox;
use purser::units::Msats;
use purser::wallet::Wallet;
use purser::wallet::nwc::{NwcOptions, NwcWallet};
use tokio::net::TcpListener;

use super::{Error, Result, init_logging, wallet::configured_uri};

#[derive(Args, Clone)]
pub struct LimitArgs {
    /// The most one request may pay, in sats
    #[arg(long, default_value_t = 100)]
    max_sats_per_request: u64,
    /// The most one agent may spend in all, in sats (settled + in flight, across restarts)
    #[arg(long, default_value_t = 5_000)]
    max_sats_per_agent: u64,
    /// Request bodies up to this many bytes are kept so the request can be replayed after paying
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    body_buffer_limit: usize,
    /// An extra PEM CA bundle to trust for HTTPS upstreams, besides the system roots
    #[arg(long)]
    extra_ca: Option<PathBuf>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Where agents connect; loopback only
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: String,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(Args)]
pub struct SandboxArgs {
    /// Where agents connect; loopback only
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: String,
    #[command(flatten)]
    limits: LimitArgs,
}

fn settings(data_dir: PathBuf, limits: &LimitArgs) -> Settings {
    let mut s = Settings::new(data_dir);
    s.max_per_request = Msats::from_sats(limits.max_sats_per_request);
    s.max_per_agent = Msats::from_sats(limits.max_sats_per_agent);
    s.body_buffer_limit_bytes = limits.body_buffer_limit;
    s.extra_ca_file = limits.extra_ca.clone();
    s
}

async fn bind(listen: &str) -> Result<TcpListener> {
    let addr = loopback_addr(listen)?;
    TcpListener::bind(addr).await.map_err(|source| Error::Bind {
        addr: addr.to_string(),
        source,
    })
}

/// Logs every core event, one line each.
fn log_events(events: &Events) {
    let mut rx = events.subscribe();
    tokio::spawn(async move {
        while let Ok(event) = rx.recv().await {
            let json = serde_json::to_string(&event).unwrap_or_default();
            tracing::info!(target: "purser::events", "{} {json}", event.name());
        }
    });
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("Stopping.");
}

pub async fn serve(data_dir: PathBuf, args: ServeArgs) -> Result<()> {
    init_logging();
    let listener = bind(&args.listen).await?;
    let settings = settings(data_dir.clone(), &args.limits);
    let ledger = Ledger::open(&settings.ledger_path()).await?;
    let wallet: Option<Arc<dyn Wallet>> = match configured_uri(&data_dir).await {
        Ok((uri, source)) => {
            tracing::info!("paying with the wallet from {}", source.describe());
            Some(Arc::new(NwcWallet::new(&uri, NwcOptions::default())?))
        }
        Err(e) => {
            tracing::warn!(
                "{e}. Until a wallet is connected, payments are answered 503 wallet_not_configured."
            );
            None
        }
    };
    let events = Events::default();
    log_events(&events);
    let limits = format!(
        "{} per request, {} per agent",
        settings.max_per_request, settings.max_per_agent
    );
    let proxy = Arc::new(Proxy::new(
        settings,
        ledger,
        WalletHandle::new(wallet),
        events,
    )?);
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: args.listen.clone(),
        source,
    })?;
    eprintln!("Purser is listening on http://{addr} (limits: {limits}). Ctrl-C stops it.");
    proxy::run(listener, proxy, shutdown_signal()).await;
    Ok(())
}

pub async fn sandbox(data_dir: PathBuf, args: SandboxArgs) -> Result<()> {
    init_logging();
    let listener = bind(&args.listen).await?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: args.listen.clone(),
        source,
    })?;
    let settings = settings(data_dir.clone(), &args.limits);
    let ledger = Ledger::open(&settings.ledger_path()).await?;
    let key = match ledger.rotate_key("demo").await? {
        Some(key) => key,
        None => ledger.add_agent("demo").await?.1,
    };
    let sandbox = Sandbox::start(Default::default(), Default::default()).await?;
    let wallet: Arc<dyn Wallet> =
        Arc::new(NwcWallet::new(&sandbox.wallet.uri, NwcOptions::default())?);
    let events = Events::default();
    log_events(&events);
    let limits = (settings.max_per_request, settings.max_per_agent);
    let proxy = Arc::new(Proxy::new(
        settings,
        ledger,
        WalletHandle::new(Some(wallet)),
        events,
    )?);
    let demo = sandbox.demo_url();
    let proxy_url = format!("http://demo:{key}@{addr}");
    println!("# Purser sandbox: PLAY SATS ONLY. Nothing here touches a real wallet or real money.");
    println!(
        "#   relay     {} (in-process Nostr relay)",
        sandbox.relay_url
    );
    println!(
        "#   wallet    sandbox NIP-47 wallet with a play balance of {}, on regtest",
        sandbox.wallet.balance()
    );
    println!(
        "#   demo API  {demo}  (/joke 1 sat, /fortune 21, /legacy 5, /daily free once a day then 10,"
    );
    println!(
        "#             /stream 1, POST /summarize 21, /premium 250; prices at {demo}/pricing)"
    );
    println!(
        "#   proxy     http://{addr}  (limits: {} per request, {} per agent)",
        limits.0, limits.1
    );
    println!(
        "#   ledger    purser ledger --data-dir {}",
        data_dir.display()
    );
    println!("# In the agent's shell, run these lines (or eval them):");
    println!("export http_proxy={proxy_url} HTTP_PROXY={proxy_url}");
    println!("export PURSER_DEMO_API={demo}");
    println!("# then try:  curl -s $PURSER_DEMO_API/joke");
    println!(
        "# and see:   purser ledger --data-dir {}",
        data_dir.display()
    );
    println!(
        "# /premium costs more than the per-request limit: it shows a refusal. Ctrl-C stops the sandbox."
    );
    proxy::run(listener, proxy, shutdown_signal()).await;
    sandbox.wallet.stop().await;
    Ok(())
}
