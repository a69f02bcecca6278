//! The `purser` binary as a person uses it: the sandbox with a real curl, agents, the ledger exports, the
//! loopback-only rule, and the wallet connection kept in the OS keyring.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use purser::sandbox::wallet_service::WalletServiceOptions;

use crate::harness::{Harness, Setup};

fn purser(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_purser"));
    cmd.arg("--data-dir").arg(data_dir).env_remove("PURSER_NWC_URI").env("PURSER_LOG", "warn");
    cmd
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{:?} failed: {}", cmd, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_refuses_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = purser(dir.path()).args(["serve", "--listen", "0.0.0.0:8402"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loopback only"), "{err}");
}

#[test]
fn agents_are_added_once_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let added = run_ok(purser(dir.path()).args(["agent", "add", "research"]));
    let key = added.lines().map(str::trim).find(|l| l.len() == 32 && l.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(key.is_some(), "{added}");
    assert!(added.contains("http_proxy=http://research:"));
    let again = purser(dir.path()).args(["agent", "add", "research"]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(run_ok(purser(dir.path()).args(["agent", "list"])).trim(), "research");
    assert_eq!(run_ok(purser(dir.path()).arg("ledger")).trim(), "No payments yet.");
}

/// The README's "try it": `purser sandbox`, its export lines, a real curl through the proxy, the ledger.
#[test]
fn the_sandbox_pays_a_real_curl_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = purser(dir.path())
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Killed(child);
    let mut exports = Vec::new();
    let mut printed = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.strip_prefix("export ") {
            for pair in rest.split(' ') {
                let (k, v) = pair.split_once('=').unwrap();
                exports.push((k.to_string(), v.to_string()));
            }
        }
        if line.contains("then try") {
            break;
        }
    }
    assert!(printed.contains("PLAY SATS"), "{printed}");
    let env = |k: &str| {
        exports
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} not exported: {printed}"))
    };
    assert_eq!(env("http_proxy"), env("HTTP_PROXY"));
    let demo = env("PURSER_DEMO_API");
    let curl = |path: &str| {
        let out = Command::new("curl")
            .args(["-s", "-i", &format!("{demo}{path}")])
            .env("http_proxy", env("http_proxy"))
            .env("HTTP_PROXY", env("HTTP_PROXY"))
            .env_remove("no_proxy")
            .env_remove("NO_PROXY")
            .output()
            .expect("curl is installed (scripts/test installs it)");
        String::from_utf8(out.stdout).unwrap()
    };
    let first = curl("/joke");
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.contains("\"joke\""), "{first}");
    let ledger = || -> serde_json::Value {
        serde_json::from_str(&run_ok(purser(dir.path()).args(["ledger", "--json"]))).unwrap()
    };
    let rows = ledger();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    let row = &rows[0];
    assert_eq!(row["status"], "settled");
    assert_eq!(row["amount_msat"], 1000);
    assert_eq!(row["fee_msat"], 1);
    assert_eq!(row["payment_hash"].as_str().unwrap().len(), 64);
    assert_eq!(row["delivered"], true);
    assert_eq!(row["agent"], "demo");
    let second = curl("/joke");
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    assert_eq!(ledger().as_array().unwrap().len(), 1, "a second identical call must not pay again");
    let csv = run_ok(purser(dir.path()).args(["ledger", "--csv"]));
    assert!(csv.starts_with("id,request_id,agent,"), "{csv}");
    assert!(csv.contains(",settled,"), "{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_info_reads_the_environment_variable() {
    let h = Harness::start(Setup { wallet: WalletServiceOptions::default(), ..Setup::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = purser(dir.path());
    cmd.args(["wallet", "info"]).env("PURSER_NWC_URI", &h.sandbox.wallet.uri);
    let out = tokio::task::spawn_blocking(move || run_ok(&mut cmd)).await.unwrap();
    assert!(out.contains("PURSER_NWC_URI"), "{out}");
    assert!(out.contains("regtest"), "{out}");
    assert!(out.contains("100000 sats"), "{out}");
    assert!(!out.contains(&h.sandbox.wallet.uri), "the connection string must not be printed");
}

/// Needs a Secret Service on the session bus (scripts/test starts one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_connect_keeps_the_uri_in_the_os_keyring() {
    let h = Harness::start(Setup::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let uri = h.sandbox.wallet.uri.clone();
    let (connected, info, gone) = tokio::task::spawn_blocking(move || {
        let connected = run_ok(purser(&path).args(["wallet", "connect", &uri]));
        let info = run_ok(purser(&path).args(["wallet", "info"]));
        run_ok(purser(&path).args(["wallet", "disconnect"]));
        let gone = purser(&path).args(["wallet", "info"]).output().unwrap();
        (connected, info, gone)
    })
    .await
    .unwrap();
    assert!(connected.contains("Purser sandbox wallet"), "{connected}");
    assert!(connected.contains("OS keyring"), "{connected}");
    assert!(info.contains("the OS keyring"), "{info}");
    assert!(info.contains("regtest"), "{info}");
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no wallet is connected"));
    // Nothing of the connection string reached the data directory.
    let secret = h.sandbox.wallet.uri.split("secret=").nth(1).unwrap().to_string();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(&secret));
    }
}
