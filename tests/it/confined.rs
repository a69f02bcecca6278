//! `purser run`: an agent started in its sandbox pays through Purser, and cannot read Purser's control file,
//! the agents' keys, the ledger or the keyring, approve its own payment or change a budget.

use std::process::Command;

use crate::cli::{RunningSandbox, bin_dir};

/// What the agent tries, one line each: `LEAK:<what>` when something it must not reach worked.
const AGENT: &str = r#"
echo "paid:$(curl -s -o /dev/null -w '%{http_code}' "$PURSER_DEMO_API/joke")"
data="$XDG_DATA_HOME/purser/sandbox"
cat "$data/control.json" >/dev/null 2>&1 && echo LEAK:control
cat "$data/agent-keys.toml" >/dev/null 2>&1 && echo LEAK:keys
cat "$data/purser.sqlite" >/dev/null 2>&1 && echo LEAK:ledger
ls "$data" >/dev/null 2>&1 && [ -n "$(ls -A "$data" | grep -v '^ca$')" ] && echo "LEAK:listing $(ls -A "$data")"
purser approve 1 >/dev/null 2>&1 && echo LEAK:approve
purser budget add --period day --sats 1 >/dev/null 2>&1 && echo LEAK:budget
purser --data-dir "$data" budget add --period day --sats 1 >/dev/null 2>&1 && echo LEAK:budget-data-dir
secret-tool lookup purser-test confined >/dev/null 2>&1 && echo LEAK:keyring
DBUS_SESSION_BUS_ADDRESS="$OUTER_BUS" secret-tool lookup purser-test confined >/dev/null 2>&1 && echo LEAK:keyring-address
[ -n "${PURSER_NWC_URI:-}" ] && echo LEAK:wallet-variable
[ -n "${DISPLAY:-}" ] && echo LEAK:display
echo "home-write:$(touch "$HOME/.purser-run-test" 2>/dev/null && echo yes || echo no)"
echo "work-write:$(touch ./written && echo yes || echo no)"
echo done
"#;

#[test]
fn an_agent_in_purser_run_pays_but_cannot_reach_what_guards_the_money() {
    let home = tempfile::tempdir().unwrap();
    let purser = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_purser"));
        cmd.args(args)
            .env("XDG_DATA_HOME", home.path())
            .env("PATH", format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap_or_default()))
            .env_remove("PURSER_DATA_DIR")
            .env_remove("PURSER_NWC_URI")
            .env("PURSER_LOG", "warn");
        cmd
    };
    let _sandbox = RunningSandbox::start_with(purser(&[]));
    let data = home.path().join("purser").join("sandbox");
    // The control file is written as the proxy starts serving, just after the lines it prints.
    for _ in 0..200 {
        if data.join("control.json").is_file() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for file in ["control.json", "agent-keys.toml", "purser.sqlite"] {
        assert!(data.join(file).is_file(), "{file} exists outside the agent's sandbox");
    }
    // A secret in the person's keyring, as the wallet's connection string is kept.
    let mut store = Command::new("secret-tool")
        .args(["store", "--label", "purser run test", "purser-test", "confined"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("secret-tool is installed (scripts/deps test)");
    use std::io::Write;
    store.stdin.take().unwrap().write_all(b"nostr+walletconnect://secret").unwrap();
    assert!(store.wait().unwrap().success(), "the test's keyring takes the secret");
    let lookup = Command::new("secret-tool").args(["lookup", "purser-test", "confined"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&lookup.stdout), "nostr+walletconnect://secret", "readable outside");

    let budgets = || {
        // Each budget as set (what it has used aside: the agent's paid call uses some).
        let out = purser(&["budget", "list", "--data-dir", data.to_str().unwrap()]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(|l| l.split("  ").filter(|p| !p.is_empty()).take(2).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    let budgets_before = budgets();
    // Started from the directory that holds Purser's data directory: it stays hidden all the same.
    let out = purser(&["run", "--agent", "demo", "--", "bash", "-c", AGENT])
        .current_dir(home.path())
        .env("PURSER_NWC_URI", "nostr+walletconnect://in-the-person-s-environment")
        .env("DISPLAY", ":0")
        .env("OUTER_BUS", std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap_or_default())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("paid:200"), "the paid call works inside: {said}");
    assert!(!said.contains("LEAK"), "{said}");
    assert!(said.contains("home-write:no") && said.contains("work-write:yes"), "{said}");
    assert!(said.trim_end().ends_with("done"), "{said}");
    assert!(home.path().join("written").is_file(), "the working directory is the real one");
    assert_eq!(budgets(), budgets_before, "the person's budgets are unchanged");
    assert_eq!(budgets_before.len(), 1, "{budgets_before:?}");
}

#[test]
fn purser_run_without_bubblewrap_refuses_unless_told() {
    let home = tempfile::tempdir().unwrap();
    let purser = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_purser"));
        cmd.args(args).env("XDG_DATA_HOME", home.path()).env_remove("PURSER_DATA_DIR").env("PURSER_LOG", "warn");
        cmd
    };
    assert!(purser(&["agent", "add", "solo"]).output().unwrap().status.success());
    // A PATH with no bwrap: the fixed places are looked at too, so they are hidden by pointing PURSER_BWRAP
    // nowhere.
    let out =
        purser(&["run", "--agent", "solo", "--", "true"]).env("PURSER_BWRAP", "/nonexistent/bwrap").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bubblewrap") && err.contains("--no-sandbox"), "{err}");
    let out = purser(&["run", "--agent", "solo", "--no-sandbox", "--", "sh", "-c", "echo \"$HTTP_PROXY\""])
        .env("PURSER_BWRAP", "/nonexistent/bwrap")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("http://solo:"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WITHOUT a sandbox"));
}
