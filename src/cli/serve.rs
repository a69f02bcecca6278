//! `purser serve` and `purser sandbox`: start the proxy (and, for the sandbox, the play-sats pieces).

use std::path::PathBuf;

use clap::Args;
use purser::config::{self, Settings};
use purser::events::Events;
use purser::ledger::Ledger;
use purser::startup::{self, SandboxParts};

use super::{Error, Result, init_logging};

/// Flags that override `purser.toml` for this run.
#[derive(Args, Clone)]
pub struct RunArgs {
    /// Request bodies up to this many bytes are kept so the request can be replayed after paying
    #[arg(long)]
    body_buffer_limit: Option<usize>,
    /// An extra PEM CA bundle to trust for HTTPS upstreams, besides the system roots
    #[arg(long)]
    extra_ca: Option<PathBuf>,
    /// Seconds a payment waits for a person before it is denied
    #[arg(long)]
    approval_timeout: Option<u64>,
    /// Tunnel CONNECTs to this host untouched, for clients that pin certificates (`*.example.com` for every
    /// name under it); adds to `pass_through` in purser.toml; may be given more than once
    #[arg(long = "pass-through", value_name = "HOST")]
    pass_through: Vec<String>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Where agents connect; loopback only (default: `listen` in purser.toml, else 127.0.0.1:8402)
    #[arg(long)]
    listen: Option<String>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
pub struct SandboxArgs {
    /// Where agents connect; loopback only (default: `listen` in purser.toml, else 127.0.0.1:8402)
    #[arg(long)]
    listen: Option<String>,
    /// Milliseconds the sandbox wallet takes to answer each payment, as a real payment over the Lightning
    /// network takes tens to hundreds (default: it answers at once)
    #[arg(long, value_name = "MS", default_value_t = 0)]
    wallet_delay_ms: u64,
    #[command(flatten)]
    run: RunArgs,
}

/// The config file, with this run's flags on top, and the ledger opened with its policy settings.
async fn prepare(data_dir: &std::path::Path, run: &RunArgs) -> Result<(Settings, Ledger)> {
    let (mut s, ledger) = startup::open(data_dir).await?;
    if let Some(b) = run.body_buffer_limit {
        s.body_buffer_limit_bytes = b;
    }
    if run.extra_ca.is_some() {
        s.extra_ca_file = run.extra_ca.clone();
    }
    if let Some(secs) = run.approval_timeout {
        if secs == 0 {
            return Err(Error::Config(config::ConfigError::Invalid {
                path: "--approval-timeout".into(),
                message: "it must be at least 1 second".into(),
            }));
        }
        s.approval_timeout = std::time::Duration::from_secs(secs);
    }
    for host in &run.pass_through {
        let pattern = config::host_pattern(host).ok_or_else(|| {
            Error::Usage(format!("--pass-through `{host}` is not a host name: use api.example.com or *.example.com"))
        })?;
        s.pass_through.push(pattern);
    }
    Ok((s, ledger))
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
    let (settings, ledger) = prepare(&data_dir, &args.run).await?;
    let listen = args.listen.clone().unwrap_or_else(|| settings.listen.clone());
    let listener = startup::bind(&listen).await?;
    let (wallet, _) = startup::stored_wallet(&data_dir).await?;
    let events = Events::default();
    log_events(&events);
    let proxy = startup::proxy(settings, ledger, wallet, events)?;
    let addr = listener.local_addr().map_err(|source| Error::Bind { addr: listen.clone(), source })?;
    eprintln!("Purser is listening on http://{addr}. `purser budget list` shows the limits; Ctrl-C stops it.");
    eprintln!("Agents trust its CA for HTTPS: {}", proxy.settings.ca_cert_path().display());
    eprintln!("In an agent's shell: {}", purser::agent_env::env_line(&data_dir, "NAME"));
    Ok(startup::serve(listener, proxy, &[], shutdown_signal()).await?)
}

pub async fn sandbox(data_dir: PathBuf, args: SandboxArgs) -> Result<()> {
    init_logging();
    let (mut settings, ledger) = prepare(&data_dir, &args.run).await?;
    let listen = args.listen.clone().unwrap_or_else(|| settings.listen.clone());
    let listener = startup::bind(&listen).await?;
    let addr = listener.local_addr().map_err(|source| Error::Bind { addr: listen.clone(), source })?;
    let SandboxParts { sandbox, wallet, env } = startup::sandbox(
        &data_dir,
        &mut settings,
        &ledger,
        addr,
        std::time::Duration::from_millis(args.wallet_delay_ms),
    )
    .await?;
    let events = Events::default();
    log_events(&events);
    let proxy = startup::proxy(settings, ledger, Some(wallet), events)?;
    let (demo, demo_https) = (sandbox.demo_url(), sandbox.demo_https_url());
    let dir = data_dir.display();
    println!("# Purser sandbox: PLAY SATS ONLY. Nothing here touches a real wallet or real money.");
    println!("#   relay     {} (in-process Nostr relay)", sandbox.relay_url);
    println!("#   wallet    sandbox NIP-47 wallet with a play balance of {}, on regtest", sandbox.wallet.balance());
    println!("#   demo API  {demo} and {demo_https} (a sandbox-only certificate)");
    println!("#             /joke 1 sat, /fortune 21 per call, /legacy 5, /daily free once a day then 10,");
    println!("#             /stream 1, POST /summarize 21, /premium 250; other dialects: /mpp 3, /x402 4,");
    println!("#             /x402-v1 4, /hash-only 2, /multi 6, /evm (not payable), /surge (above its price),");
    println!("#             /quoted (quoted first), /offers (L402 offers), /session (a 10-sat deposit, 3 a call),");
    println!("#             /credit (prepaid: 30 sats for 10 calls, once a rule allows top-ups there)");
    println!("#             prices: purser pricing {demo}");
    println!("#   rate      a play rate on the demo API ({demo}/api/v1/prices): 1 BTC = 100,000 USD, 90,000 EUR, …");
    println!("#             (not a market price; the sandbox asks no other source)");
    println!("#   proxy     http://{addr}, agent `demo`; HTTPS is read with Purser's CA {}", env.ca_cert.display());
    println!("#   ledger    purser ledger --data-dir {dir}");
    let run = purser::agent_env::run_line(&data_dir, "demo").replace("COMMAND", "bash");
    println!("# Start the agent's shell where it cannot reach Purser's files or your keyring:  {run}");
    println!("# or, in a shell of yours, run these lines (or: eval \"$(purser env --agent demo --data-dir {dir})\"):");
    print!("{}", env.render(purser::agent_env::Shell::Bash));
    println!("# then try:  curl -s $PURSER_DEMO_API_HTTPS/joke");
    println!("# and see:   purser ledger --data-dir {dir}");
    println!("# Limits: 10 sats are paid at once, up to 1000 wait for you (purser approvals, purser approve ID),");
    println!("# 5000 sats a day in all: see purser budget list --data-dir {dir}. Ctrl-C stops the sandbox.");
    let result = startup::serve(listener, proxy, &env.extra, shutdown_signal()).await;
    sandbox.wallet.stop().await;
    Ok(result?)
}
