//! The `purser` binary as a person uses it: the sandbox with a real curl, agents, the ledger exports, the
//! loopback-only rule, and the wallet connection kept in the OS keyring.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use purser::sandbox::wallet_service::WalletServiceOptions;

use crate::harness::{Harness, Setup};

pub fn purser(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_purser"));
    cmd.arg("--data-dir").arg(data_dir).env_remove("PURSER_NWC_URI").env("PURSER_LOG", "warn");
    cmd
}

pub fn run_ok(cmd: &mut Command) -> String {
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
fn serve_refuses_a_taken_port_and_says_by_what() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let out = purser(dir.path()).args(["serve", "--listen", &addr.to_string()]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{addr}: it is taken by process {}", std::process::id())), "{err}");
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
    let key = added.split_whitespace().find(|w| w.len() == 32 && w.chars().all(|c| c.is_ascii_hexdigit()));
    let key = key.unwrap_or_else(|| panic!("no key in {added}"));
    // The hint works as printed: it names this (not the default) data directory.
    let hint = format!("eval \"$(purser env --data-dir '{}' --agent research)\"", dir.path().display());
    assert!(added.contains(&hint), "{added}");
    // `purser env` prints the agent's settings again, with the same key.
    let env = run_ok(purser(dir.path()).args(["env", "--agent", "research"]));
    assert!(env.contains(&format!("export HTTPS_PROXY='http://research:{key}@127.0.0.1:8402'\n")), "{env}");
    let bundle = dir.path().join("ca").join("bundle.pem");
    assert!(env.contains(&format!("export SSL_CERT_FILE='{}'\n", bundle.display())), "{env}");
    assert!(std::fs::read_to_string(&bundle).unwrap().contains("BEGIN CERTIFICATE"));
    let fish = run_ok(purser(dir.path()).args(["env", "--agent", "research", "--shell", "fish"]));
    assert!(fish.contains("set -gx https_proxy 'http://research:"), "{fish}");
    // A new key replaces the old one in what `purser env` prints.
    let rotated = run_ok(purser(dir.path()).args(["agent", "rotate", "research"]));
    assert!(!rotated.contains(key), "{rotated}");
    let env = run_ok(purser(dir.path()).args(["env"]));
    assert!(!env.contains(key) && env.contains("http://research:"), "the only agent is the default: {env}");
    let again = purser(dir.path()).args(["agent", "add", "research"]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(run_ok(purser(dir.path()).args(["agent", "list"])).trim(), "research");
    assert_eq!(run_ok(purser(dir.path()).arg("ledger")).trim(), "No payments yet.");
}

/// `purser sandbox` running as a child, with the lines it printed for the agent's shell.
pub(crate) struct RunningSandbox {
    _child: Killed,
    exports: Vec<(String, String)>,
    printed: String,
}

impl RunningSandbox {
    fn start(data_dir: &std::path::Path) -> RunningSandbox {
        Self::start_with(purser(data_dir))
    }

    pub(crate) fn start_with(mut cmd: Command) -> RunningSandbox {
        let mut child = cmd
            .args(["sandbox", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let guard = Killed(child);
        let mut exports = Vec::new();
        let mut printed = String::new();
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            printed.push_str(&line);
            printed.push('\n');
            if let Some(rest) = line.strip_prefix("export ") {
                let (k, v) = rest.split_once('=').unwrap();
                exports.push((k.to_string(), v.trim_matches('\'').to_string()));
            }
            if line.contains("Ctrl-C stops the sandbox") {
                break;
            }
        }
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        RunningSandbox { _child: guard, exports, printed }
    }

    pub(crate) fn env(&self, k: &str) -> String {
        self.exports
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} not exported: {}", self.printed))
    }

    /// `curl -s -i $PURSER_DEMO_API<path>` through the proxy, as the agent would run it.
    pub(crate) fn curl(&self, path: &str) -> String {
        self.curl_with(path, &[])
    }

    /// The same with more curl arguments (headers, say).
    fn curl_with(&self, path: &str, extra: &[&str]) -> String {
        let out = Command::new("curl")
            .args(["-s", "-i"])
            .args(extra)
            .arg(format!("{}{path}", self.env("PURSER_DEMO_API")))
            .env("http_proxy", self.env("http_proxy"))
            .env("HTTP_PROXY", self.env("HTTP_PROXY"))
            .env_remove("no_proxy")
            .env_remove("NO_PROXY")
            .output()
            .expect("curl is installed (scripts/test installs it)");
        String::from_utf8(out.stdout).unwrap()
    }
}

/// The README's "try it": `purser sandbox`, its export lines, a real curl through the proxy, the ledger.
#[test]
fn the_sandbox_pays_a_real_curl_once() {
    let dir = tempfile::tempdir().unwrap();
    let sb = RunningSandbox::start(dir.path());
    assert!(sb.printed.contains("PLAY SATS"), "{}", sb.printed);
    assert_eq!(sb.env("http_proxy"), sb.env("HTTP_PROXY"));
    let first = sb.curl("/joke");
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
    let second = sb.curl("/joke");
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    assert_eq!(ledger().as_array().unwrap().len(), 1, "a second identical call must not pay again");
    let csv = run_ok(purser(dir.path()).args(["ledger", "--csv"]));
    assert!(csv.starts_with("id,request_id,agent,"), "{csv}");
    assert!(csv.contains(",settled,"), "{csv}");
}

/// The HTTPS issue's acceptance, as a new user runs it: `purser sandbox` with the default data directory,
/// then in another shell `eval "$(purser env --agent demo)"` and a plain `curl https://…`; the CA is the same
/// after a restart.
#[test]
fn eval_purser_env_then_plain_https_curl_pays() {
    let home = tempfile::tempdir().unwrap();
    let bare = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_purser"));
        cmd.env("XDG_DATA_HOME", home.path()).env_remove("PURSER_DATA_DIR").env_remove("PURSER_NWC_URI");
        cmd.env("PURSER_LOG", "warn");
        cmd
    };
    let shell = |script: &str| {
        let out = Command::new("bash")
            .args(["-c", script])
            .env("PATH", format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap_or_default()))
            .env("XDG_DATA_HOME", home.path())
            .env_remove("PURSER_DATA_DIR")
            .env("NO_PROXY", "localhost,127.0.0.1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let ca_path = home.path().join("purser").join("sandbox").join("ca").join("purser-ca.pem");
    let (ca_before, proxy_before) = {
        let sb = RunningSandbox::start_with(bare());
        assert!(sb.env("PURSER_DEMO_API_HTTPS").starts_with("https://127.0.0.1:"), "{}", sb.printed);
        assert_eq!(sb.env("HTTPS_PROXY"), sb.env("http_proxy"));
        let reply = shell(r#"eval "$(purser env --agent demo)" && curl -s -i "$PURSER_DEMO_API_HTTPS/joke""#);
        assert!(reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/2 200"), "{reply}");
        assert!(reply.contains("micro-manager"), "{reply}");
        let ledger = shell("purser ledger --data-dir \"$XDG_DATA_HOME/purser/sandbox\" --json");
        let rows: serde_json::Value = serde_json::from_str(&ledger).unwrap();
        assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
        assert_eq!(rows[0]["scheme"], "https");
        assert_eq!(rows[0]["status"], "settled");
        assert_eq!(rows[0]["agent"], "demo");
        (std::fs::read_to_string(&ca_path).unwrap(), sb.env("HTTPS_PROXY"))
    };
    let sb = RunningSandbox::start_with(bare());
    assert_eq!(std::fs::read_to_string(&ca_path).unwrap(), ca_before, "the CA must survive a restart unchanged");
    let exported = shell("purser ca export --data-dir \"$XDG_DATA_HOME/purser/sandbox\"");
    assert_eq!(exported, ca_before);
    let path = shell("purser ca path --data-dir \"$XDG_DATA_HOME/purser/sandbox\"");
    assert_eq!(path.trim_end(), ca_path.display().to_string());
    // The agent's shell from before the restart still works: its key was kept (only the port is new).
    let key = |url: &str| url.split('@').next().unwrap().to_string();
    assert_eq!(key(&sb.env("HTTPS_PROXY")), key(&proxy_before), "a restart must not change the demo key");
    let reply = shell(&format!(
        "unset NO_PROXY no_proxy; export HTTPS_PROXY='{}' CURL_CA_BUNDLE='{}'; curl -sS -o /dev/null -w '%{{http_code}}' \"{}/joke\"",
        sb.env("HTTPS_PROXY"),
        sb.env("CURL_CA_BUNDLE"),
        sb.env("PURSER_DEMO_API_HTTPS"),
    ));
    assert_eq!(reply, "200");
}

/// `purser approvals` once approval #1 is listed (waiting up to 10 s).
fn first_approval(dir: &std::path::Path) -> String {
    let mut waiting = String::new();
    for _ in 0..200 {
        waiting = run_ok(purser(dir).arg("approvals"));
        if waiting.contains("#1") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    waiting
}

/// The folder holding the `purser` binary under test, for scripts that call it by name.
pub(crate) fn bin_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_BIN_EXE_purser")).parent().unwrap().to_path_buf()
}

/// The policy issue's acceptance, as a person runs it: a daily budget and an auto-approve limit for the
/// sandbox's agent, ten 21-sat calls, the alerts, and a 250-sat call approved from the command line.
#[test]
fn budgets_alerts_and_approvals_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let sb = RunningSandbox::start(dir.path());
    let out = run_ok(purser(dir.path()).args(["budget", "add", "--agent", "demo", "--period", "day", "--sats", "100"]));
    assert!(out.contains("daily budget #"), "{out}");
    run_ok(purser(dir.path()).args(["threshold", "set", "--agent", "demo", "--auto", "50", "--ask", "1000"]));
    let replies: Vec<String> = (0..10).map(|_| sb.curl("/fortune")).collect();
    let paid = replies.iter().filter(|r| r.starts_with("HTTP/1.1 200")).count();
    assert_eq!(paid, 4, "{replies:#?}");
    for refused in replies.iter().filter(|r| !r.starts_with("HTTP/1.1 200")) {
        assert!(refused.starts_with("HTTP/1.1 402"), "{refused}");
        assert!(refused.to_ascii_lowercase().contains("purser-refused: budget_exceeded"), "{refused}");
        assert!(refused.contains("daily budget #"), "{refused}");
        assert!(refused.contains("\"remaining_msat\":15916"), "{refused}");
    }
    let alerts = run_ok(purser(dir.path()).arg("alerts"));
    for level in ["50 %", "80 %", "100 %"] {
        assert_eq!(alerts.matches(level).count(), 1, "{level}: {alerts}");
    }

    // 250 sats is over what is left today: refused without asking anyone.
    let over = sb.curl("/premium");
    assert!(over.to_ascii_lowercase().contains("purser-refused: budget_exceeded"), "{over}");
    // With room in the budget, it waits for a person.
    let list = run_ok(purser(dir.path()).args(["budget", "list"]));
    let id = list.lines().find(|l| l.contains("agent demo")).and_then(|l| l.split_whitespace().next()).unwrap();
    run_ok(purser(dir.path()).args(["budget", "remove", id.trim_start_matches('#')]));
    let agent = std::thread::scope(|s| {
        let call = s.spawn(|| sb.curl("/premium"));
        let waiting = first_approval(dir.path());
        assert!(waiting.contains("250 sats") && waiting.contains("agent demo"), "{waiting}");
        let approved = run_ok(purser(dir.path()).args(["approve", "1"]));
        assert!(approved.contains("Approved #1"), "{approved}");
        call.join().unwrap()
    });
    assert!(agent.starts_with("HTTP/1.1 200"), "{agent}");
    assert!(agent.contains("\"report\""), "{agent}");
}

/// The currency issue's acceptance from the command line, in the sandbox: USD chosen, $1 a day, pay at once up
/// to $0.05; a 21-sat call paid and shown in both, a 250-sat call held with its value, the rate the proxy
/// uses, and the CSV's columns.
#[test]
fn dollar_limits_and_figures_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let sb = RunningSandbox::start(dir.path());
    assert!(run_ok(purser(dir.path()).args(["currency", "USD"])).contains("sats and USD"));
    let out = run_ok(purser(dir.path()).args(["budget", "add", "--period", "day", "--fiat", "1 USD"]));
    assert!(out.contains("daily budget #") && out.contains("($1.00)"), "{out}");
    let out =
        run_ok(purser(dir.path()).args(["threshold", "set", "--currency", "USD", "--auto", "0.05", "--ask", "5"]));
    assert!(out.contains("pay at once up to $0.05, ask up to $5.00"), "{out}");
    // The running sandbox's play rate, not a market one.
    let rate = run_ok(purser(dir.path()).arg("rate"));
    assert!(rate.contains("1 BTC = 100000.00 USD (from sandbox play rate)"), "{rate}");

    assert!(sb.curl("/fortune").starts_with("HTTP/1.1 200"));
    let table = run_ok(purser(dir.path()).arg("ledger"));
    assert!(table.lines().next().unwrap().contains("VALUE"), "{table}");
    assert!(table.contains("$0.021021"), "{table}");
    let list = run_ok(purser(dir.path()).args(["budget", "list"]));
    assert!(list.contains("$0.021021 used, $0.978979 (978.979 sats) left"), "{list}");
    let csv = run_ok(purser(dir.path()).args(["ledger", "--csv"]));
    assert!(
        csv.lines().next().unwrap().ends_with("fiat_currency,fiat_per_btc,fiat_source,fiat_value,instance"),
        "{csv}"
    );
    assert!(csv.lines().nth(1).unwrap().contains(",USD,100000.0,sandbox play rate,0.021021,"), "{csv}");

    let agent = std::thread::scope(|s| {
        let call = s.spawn(|| sb.curl("/premium"));
        let waiting = first_approval(dir.path());
        assert!(waiting.contains("250 sats ($0.25)"), "{waiting}");
        assert!(waiting.contains("auto-approve limit of $0.05 (50 sats)"), "{waiting}");
        run_ok(purser(dir.path()).args(["deny", "1"]));
        call.join().unwrap()
    });
    assert!(agent.to_ascii_lowercase().contains("purser-refused: denied_by_user"), "{agent}");
    assert!(run_ok(purser(dir.path()).args(["currency", "none"])).contains("sats only"));
}

#[test]
fn invalid_policy_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let before = run_ok(purser(dir.path()).args(["threshold", "list"]));
    let err = |args: &[&str]| {
        let out = purser(dir.path()).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(err(&["threshold", "set", "--auto", "50", "--ask", "10"]).contains("cannot be below"));
    assert!(err(&["budget", "add", "--period", "day", "--sats", "-5"]).contains("-5"));
    assert!(err(&["budget", "add", "--period", "rolling", "--sats", "5"]).contains("--hours"));
    assert!(err(&["budget", "add", "--period", "fortnight", "--sats", "5"]).contains("fortnight"));
    assert!(err(&["budget", "add", "--period", "held", "--sats", "5"]).contains("the API as a whole"));
    assert!(
        err(&["budget", "add", "--period", "day", "--sats", "5", "--agent", "nobody"]).contains("no agent is named")
    );
    assert!(
        err(&["budget", "add", "--period", "day", "--sats", "5", "--api", "h", "--expires", "soon"])
            .contains("--expires")
    );
    assert_eq!(run_ok(purser(dir.path()).args(["threshold", "list"])), before);
    let budgets = run_ok(purser(dir.path()).args(["budget", "list"]));
    assert_eq!(budgets.lines().filter(|l| l.starts_with('#')).count(), 1, "only the first-run default: {budgets}");
    std::fs::write(dir.path().join("purser.toml"), "time_zone = \"Atlantis/Lost\"\n").unwrap();
    let bad = err(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(bad.contains("purser.toml is not valid") && bad.contains("Atlantis/Lost"), "{bad}");
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
    assert!(out.contains("100,000 sats"), "{out}");
    assert!(!out.contains(&h.sandbox.wallet.uri), "the connection string must not be printed");
}

/// Needs a Secret Service on the session bus (scripts/test starts one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_connect_keeps_the_uri_in_the_os_keyring() {
    let h = Harness::start(Setup::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let uri = h.sandbox.wallet.uri.clone();
    let (cut, connected, info, gone) = tokio::task::spawn_blocking(move || {
        // A string cut short is refused with the part named, and nothing is kept.
        let secret = uri.split("secret=").nth(1).unwrap().split('&').next().unwrap();
        let cut = uri.replace(secret, &secret[..40]);
        let cut = purser(&path).args(["wallet", "connect", &cut]).output().unwrap();
        let connected = run_ok(purser(&path).args(["wallet", "connect", &uri]));
        let info = run_ok(purser(&path).args(["wallet", "info"]));
        run_ok(purser(&path).args(["wallet", "disconnect"]));
        let gone = purser(&path).args(["wallet", "info"]).output().unwrap();
        (cut, connected, info, gone)
    })
    .await
    .unwrap();
    let cut_says = String::from_utf8_lossy(&cut.stderr);
    assert!(!cut.status.success() && cut_says.contains("the secret must be 64 hexadecimal characters"), "{cut_says}");
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

/// The dialects issue's acceptance, as a new user checks it against the sandbox: one call to each dialect's
/// demo endpoint paid and shown with its dialect, `purser pricing` listing the demo prices, a dry run that
/// pays nothing, an endpoint priced above its advertised price held for approval with an alert, and the
/// kept credentials listed and revoked.
#[test]
fn every_dialect_priced_and_paid_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let sb = RunningSandbox::start(dir.path());
    let api = sb.env("PURSER_DEMO_API");
    let prices = run_ok(purser(dir.path()).args(["pricing", &api]));
    assert!(prices.contains(&format!("Prices published by {api}")), "{prices}");
    for (path, sats) in [("/joke", "1"), ("/mpp", "3"), ("/x402", "4"), ("/surge", "10"), ("/summarize", "21")] {
        let line =
            prices.lines().find(|l| l.split_whitespace().nth(1) == Some(path)).unwrap_or_else(|| panic!("{prices}"));
        assert_eq!(line.split_whitespace().nth(2), Some(sats), "{line}");
        assert!(line.contains("pricing, l402-services, l402.json, openapi"), "{line}");
    }
    // The dynamically priced endpoint, from the discovery document and OpenAPI, with where it is quoted.
    let quoted =
        prices.lines().find(|l| l.split_whitespace().nth(1) == Some("/quoted")).unwrap_or_else(|| panic!("{prices}"));
    assert_eq!(quoted.split_whitespace().nth(2), Some("quoted"), "{quoted}");
    assert!(quoted.contains("l402.json, openapi") && quoted.contains("quote: POST /l402/quote"), "{quoted}");
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(purser(dir.path()).args(["pricing", &api, "--json"]))).unwrap();
    assert!(json["prices"].as_array().unwrap().len() >= 4 * 12, "{json}");

    for path in ["/joke", "/legacy", "/mpp", "/x402", "/x402-v1", "/hash-only"] {
        let reply = sb.curl(path);
        assert!(reply.starts_with("HTTP/1.1 200"), "{path}: {reply}");
    }
    let table = run_ok(purser(dir.path()).arg("ledger"));
    assert!(table.lines().next().unwrap().contains("DIALECT"), "{table}");
    for dialect in ["l402", "lsat", "mpp", "x402", "hash_only"] {
        assert!(table.lines().any(|l| l.split_whitespace().any(|w| w == dialect)), "{dialect} missing:\n{table}");
    }
    let paid = |dir: &std::path::Path| {
        let rows: serde_json::Value = serde_json::from_str(&run_ok(purser(dir).args(["ledger", "--json"]))).unwrap();
        rows.as_array().unwrap().len()
    };
    assert_eq!(paid(dir.path()), 6);

    let dry = sb.curl_with("/premium", &["-H", "Purser-Dry-Run: 1"]);
    assert!(dry.starts_with("HTTP/1.1 200"), "{dry}");
    assert!(dry.contains("\"amount_msat\":250000") && dry.contains("\"dialect\":\"l402\""), "{dry}");
    assert_eq!(paid(dir.path()), 6, "a dry run pays nothing and records nothing");

    let held = std::thread::scope(|s| {
        let call = s.spawn(|| sb.curl("/surge"));
        let waiting = first_approval(dir.path());
        assert!(waiting.contains("2× its advertised 10 sats"), "{waiting}");
        let alerts = run_ok(purser(dir.path()).arg("alerts"));
        assert!(alerts.contains("price_above_advertised"), "{alerts}");
        run_ok(purser(dir.path()).args(["approve", "1"]));
        call.join().unwrap()
    });
    assert!(held.starts_with("HTTP/1.1 200"), "{held}");

    let kept = run_ok(purser(dir.path()).arg("credentials"));
    let line = kept.lines().find(|l| l.contains("/joke")).unwrap_or_else(|| panic!("{kept}"));
    let id = line.split_whitespace().next().unwrap();
    assert!(line.contains("L402") && line.contains("demo"), "{line}");
    let revoked = run_ok(purser(dir.path()).args(["credentials", "revoke", id]));
    assert!(revoked.contains(&format!("Revoked credential #{id}")), "{revoked}");
    assert!(!run_ok(purser(dir.path()).arg("credentials")).contains(&format!("{api}/joke")));

    // A session: one 10-sat deposit, then 3 sats drawn per call; what is held shows in `purser ledger`
    // and `purser sessions`, and comes back when a person closes the session.
    for _ in 0..3 {
        let reply = sb.curl("/session");
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    }
    let table = run_ok(purser(dir.path()).arg("ledger"));
    assert!(table.contains("Held at APIs: 4 sat"), "{table}");
    let capped = run_ok(purser(dir.path()).args(["budget", "add", "--api", &api, "--period", "held", "--sats", "5"]));
    assert!(capped.contains("on what is held at API"), "{capped}");
    let budgets = run_ok(purser(dir.path()).args(["budget", "list"]));
    assert!(budgets.contains("4 sats held there now, 1 sat left"), "{budgets}");
    assert!(table.lines().any(|l| l.split_whitespace().any(|w| w == "mpp_session")), "{table}");
    let sessions = run_ok(purser(dir.path()).arg("sessions"));
    let is_row = |l: &&str| l.split_whitespace().next().is_some_and(|id| id.parse::<i64>().is_ok());
    let line = sessions.lines().filter(is_row).find(|l| l.contains(" open ")).unwrap_or_else(|| panic!("{sessions}"));
    let id = line.split_whitespace().next().unwrap();
    let closed = run_ok(purser(dir.path()).args(["sessions", "close", id]));
    assert!(closed.contains(&format!("Closed session #{id}; the API returns 4 sat")), "{closed}");
    let mut received = String::new();
    for _ in 0..50 {
        received = run_ok(purser(dir.path()).arg("sessions"));
        if received.contains("4 sat received") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(received.contains("Held at APIs: 0 sat") && received.contains("4 sat received"), "{received}");

    // Prepaid credit: the 402 goes to the agent until a rule allows top-ups at this API; then one pack is
    // bought, and what it holds shows with the sessions.
    assert!(sb.curl("/credit").starts_with("HTTP/1.1 402"));
    run_ok(purser(dir.path()).args(["rule", "add", "--agent", "demo", "--api", &api, "--max-sats-per-day", "100"]));
    // The 5-sat cap on what this API holds, added above, refuses a 30-sat pack; without it the pack is bought.
    let capped = sb.curl("/credit");
    assert!(capped.to_ascii_lowercase().contains("purser-refused: budget_exceeded"), "{capped}");
    let cap_id = budgets.lines().find(|l| l.contains("on what is held")).and_then(|l| l.split_whitespace().next());
    run_ok(purser(dir.path()).args(["budget", "remove", cap_id.unwrap().trim_start_matches('#')]));
    let bought = sb.curl("/credit");
    assert!(bought.starts_with("HTTP/1.1 200"), "{bought}");
    let table = run_ok(purser(dir.path()).arg("ledger"));
    assert!(table.contains("Held at APIs: 30 sat") && table.contains("1 credit(s) bought by top-up"), "{table}");
    assert!(table.lines().any(|l| l.split_whitespace().any(|w| w == "l402_top_up")), "{table}");
}

/// The reliability issue's acceptance: `purser sandbox` killed (`SIGKILL`) in the middle of paid calls and
/// started again, three times; the ledger then matches the sandbox wallet's own record of its payments
/// exactly (it is kept in the data directory, so it outlives the kills).
#[test]
fn killing_the_sandbox_mid_payment_leaves_a_ledger_matching_its_wallet() {
    use rand::Rng;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::thread_rng();
    for round in 0..3 {
        let sb = RunningSandbox::start(dir.path());
        let (proxy, api) = (sb.env("HTTP_PROXY"), sb.env("PURSER_DEMO_API"));
        // Single-use proofs (MPP, x402, hash-only): every call is a payment of its own.
        let calls: Vec<Child> = ["/mpp", "/x402", "/hash-only", "/mpp", "/x402-v1"]
            .iter()
            .map(|path| {
                Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "--max-time", "20", &format!("{api}{path}")])
                    .env("http_proxy", &proxy)
                    .env_remove("no_proxy")
                    .env_remove("NO_PROXY")
                    .spawn()
                    .unwrap()
            })
            .collect();
        // The first two kills land at random moments; the last after the calls had time to be paid.
        let wait_ms = if round < 2 { rng.gen_range(20..400) } else { 1_500 };
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        drop(sb); // SIGKILL, mid-payment or not
        for mut c in calls {
            let _ = c.wait();
        }
    }
    let _sb = RunningSandbox::start(dir.path());
    let mut rows = serde_json::Value::Null;
    for _ in 0..200 {
        rows = serde_json::from_str(&run_ok(purser(dir.path()).args(["ledger", "--json"]))).unwrap();
        let open = rows
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| matches!(r["status"].as_str(), Some("pending" | "paying" | "unknown")));
        if open.count() == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let settled: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "settled")
        .map(|r| r["payment_hash"].as_str().unwrap().to_string())
        .collect();
    let wallet = purser::sandbox::wallet_service::saved_payments(
        &dir.path().join(purser::sandbox::wallet_service::SANDBOX_WALLET_FILE),
    )
    .unwrap();
    let mut paid: Vec<String> = wallet.iter().map(|p| p.payment_hash.clone()).collect();
    let mut in_ledger = settled.clone();
    paid.sort();
    in_ledger.sort();
    assert!(!paid.is_empty(), "the calls were paid");
    assert_eq!(in_ledger, paid, "the ledger's settled payments are exactly the wallet's: {rows:#}");
    let interrupted = rows.as_array().unwrap().iter().filter(|r| r["reason"] == "interrupted").count();
    eprintln!(
        "reliability: 15 calls, 3 kills; {} payments in the wallet's record = {} settled rows; {interrupted} paid \
         calls cut off before the API answered (not delivered: interrupted)",
        paid.len(),
        in_ledger.len()
    );
    assert!(rows.as_array().unwrap().iter().all(|r| !matches!(r["status"].as_str(), Some("pending" | "paying"))));
}
