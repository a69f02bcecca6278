//! The loopback proxy agents send their traffic through.
//!
//! Two ways in: as a forward proxy (`HTTP_PROXY=http://AGENT:KEY@127.0.0.1:8402`, absolute-form requests,
//! and `CONNECT` for HTTPS, opened with Purser's local CA) and as a gateway (`/<scheme>/<host[:port]>/<path>`).
//! Both identify the agent with `Proxy-Authorization: Basic`.
//!
//! - [`handler`]: one request, start to end: forwarded, and a `402` handed to the payment flow
//!   ([`crate::flow`]), which reaches the proxy only through [`crate::flow::Host`].
//! - [`refusal`]: the one mapping from failures to HTTP answers.
//! - [`control`]: the local control endpoint (`/_purser/…`) the CLI uses to list and answer approvals.
//! - [`agent_api`]: the read-only endpoint (`/_purser/agent…`) where an agent reads its budgets and prices.
//! - [`allowance_api`], [`quote_api`]: where an agent asks for a task allowance and a quote.
//! - [`intercept`]: `CONNECT` opened: TLS accepted with a minted leaf, requests inside handled as any other.
//! - [`tunnel`]: `CONNECT` targets, and blind tunnels for `pass_through` hosts.
//! - [`upgrade`]: WebSocket and other protocol upgrades, passed through.
//! - [`workers`]: the serving threads, each with its own runtime and upstream pool.
//! - [`auth`], [`prefixed`]: the pieces they use, besides the shared [`crate::http`] ones.

pub mod agent_api;
pub mod allowance_api;
pub mod allowance_control;
pub mod answers;
pub mod auth;
pub mod control;
pub mod fetch_api;
pub mod handler;
pub mod intercept;
pub mod payments_api;
pub mod prefixed;
pub mod quote_api;
pub mod refusal;
mod shared_approvals;
pub mod tunnel;
pub mod upgrade;
pub mod workers;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::approval::Approvals;
use crate::config::Settings;
use crate::events::Events;
use crate::http::client as upstream;
use crate::ledger::Ledger;

pub use crate::wallet::WalletHandle;

/// Everything one running proxy shares between requests.
pub struct Proxy {
    pub settings: Settings,
    pub ledger: Ledger,
    pub wallet: WalletHandle,
    pub events: Events,
    /// Payments waiting for a person.
    pub approvals: Approvals,
    /// The bearer token the control endpoint asks for.
    pub control_token: String,
    /// Agent connections and the tunnels and upgrades they opened, being served now.
    connections: Arc<AtomicUsize>,
    /// One pooled client for every upstream, so connections are reused: `client` for work on the caller's
    /// runtime, and one per serving thread in `clients` (its pooled connections live on that thread).
    client: upstream::UpstreamClient,
    clients: Vec<upstream::UpstreamClient>,
    /// The runtime `run` was called on, for work that must outlive a serving thread (asking the wallet).
    pub(crate) background: std::sync::OnceLock<tokio::runtime::Handle>,
    /// Upstream TLS for protocol upgrades, which need a connection of their own over HTTP/1.1.
    upgrade_tls: Arc<rustls::ClientConfig>,
    /// Certificates for the hosts agents reach through `CONNECT`, minted by Purser's CA.
    pub leaves: Arc<crate::ca::Leaves>,
    /// The pricing documents of the APIs agents pay, fetched on the first payment and cached.
    pub pricing: crate::pricing::Fetcher,
    /// BTC rates in the person's currencies, for limits and figures in money; sources that disagree raise
    /// an alert.
    pub rates: Arc<crate::rates::Rates>,
    /// Where this proxy listens, once it does: requests to this address are Purser's own endpoints.
    pub local_addr: std::sync::OnceLock<std::net::SocketAddr>,
    /// The data directory's lock, held while this proxy lives: one proxy per ledger.
    _lock: std::fs::File,
}

/// Why a proxy cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Upstream(#[from] upstream::Error),
    #[error(transparent)]
    Ca(#[from] crate::ca::Error),
    #[error("{0}")]
    Locked(std::io::Error),
}

impl Proxy {
    pub fn new(settings: Settings, ledger: Ledger, wallet: WalletHandle, events: Events) -> Result<Self, StartError> {
        let lock = crate::private_fs::lock_dir(&settings.data_dir).map_err(StartError::Locked)?;
        let tls = upstream::tls_config(settings.extra_ca_file.as_deref(), &settings.extra_roots)?;
        let mut upgrade_tls = tls.clone();
        upgrade_tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let clients = (0..workers::count()).map(|_| upstream::client(tls.clone())).collect();
        let client = upstream::client(tls);
        let pricing = crate::pricing::Fetcher::new(client.clone(), PRICING_TIMEOUT, Some(Arc::new(ledger.clone())));
        let rates = Arc::new(rates(&settings, &ledger, &events, client.clone()));
        let authority = crate::ca::files::load_or_create(&settings.data_dir)?;
        let leaves = Arc::new(crate::ca::Leaves::new(Arc::new(authority), crate::ca::leaves::DEFAULT_CAPACITY));
        let approvals = if ledger.shares_approvals() {
            let sharing = shared_approvals::Sharing { events: events.clone(), ledger: ledger.clone() };
            Approvals::new(settings.approval_timeout, sharing)
        } else {
            Approvals::new(settings.approval_timeout, events.clone())
        };
        Ok(Proxy {
            settings,
            ledger,
            wallet,
            events,
            approvals,
            control_token: control::new_token(),
            connections: Arc::new(AtomicUsize::new(0)),
            client,
            clients,
            background: std::sync::OnceLock::new(),
            upgrade_tls: Arc::new(upgrade_tls),
            leaves,
            pricing,
            rates,
            local_addr: std::sync::OnceLock::new(),
            _lock: lock,
        })
    }
}

impl Proxy {
    /// Counts a tunnel or upgrade that outlives the connection that opened it, until the guard drops.
    pub(crate) fn count_connection(&self) -> Counted {
        self.connections.fetch_add(1, Ordering::SeqCst);
        Counted(self.connections.clone())
    }

    /// The upstream client for the thread this runs on.
    pub(crate) fn client(&self) -> &upstream::UpstreamClient {
        workers::current().and_then(|i| self.clients.get(i)).unwrap_or(&self.client)
    }
}

/// How long the pricing documents of an API may take before a payment goes ahead without them.
const PRICING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Proxy {
    /// The display currency: chosen in the app or with `purser currency`, else `currency` in purser.toml.
    pub async fn display_currency(&self) -> crate::ledger::Result<Option<String>> {
        Ok(self.ledger.stored_display_currency().await?.unwrap_or(self.settings.currency.clone()))
    }

    /// The display currency's rate now, no older than the person allows, or why there is none; `None` when
    /// no currency is chosen.
    pub async fn display_rate(
        &self,
    ) -> crate::ledger::Result<Option<(String, Result<crate::rates::Rate, crate::rates::RatesError>)>> {
        let Some(currency) = self.display_currency().await? else { return Ok(None) };
        let rate = self.rates.get(&currency, self.settings.rate_max_age).await;
        Ok(Some((currency, rate)))
    }

    /// How figures in the display currency are valued now (recorded rates, else the current one).
    pub async fn valuing(&self) -> crate::ledger::Result<Option<crate::ledger::queries::Valuing>> {
        Ok(self.display_rate().await?.map(|(currency, rate)| crate::ledger::queries::Valuing {
            currency,
            current_per_btc: rate.ok().map(|r| r.per_btc),
        }))
    }

    /// Every threshold, those set in a currency converted at a rate no older than the person allows (without
    /// one, their msat limits stay 0 and their `fiat` part says what was set).
    pub async fn thresholds_now(&self) -> crate::ledger::Result<Vec<crate::policy::Threshold>> {
        let thresholds = self.ledger.thresholds().await?;
        let mut currencies: Vec<String> =
            thresholds.iter().filter_map(|t| t.fiat.as_ref().map(|f| f.currency.clone())).collect();
        currencies.sort();
        currencies.dedup();
        if currencies.is_empty() {
            return Ok(thresholds);
        }
        let rates = self.rates.at_hand(&currencies, self.settings.rate_max_age).await;
        let now = self.ledger.now_ms();
        Ok(thresholds
            .into_iter()
            .map(|t| {
                let snapshot = crate::policy::Snapshot { threshold: Some(t.clone()), ..Default::default() };
                crate::policy::fiat::price(snapshot, &rates, now).threshold.unwrap_or(t)
            })
            .collect())
    }

    /// Every budget with its window's use; those set in a currency converted at a rate no older than the
    /// person allows (without one, their sat figures are 0 and their use in money is what was recorded).
    pub async fn budget_uses(&self) -> crate::ledger::Result<Vec<crate::policy::BudgetUse>> {
        let budgets = self.ledger.budgets().await?;
        let mut currencies: Vec<String> =
            budgets.iter().filter_map(|b| b.limit_fiat.as_ref().map(|m| m.currency.clone())).collect();
        currencies.sort();
        currencies.dedup();
        let rates = self.rates.at_hand(&currencies, self.settings.rate_max_age).await;
        self.ledger.budget_uses(&rates).await
    }
}

/// The rate sources of `settings`, asked with `client` by the ledger's clock; a disagreement between two is
/// recorded as an alert and sent on as an event.
fn rates(
    settings: &Settings,
    ledger: &Ledger,
    events: &Events,
    client: upstream::UpstreamClient,
) -> crate::rates::Rates {
    let (ledger, events) = (ledger.clone(), events.clone());
    crate::rates::Rates::new(client, settings.rate_sources.clone(), ledger.clock()).on_disagreement(move |d| {
        let (ledger, events) = (ledger.clone(), events.clone());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            match ledger.record_rate_disagreement(&d).await {
                Ok(alerts) => alerts.into_iter().for_each(|alert| events.emit(crate::events::Event::Alert { alert })),
                Err(e) => tracing::warn!("a rate disagreement could not be recorded: {e}"),
            }
        });
    })
}

/// The most header fields an agent's request may carry (more: `431`).
const MAX_REQUEST_HEADERS: usize = 200;
/// The most bytes an agent's request line and headers may take (more: `431`).
const MAX_REQUEST_HEAD_BYTES: usize = 256 * 1024;

/// A connection accepted under the cap, counted from now; past it, turned away. Connections held for a
/// person's approval count apart: they have their own bound (`MAX_HELD`).
fn admit(proxy: &Proxy, stream: tokio::net::TcpStream) -> Option<std::net::TcpStream> {
    let busy = proxy.connections.load(Ordering::SeqCst).saturating_sub(proxy.approvals.waiting());
    if busy >= proxy.settings.max_agent_connections {
        turn_away(stream, busy);
        return None;
    }
    let stream = stream.into_std().ok()?;
    proxy.connections.fetch_add(1, Ordering::SeqCst);
    Some(stream)
}

/// One open agent connection (or a tunnel it opened), counted until dropped.
pub(crate) struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Connections being turned away at most at once; past it they are closed without an answer.
const MAX_TURNING_AWAY: usize = 256;
static TURNING_AWAY: AtomicUsize = AtomicUsize::new(0);

/// Answers a connection past the cap with `503 too_many_connections` (through the one mapping in
/// [`refusal`]) once its request head is in, then closes it; a client that sends nothing for two seconds is
/// dropped.
fn turn_away(stream: tokio::net::TcpStream, busy: usize) {
    if TURNING_AWAY.fetch_add(1, Ordering::SeqCst) >= MAX_TURNING_AWAY {
        TURNING_AWAY.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    tokio::spawn(async move {
        let service = service_fn(move |_req| async move {
            let failure = refusal::Failure::Unavailable {
                reason: "too_many_connections".into(),
                detail: format!("Purser is serving {busy} agent connections, its most at once; try again in a moment"),
                retry_after_secs: 1,
            };
            Ok::<_, std::convert::Infallible>(refusal::response(&failure, ""))
        });
        let conn = http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(std::time::Duration::from_secs(2))
            .keep_alive(false)
            .serve_connection(TokioIo::new(stream), service);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(4), conn).await;
        TURNING_AWAY.fetch_sub(1, Ordering::SeqCst);
    });
}

/// Serves agents on `listener` until `shutdown` completes, then denies every payment still waiting for a
/// person. Connections already open finish on their own.
pub async fn run(listener: TcpListener, proxy: Arc<Proxy>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    if let Some(limit) = crate::fd_limit::raise() {
        tracing::debug!("up to {limit} open files (agent connections and their upstreams)");
    }
    if let Ok(addr) = listener.local_addr() {
        let _ = proxy.local_addr.set(addr);
    }
    let background = start_background(&proxy);
    let _ = proxy.background.set(tokio::runtime::Handle::current());
    // Agent connections are counted when accepted, and uncounted when served to the end.
    let serve = {
        let proxy = proxy.clone();
        move |stream: std::net::TcpStream| {
            let proxy = proxy.clone();
            let counted = Counted(proxy.connections.clone());
            async move {
                let _counted = counted;
                let Ok(stream) = tokio::net::TcpStream::from_std(stream) else { return };
                let header_read_timeout = proxy.settings.header_read_timeout;
                let service = service_fn(move |req| handler::handle(proxy.clone(), req));
                let conn = http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(header_read_timeout)
                    .max_headers(MAX_REQUEST_HEADERS)
                    .max_header_size(MAX_REQUEST_HEAD_BYTES)
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                if let Err(e) = conn.await {
                    tracing::debug!("agent connection ended: {e}");
                }
            }
        }
    };
    let workers = match workers::Workers::start(workers::count(), serve.clone()) {
        Ok(workers) => Some(workers),
        Err(e) => {
            tracing::warn!("cannot start the serving threads ({e}); serving on the main runtime");
            None
        }
    };
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, _peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Some(stream) = admit(&proxy, stream) else { continue };
        match &workers {
            Some(workers) => workers.hand(stream),
            None => {
                tokio::spawn(serve(stream));
            }
        }
    }
    if let Some(workers) = workers {
        workers.stop();
    }
    background.iter().for_each(tokio::task::JoinHandle::abort);
    proxy.approvals.deny_all();
}

/// What runs beside serving until it stops: recovery of the payments an earlier run left open, resolved with
/// the wallet (this run's rows are never touched by that first pass: they are all written after
/// `started_ms`); in a team's database, applying the answers given elsewhere to this instance's approvals.
fn start_background(proxy: &Arc<Proxy>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let recovering = proxy.clone();
    let started_ms = proxy.ledger.now_ms() - 1;
    let events = proxy.events.clone();
    tasks.push(tokio::spawn(crate::recovery::run(
        proxy.ledger.clone(),
        started_ms,
        move || recovering.wallet.wallet().ok(),
        events,
    )));
    if proxy.ledger.shares_approvals() {
        tasks.push(tokio::spawn(shared_approvals::apply_answers(proxy.clone())));
    }
    tasks
}
