//! Starting the core inside the app: ledger, wallet and proxy (or the sandbox's relay, wallet and demo API),
//! forwarding core events to the window, the tray and notifications, and stopping cleanly on Quit.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use purser::agent_env::{AgentEnv, Shell};
use purser::config;
use purser::events::{Event, Events};
use purser::ledger::Ledger;
use purser::proxy::{self, Proxy, WalletHandle, control};
use purser::sandbox::Sandbox;
use purser::wallet::nwc::{NwcOptions, NwcWallet};
use purser::wallet::{Wallet, uri_store};
use tauri::{AppHandle, Emitter, Manager};
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

impl Args {
    pub fn from_env() -> Result<Args, String> {
        let mut args = std::env::args().skip(1);
        let mut sandbox = false;
        let mut data_dir = None;
        let mut listen = None;
        while let Some(a) = args.next() {
            match a.as_str() {
                "--sandbox" => sandbox = true,
                "--data-dir" => data_dir = Some(PathBuf::from(args.next().ok_or("--data-dir needs a directory")?)),
                "--listen" => listen = Some(args.next().ok_or("--listen needs an address")?),
                "--help" | "-h" => {
                    println!("purser-desktop [--sandbox] [--data-dir DIR] [--listen 127.0.0.1:8402]");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown option `{other}` (try --help)")),
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
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl AppCore {
    pub fn notifications_on(&self) -> bool {
        self.notifications.load(Ordering::Relaxed)
    }
}

fn boxed(e: impl std::fmt::Display) -> Box<dyn std::error::Error> {
    e.to_string().into()
}

pub async fn start(app: AppHandle, args: Args) -> Result<AppCore, Box<dyn std::error::Error>> {
    purser::install_crypto_provider();
    let (settings, policy) = config::load(&args.data_dir).map_err(boxed)?;
    let ledger = Ledger::open(&settings.ledger_path()).await.map_err(boxed)?.with_policy(policy);
    let listen = args.listen.clone().unwrap_or_else(|| settings.listen.clone());
    let addr = config::loopback_addr(&listen).map_err(boxed)?;
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| boxed(format!("cannot listen on {addr}: {e}")))?;
    let addr = listener.local_addr()?;
    let (sandbox, wallet, source): (Option<Sandbox>, Option<Arc<dyn Wallet>>, Option<String>) = if args.sandbox {
        let wallet_opts = purser::sandbox::wallet_service::WalletServiceOptions {
            state_file: Some(args.data_dir.join(purser::sandbox::wallet_service::SANDBOX_WALLET_FILE)),
            ..Default::default()
        };
        let sb = Sandbox::start(wallet_opts, Default::default()).await.map_err(boxed)?;
        let w: Arc<dyn Wallet> = Arc::new(NwcWallet::new(&sb.wallet.uri, NwcOptions::default()).map_err(boxed)?);
        (Some(sb), Some(w), Some("the sandbox (play sats)".into()))
    } else {
        let dir = args.data_dir.clone();
        match tokio::task::spawn_blocking(move || uri_store::load(&dir)).await? {
            Ok(Some((uri, src))) => match NwcWallet::new(&uri, NwcOptions::default()) {
                Ok(w) => (None, Some(Arc::new(w) as Arc<dyn Wallet>), Some(src.describe().to_string())),
                Err(e) => {
                    tracing::warn!("the stored wallet connection is not usable: {e}");
                    (None, None, None)
                }
            },
            Ok(None) => (None, None, None),
            Err(e) => {
                tracing::warn!("{e}");
                (None, None, None)
            }
        }
    };
    let mut settings = settings;
    let (sandbox_env, agent_vars) = match &sandbox {
        Some(sb) => {
            settings.extra_roots.push(sb.ca.cert_der().clone());
            let key = purser::agent_env::usable_key(&ledger, &args.data_dir, "demo").await.map_err(boxed)?;
            let mut env = AgentEnv::new(&args.data_dir, addr, "demo", &key).map_err(boxed)?;
            env.extra = sb.agent_vars();
            (Some(env.render(Shell::Bash)), env.extra.clone())
        }
        None => (None, Vec::new()),
    };
    let events = Events::default();
    let proxy =
        Arc::new(Proxy::new(settings, ledger.clone(), WalletHandle::new(wallet), events.clone()).map_err(boxed)?);
    control::write_control_file(&proxy.settings.control_path(), addr, &proxy.control_token, &agent_vars)?;
    let (stop, stopped) = oneshot::channel::<()>();
    tauri::async_runtime::spawn(proxy::run(listener, proxy.clone(), async move {
        let _ = stopped.await;
    }));
    forward_events(app, &events);
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
        stop: Mutex::new(Some(stop)),
    })
}

/// Sends every core event to the window (as `noun:verb`), and approvals and alerts to notifications.
fn forward_events(app: AppHandle, events: &Events) {
    let mut rx = events.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match rx.recv().await {
                Ok(e) => e,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => break,
            };
            let _ = app.emit(event.name(), &event);
            // Showing a notification is a blocking D-Bus call: never on the runtime's workers.
            if let Event::ApprovalDecided { id, outcome } = &event {
                let (id, outcome) = (*id, outcome.clone());
                std::thread::spawn(move || crate::notify::answered(id, &outcome));
            }
            let Some(core) = app.try_state::<AppCore>() else { continue };
            if !core.notifications_on() {
                continue;
            }
            match &event {
                Event::ApprovalNeeded { approval } => crate::notify::approval(app.clone(), approval.clone()),
                Event::Alert { alert } => {
                    let (kind, message) = (alert.kind.clone(), alert.message.clone());
                    std::thread::spawn(move || crate::notify::alert(&kind, &message));
                }
                _ => {}
            }
        }
    });
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
