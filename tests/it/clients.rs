//! Real agent clients, each making a paid call to an HTTPS API through Purser as a forward proxy, with only
//! its ordinary proxy and CA settings, as `purser env` prints them: curl, Python requests, httpx and aiohttp,
//! Node.js fetch through undici's `EnvHttpProxyAgent`, and Rust reqwest. The API has a certificate from its
//! own test CA, which Purser trusts through the extra-CA option.
//!
//! The Python and Node.js clients come from `scripts/deps test` (a venv in `$PURSER_CLIENTS_DIR`, default
//! `~/.cache/purser/clients`, and `tests/clients/node_modules`).

use std::path::PathBuf;
use std::process::Command;

use purser::agent_env::AgentEnv;

use crate::harness::{Harness, Setup, https_demo_api, test_ca};

/// A harness trusting a test CA, an HTTPS demo API with a certificate from it, and the agent's environment.
struct World {
    h: Harness,
    url: String,
    env: Vec<(String, String)>,
    _ca_dir: tempfile::TempDir,
}

async fn world() -> World {
    let ca_dir = tempfile::tempdir().unwrap();
    let ca = test_ca(Some(&ca_dir.path().join("ca.pem")));
    let h = Harness::start(Setup { extra_ca_file: Some(ca_dir.path().join("ca.pem")), ..Setup::default() }).await;
    let api = https_demo_api(&h, &ca).await;
    let env = AgentEnv::new(h.dir.path(), h.proxy_addr, &h.agent, &h.key).unwrap().vars();
    World { h, url: format!("https://{api}/joke"), env, _ca_dir: ca_dir }
}

impl World {
    /// Runs `program args… URL` with the agent's environment; returns what it printed.
    async fn run(&self, program: &str, args: &[&str]) -> String {
        let mut cmd = Command::new(program);
        cmd.args(args).arg(&self.url).env_remove("NO_PROXY").env_remove("no_proxy");
        cmd.current_dir(clients_dir());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("cannot run {program} (scripts/deps test installs it): {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{program} failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        stdout
    }

    /// The paid body reached the client, and the ledger has one settled, delivered row for it.
    async fn assert_paid_once(&self, printed: &str) {
        assert!(printed.contains("micro-manager"), "the paid body did not reach the client: {printed}");
        let rows = self.h.rows().await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!((rows[0].scheme.as_str(), rows[0].path.as_str()), ("https", "/joke"));
        assert_eq!(rows[0].status, "settled");
        assert_eq!(rows[0].delivered, Some(true));
        assert_eq!(rows[0].agent, self.h.agent);
    }
}

/// `tests/clients`: the client scripts and their Node.js packages.
pub fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("clients")
}

/// The Python of the clients' venv (`$PURSER_CLIENTS_DIR`, default `~/.cache/purser/clients`).
pub fn python() -> String {
    let dir = std::env::var_os("PURSER_CLIENTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/purser/clients"));
    dir.join("venv/bin/python").display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_pays_through_purser() {
    let w = world().await;
    let printed = w.run("curl", &["-sS", "--fail-with-body"]).await;
    w.assert_paid_once(&printed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_requests_pays_through_purser() {
    let w = world().await;
    let printed = w.run(&python(), &["py_requests.py"]).await;
    assert!(printed.starts_with("200\n"), "{printed}");
    w.assert_paid_once(&printed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_httpx_pays_through_purser() {
    let w = world().await;
    let printed = w.run(&python(), &["py_httpx.py"]).await;
    assert!(printed.starts_with("200\n"), "{printed}");
    w.assert_paid_once(&printed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_aiohttp_pays_through_purser() {
    let w = world().await;
    let printed = w.run(&python(), &["py_aiohttp.py"]).await;
    assert!(printed.starts_with("200\n"), "{printed}");
    w.assert_paid_once(&printed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_fetch_with_undici_env_proxy_pays_through_purser() {
    let w = world().await;
    let printed = w.run("node", &["fetch_undici.mjs"]).await;
    assert!(printed.starts_with("200\n"), "{printed}");
    w.assert_paid_once(&printed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_reqwest_pays_through_purser() {
    let w = world().await;
    purser::install_crypto_provider();
    // reqwest's own settings: a proxy for every scheme and one more root, Purser's CA.
    let var = |name: &str| w.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
    let ca = std::fs::read(var("NODE_EXTRA_CA_CERTS")).unwrap();
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(var("HTTPS_PROXY")).unwrap())
        .tls_certs_merge([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap();
    let resp = client.get(&w.url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    w.assert_paid_once(&resp.text().await.unwrap()).await;
}
