//! Starting the core inside the app: ledger, wallet and proxy (or the sandbox's relay, wallet and demo API),
//! forwarding core events to the window, the tray and notifications, and stopping cleanly on Quit.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use purser::agent_env::Shell;
use purser::config;
use purser::events::Events;
use purser::ledger::Ledger;
use purser::proxy::Proxy;
use purser::sandbox::Sandbox;
use purser::startup;
use tauri::{AppHandle, Manager};
use tokio::sync::oneshot;

/// Command-line options of the desktop app.
#[derive(Debug, Clone)]
pub struct Args {
    /// Wire the app to the sandbox (play sats) instead of a real wallet.
    pub sandbox: bool,
    pub data_dir: PathBuf,
    /// `None`: `listen` from purser.toml, else 127.0.0.1:8402.
    pub listen: Option<String>,
}

/// A command line the app cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    #[error("{0} needs a value")]
    Missing(&'static str),
    #[error("unknown option `{0}` (try --help)")]
    Unknown(String),
}

impl Args {
    pub fn from_env() -> Result<Args, ArgsError> {
        let mut args = std::env::args().skip(1);
        let mut sandbox = false;
        let mut data_dir = None;
        let mut listen = None;
        while let Some(a) = args.next() {
            match a.as_str() {
                "--sandbox" => sandbox = true,
                "--data-dir" => data_dir = Some(PathBuf::from(args.next().ok_or(ArgsError::Missing("--data-dir"))?)),
                "--listen" => listen = Some(args.next().ok_or(ArgsError::Missing("--listen"))?),
                "--help" | "-h" => {
                    println!("purser-desktop [--sandbox] [--data-dir DIR] [--listen 127.0.0.1:8402]");
                    std::process::exit(0);
                }
                other => return Err(ArgsError::Unknown(other.to_string())),
            }
        }
        let data_dir =
            data_dir.or_else(|| std::env::var_os("PURSER_DATA_DIR").map(PathBuf::from)).unwrap_or_else(|| {
                let base = config::default_data_dir();
                if sandbox { base.join("sandbox") } else { base }
            });
        Ok(Args { sandbox, data_dir, listen })
    }
}

/// Where the sandbox's wallet comes from, as the Wallet screen says it.
pub const SANDBOX_WALLET_SOURCE: &str = "the sandbox (play sats)";

/// The core as the app holds it.
pub struct AppCore {
    pub proxy: Arc<Proxy>,
    pub ledger: Ledger,
    pub data_dir: PathBuf,
    /// `http://127.0.0.1:8402`
    pub proxy_url: String,
    /// The sandbox's pieces, when the app runs on play sats.
    pub sandbox: Option<Sandbox>,
    /// The shell lines that point an agent at the sandbox (its `demo` agent; the same as `purser env`).
    pub sandbox_env: Option<String>,
    /// Where the wallet's connection string came from, for the Wallet screen.
    pub wallet_source: Mutex<Option<String>>,
    /// Whether approvals and alerts raise desktop notifications.
    pub notifications: AtomicBool,
    /// The running app, once it runs (to restart it from Settings).
    pub app: std::sync::OnceLock<AppHandle>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl AppCore {
    pub fn notifications_on(&self) -> bool {
        self.notifications.load(Ordering::Relaxed)
    }
}

pub async fn start(args: Args) -> Result<AppCore, Box<dyn std::error::Error>> {
    purser::install_crypto_provider();
    if args.sandbox {
        // Play sats stay in the data directory's own file, whatever database purser.toml names.
        let file_only = purser::database_setting::CommandLine { file_only: true, ..Default::default() };
        purser::database_setting::set_from_command_line(file_only);
    }
    let (mut settings, ledger) = startup::open(&args.data_dir).await?;
    let listen = args.listen.clone().unwrap_or_else(|| settings.listen.clone());
    let listener = startup::bind(&listen).await?;
    let addr = listener.local_addr()?;
    let (sandbox, wallet, source, sandbox_env, agent_vars) = if args.sandbox {
        let parts = startup::sandbox(&args.data_dir, &mut settings, &ledger, addr, std::time::Duration::ZERO).await?;
        let env = parts.env.render(Shell::Bash);
        let vars = parts.env.extra.clone();
        (Some(parts.sandbox), Some(parts.wallet), Some(SANDBOX_WALLET_SOURCE.to_string()), Some(env), vars)
    } else {
        let (wallet, source) = startup::stored_wallet(&args.data_dir).await.unwrap_or_else(|e| {
            tracing::warn!("{e}");
            (None, None)
        });
        (None, wallet, source, None, Vec::new())
    };
    let events = Events::default();
    let proxy = startup::proxy(settings, ledger.clone(), wallet, events.clone())?;
    if ledger.shares_approvals() {
        // The payments held on the team's other machines, shown and notified like this machine's own.
        tauri::async_runtime::spawn(purser::team_approvals::watch(ledger.clone(), events.clone()));
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = proxy.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = startup::serve(listener, serving, &agent_vars, async move {
            let _ = stopped.await;
        })
        .await
        {
            tracing::error!("{e}");
        }
    });
    tracing::info!("Purser is listening on http://{addr}");
    Ok(AppCore {
        proxy,
        ledger,
        data_dir: args.data_dir,
        proxy_url: format!("http://{addr}"),
        sandbox,
        sandbox_env,
        wallet_source: Mutex::new(source),
        notifications: AtomicBool::new(true),
        app: std::sync::OnceLock::new(),
        stop: Mutex::new(Some(stop)),
    })
}

/// Quit: deny what waits for a person, stop accepting agents, remove the control file.
pub fn shut_down(app: &AppHandle) {
    if let Some(core) = app.try_state::<AppCore>() {
        core.proxy.approvals.deny_all();
        if let Some(stop) = core.stop.lock().unwrap().take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_file(core.proxy.settings.control_path());
    }
}
