//! A sandbox (relay, NIP-47 wallet, demo API) and a proxy wired to it, all on 127.0.0.1, plus a small agent
//! client that speaks to the proxy in both ways in.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use purser::config::Settings;
use purser::events::Events;
use purser::ledger::export::PaymentRow;
use purser::ledger::policy_store::ScopeSpec;
use purser::ledger::{Ledger, PolicySettings};
use purser::policy::{ManualClock, Period};

use purser::sandbox::Sandbox;
use purser::sandbox::demo_api::{self, DemoApi, DemoOptions};
use purser::sandbox::wallet_service::WalletServiceOptions;
use purser::startup;
use purser::units::Msats;
use purser::wallet::Wallet;
use purser::wallet::nwc::{NwcOptions, NwcWallet};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub fn quick_nwc() -> NwcOptions {
    NwcOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(3),
        pay_timeout: Duration::from_secs(3),
    }
}

/// What to vary between tests.
pub struct Setup {
    pub wallet: WalletServiceOptions,
    pub demo: DemoOptions,
    /// The whole wallet's thresholds: paid at once up to `auto_sats`, asked up to `ask_sats`.
    pub auto_sats: u64,
    pub ask_sats: u64,
    /// Above this, approvals need the person's confirmation.
    pub confirm_above_sats: Option<u64>,
    /// Budgets to add: (scope, period, sats).
    pub budgets: Vec<(ScopeSpec, Period, u64)>,
    pub approval_timeout: Duration,
    /// Drive budget windows with this clock instead of the system's.
    pub clock: Option<Arc<ManualClock>>,
    pub time_zone: Option<&'static str>,
    pub body_buffer_limit_bytes: usize,
    /// Pay with this connection string instead of the sandbox wallet's.
    pub wallet_uri: Option<String>,
    /// An extra CA the proxy trusts for HTTPS upstreams.
    pub extra_ca_file: Option<std::path::PathBuf>,
    /// Hosts whose `CONNECT`s are tunnelled untouched.
    pub pass_through: Vec<String>,
    /// Refuse invoices above the advertised or usual price instead of asking a person.
    pub refuse_price_mismatch: bool,
    /// Invoices expiring sooner than this are refused (default 30 s).
    pub invoice_expiry_margin: Duration,
    /// How long an upstream may take to answer (default 60 s).
    pub upstream_timeout: Duration,
    /// How long an agent may take to send a request's headers (default 30 s).
    pub header_read_timeout: Duration,
    /// Agent connections served at once (held approvals apart).
    pub max_agent_connections: usize,
    /// The sandbox wallet as the fallback behind `wallet_uri` (used when that one cannot be reached).
    pub sandbox_as_fallback: bool,
    /// Where BTC rates are asked (default: the sandbox's play rate).
    pub rate_sources: Option<Vec<purser::rates::Source>>,
    /// The oldest a rate may be when it converts a limit (default 5 minutes).
    pub rate_max_age: Duration,
    pub session_refund_wait: Duration,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            wallet: WalletServiceOptions::default(),
            demo: DemoOptions::default(),
            auto_sats: 1_000,
            ask_sats: 1_000,
            confirm_above_sats: None,
            budgets: Vec::new(),
            approval_timeout: Duration::from_secs(30),
            clock: None,
            time_zone: None,
            body_buffer_limit_bytes: 8 * 1024 * 1024,
            wallet_uri: None,
            extra_ca_file: None,
            pass_through: Vec::new(),
            refuse_price_mismatch: false,
            invoice_expiry_margin: Duration::from_secs(30),
            upstream_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(30),
            max_agent_connections: 1024,
            sandbox_as_fallback: false,
            rate_sources: None,
            rate_max_age: Duration::from_secs(300),
            session_refund_wait: Duration::from_secs(10),
        }
    }
}

pub struct Harness {
    pub sandbox: Sandbox,
    pub proxy_addr: SocketAddr,
    pub ledger: Ledger,
    /// Where the ledger is, to open another handle on it.
    pub location: purser::ledger::Location,
    pub agent: String,
    pub key: String,
    pub events: Events,
    /// The control file the CLI would read.
    pub control: std::path::PathBuf,
    /// The data directory (ledger, CA), removed when the harness is dropped.
    pub dir: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

/// One answer as the agent saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Harness {
    pub async fn start(setup: Setup) -> Harness {
        let sandbox = Sandbox::start(setup.wallet, setup.demo).await.expect("sandbox starts");
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::new(dir.path().to_path_buf());
        settings.approval_timeout = setup.approval_timeout;
        settings.invoice_expiry_margin = setup.invoice_expiry_margin;
        settings.upstream_timeout = setup.upstream_timeout;
        settings.header_read_timeout = setup.header_read_timeout;
        settings.max_agent_connections = setup.max_agent_connections;
        settings.body_buffer_limit_bytes = setup.body_buffer_limit_bytes;
        settings.extra_ca_file = setup.extra_ca_file;
        settings.pass_through = setup.pass_through;
        settings.rate_sources = setup.rate_sources.unwrap_or_else(|| vec![sandbox.rate_source()]);
        settings.rate_max_age = setup.rate_max_age;
        settings.session_refund_wait = setup.session_refund_wait;
        let mut policy = PolicySettings { refuse_price_mismatch: setup.refuse_price_mismatch, ..Default::default() };
        if let Some(tz) = setup.time_zone {
            policy.time_zone = purser::policy::period::time_zone(tz).unwrap();
        }
        // The ledger file in the data directory, or a new database when the suite runs on PostgreSQL.
        let location = purser::ledger::testing::fresh_location(dir.path()).await;
        let mut ledger = Ledger::open_at(&location).await.unwrap().with_policy(policy);
        if let Some(clock) = setup.clock {
            ledger = ledger.with_clock(clock);
        }
        let (_, key) = ledger.add_agent("research").await.unwrap();
        ledger
            .set_threshold(
                &ScopeSpec::default(),
                Msats::from_sats(setup.auto_sats),
                Msats::from_sats(setup.ask_sats),
                setup.confirm_above_sats.map(Msats::from_sats),
            )
            .await
            .unwrap();
        for (scope, period, sats) in setup.budgets {
            ledger.add_budget(&scope, period, Msats::from_sats(sats), None, None).await.unwrap();
        }
        let uri = setup.wallet_uri.unwrap_or_else(|| sandbox.wallet.uri.clone());
        let mut wallet: Arc<dyn Wallet> = Arc::new(NwcWallet::new(&uri, quick_nwc()).unwrap());
        if setup.sandbox_as_fallback {
            let fallback: Arc<dyn Wallet> = Arc::new(NwcWallet::new(&sandbox.wallet.uri, quick_nwc()).unwrap());
            wallet = Arc::new(purser::wallet::failover::Failover::new(wallet, fallback));
        }
        let events = Events::default();
        let proxy = startup::proxy(settings, ledger.clone(), Some(wallet), events.clone()).unwrap();
        let listener = startup::bind("127.0.0.1:0").await.unwrap();
        let proxy_addr = listener.local_addr().unwrap();
        let control = proxy.settings.control_path();
        let (stop, stopped) = oneshot::channel::<()>();
        let (serving_tx, serving) = oneshot::channel::<()>();
        tokio::spawn(startup::serve(listener, proxy, &[], async move {
            let _ = serving_tx.send(());
            let _ = stopped.await;
        }));
        // control.json is written before the shutdown future is first polled.
        serving.await.unwrap();
        Harness {
            sandbox,
            proxy_addr,
            ledger,
            location,
            agent: "research".into(),
            key,
            events,
            control,
            dir,
            _stop: stop,
        }
    }

    /// Waits until `count` requests are held for a person (counting each approval's identical requests);
    /// returns the approvals as the control endpoint lists them.
    pub async fn held(&self, count: u64) -> Vec<serde_json::Value> {
        for _ in 0..500 {
            let list = purser::proxy::control::call(&self.control, Method::GET, "approvals", None).await.unwrap();
            let items = list.as_array().cloned().unwrap_or_default();
            if items.iter().map(|a| a["count"].as_u64().unwrap()).sum::<u64>() >= count {
                return items;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{count} requests never waited for approval");
    }

    /// The demo API's URL for `path`.
    pub fn demo(&self, path: &str) -> String {
        format!("http://{}{path}", self.sandbox.demo_addr)
    }

    /// The gateway form of the demo API's `path`.
    pub fn gateway_path(&self, path: &str) -> String {
        format!("/http/{}{path}", self.sandbox.demo_addr)
    }

    pub fn auth(&self) -> String {
        purser::proxy::auth::basic(&self.agent, &self.key)
    }

    /// A request as a forward-proxy client sends it (absolute-form target).
    pub async fn forward(&self, method: Method, url: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
        let auth = self.auth();
        let mut all: Vec<(&str, &str)> = vec![("proxy-authorization", &auth)];
        all.extend_from_slice(headers);
        collect(send(self.proxy_addr, method, url, body, &all).await).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.forward(Method::GET, &self.demo(path), "", &[]).await
    }

    /// A request in the gateway form.
    pub async fn gateway(&self, method: Method, path: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
        let auth = self.auth();
        let mut all: Vec<(&str, &str)> = vec![("proxy-authorization", &auth)];
        all.extend_from_slice(headers);
        collect(send(self.proxy_addr, method, &self.gateway_path(path), body, &all).await).await
    }

    /// A request with the agent's key to any target (a gateway path, usually).
    pub async fn gateway_to(&self, target: &str, headers: &[(&str, &str)]) -> Reply {
        let auth = self.auth();
        let mut all = vec![("proxy-authorization", auth.as_str())];
        all.extend_from_slice(headers);
        collect(send(self.proxy_addr, Method::GET, target, "", &all).await).await
    }

    /// `http://NAME:KEY@addr`: what an agent puts in `HTTPS_PROXY`.
    pub fn proxy_url(&self) -> String {
        format!("http://{}:{}@{}", self.agent, self.key, self.proxy_addr)
    }

    /// Purser's CA certificate, PEM.
    pub fn purser_ca_pem(&self) -> String {
        std::fs::read_to_string(purser::ca::files::cert_path(self.dir.path())).unwrap()
    }

    pub async fn rows(&self) -> Vec<PaymentRow> {
        let mut rows = self.ledger.payments(1000).await.unwrap();
        rows.reverse();
        rows
    }
}

/// Sends one request over a fresh connection to `addr`, target as given.
pub async fn send(
    addr: SocketAddr,
    method: Method,
    target: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Response<Incoming> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let host = target.parse::<http::Uri>().ok().and_then(|u| u.authority().map(|a| a.to_string()));
    let mut req = Request::builder().method(method).uri(target);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req = req.header("host", host.unwrap_or_else(|| addr.to_string()));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    sender.send_request(req.body(Full::new(Bytes::from(body.to_string()))).unwrap()).await.unwrap()
}

pub async fn collect(resp: Response<Incoming>) -> Reply {
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply { status: parts.status.as_u16(), headers: parts.headers, body }
}

/// A server that answers every request with `response` (raw HTTP/1.1 bytes) and hands the raw request it
/// read to the returned channel.
pub async fn canned_server(response: &'static str) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<String>) {
    canned_server_after(response, Duration::ZERO).await
}

/// [`canned_server`], answering each request `delay` after it came in.
pub async fn canned_server_after(
    response: &'static str,
    delay: Duration,
) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&got).into_owned());
                tokio::time::sleep(delay).await;
                let _ = s.write_all(response.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (addr, rx)
}

/// A test CA; its certificate is written to `pem_path` when one is given.
pub fn test_ca(pem_path: Option<&std::path::Path>) -> Issuer<'static, KeyPair> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    if let Some(path) = pem_path {
        std::fs::write(path, cert.pem()).unwrap();
    }
    Issuer::new(params, key)
}

/// An HTTPS demo API for 127.0.0.1 with a certificate from `ca`, sharing `h`'s mint so its wallet can pay.
pub async fn https_demo_api(h: &Harness, ca: &Issuer<'static, KeyPair>) -> std::net::SocketAddr {
    purser::install_crypto_provider();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, ca)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let tls =
        rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![leaf.der().clone()], key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let api = Arc::new(DemoApi::new(h.sandbox.mint.clone(), DemoOptions::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, api) = (acceptor.clone(), api.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    demo_api::serve_connection(TokioIo::new(tls), api).await;
                }
            });
        }
    });
    addr
}

/// A payment to decide on directly through the ledger: `sats` for `GET http://api.example.com/a` by agent
/// `research`-like `agent` (id `agent_id`), with the payment hash of preimage `[n; 32]`.
pub fn payment(agent_id: i64, agent: &str, n: u8, sats: u64) -> purser::ledger::payments::NewPayment {
    purser::ledger::payments::NewPayment {
        request_id: format!("req_{n}"),
        agent_id,
        agent: agent.to_string(),
        method: "GET".into(),
        scheme: "http".into(),
        host: "api.example.com".into(),
        path: "/a".into(),
        challenge_kind: "l402".into(),
        amount: Some(Msats::from_sats(sats)),
        payment_hash: Some(purser::units::Preimage([n; 32]).payment_hash()),
        invoice: None,
        advertised: None,
        proof_prefix: None,
        allowance: None,
        agent_reason: None,
        rates: Default::default(),
    }
}
