//! Approvals that need the person, over real sockets: a payment above the confirm limit waits for the
//! passphrase (a click, a missing or wrong passphrase pays nothing), the typed amount when no passphrase is
//! set, "every approval needs the passphrase", five wrong tries lock confirmations and raise an alert, and
//! `purser approve` and `purser budget` read the passphrase from a terminal (driven through a pty).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Method;
use purser::consent;
use purser::ledger::alerts::AlertKind;
use purser::proxy::control;
use serde_json::{Value, json};

use crate::cli::{RunningSandbox, purser, run_ok};
use crate::harness::{Harness, Setup};
use crate::refusals::assert_refused;

const PASSPHRASE: &str = "correct horse battery";

async fn approve(h: &Harness, id: &Value, body: Value) -> Result<Value, String> {
    control::call(&h.control, Method::POST, &format!("approvals/{id}/approve"), Some(body))
        .await
        .map_err(|e| e.to_string())
}

async fn confirm_tier() -> Arc<Harness> {
    let h = Harness::start(Setup { auto_sats: 10, ask_sats: 1000, confirm_above_sats: Some(100), ..Setup::default() })
        .await;
    Arc::new(h)
}

/// The agent's call to `path`, left running while it waits for a person.
fn call(h: &Arc<Harness>, path: &'static str) -> tokio::task::JoinHandle<crate::harness::Reply> {
    let h = h.clone();
    tokio::spawn(async move { h.get(path).await })
}

fn premium(h: &Arc<Harness>) -> tokio::task::JoinHandle<crate::harness::Reply> {
    call(h, "/premium")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn above_the_confirm_limit_only_the_passphrase_pays() {
    let h = confirm_tier().await;
    h.ledger.set_passphrase_hash(Some(&consent::hash(PASSPHRASE).unwrap())).await.unwrap();
    // Below the confirm limit, a click still does.
    let fortune = call(&h, "/fortune");
    let waiting = h.held(1).await;
    assert_eq!(waiting[0]["confirm"], false);
    approve(&h, &waiting[0]["id"], json!({"count": 1})).await.unwrap();
    assert_eq!(fortune.await.unwrap().status, 200);

    let call = premium(&h);
    let waiting = h.held(1).await;
    let id = &waiting[0]["id"];
    assert_eq!(waiting[0]["confirm"], true, "{}", waiting[0]);
    assert!(waiting[0]["explanation"].as_str().unwrap().contains("confirm limit of 100 sats"), "{}", waiting[0]);
    // A click, a typed amount or a wrong passphrase: refused, nothing paid, still waiting.
    let click = approve(&h, id, json!({"count": 1})).await.unwrap_err();
    assert!(click.contains("needs your passphrase"), "{click}");
    let typed = approve(&h, id, json!({"count": 1, "typed_sats": 250})).await.unwrap_err();
    assert!(typed.contains("needs your passphrase"), "{typed}");
    let wrong = approve(&h, id, json!({"count": 1, "passphrase": "correct horse"})).await.unwrap_err();
    assert!(wrong.contains("wrong passphrase") && wrong.contains("4 more wrong tries"), "{wrong}");
    assert_eq!(h.sandbox.wallet.pay_requests(), 1);
    assert!(!call.is_finished());
    assert_eq!(h.held(1).await[0]["id"], *id);
    // The passphrase pays it.
    approve(&h, id, json!({"count": 1, "passphrase": PASSPHRASE})).await.unwrap();
    assert_eq!(call.await.unwrap().status, 200);
    assert_eq!(h.sandbox.wallet.pay_requests(), 2);
    let rows = h.rows().await;
    assert_eq!(rows[1].status, "settled");
    assert!(rows[1].decision.contains("approved by a person"), "{}", rows[1].decision);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembering_a_rule_from_the_control_endpoint_takes_the_passphrase() {
    let h = confirm_tier().await;
    h.ledger.set_passphrase_hash(Some(&consent::hash(PASSPHRASE).unwrap())).await.unwrap();
    let fortune = call(&h, "/fortune");
    let id = h.held(1).await[0]["id"].clone();
    let unlocked = approve(&h, &id, json!({"count": 1, "remember_max_sats_per_day": 100_000_000})).await.unwrap_err();
    assert!(unlocked.contains("needs your passphrase"), "{unlocked}");
    assert!(h.ledger.rules().await.unwrap().is_empty());
    assert!(!fortune.is_finished(), "still waiting");
    let answered = approve(&h, &id, json!({"count": 1, "remember_max_sats_per_day": 100, "passphrase": PASSPHRASE}))
        .await
        .unwrap();
    assert_eq!(answered["rule"]["max_per_day"], 100_000);
    assert_eq!(fortune.await.unwrap().status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_passphrase_the_confirm_tier_takes_the_amount_typed() {
    let h = confirm_tier().await;
    let call = premium(&h);
    let id = h.held(1).await[0]["id"].clone();
    let click = approve(&h, &id, json!({"count": 1})).await.unwrap_err();
    assert!(click.contains("type the amount, 250 sats"), "{click}");
    let typo = approve(&h, &id, json!({"count": 1, "typed_sats": 25})).await.unwrap_err();
    assert!(typo.contains("not the amount"), "{typo}");
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
    approve(&h, &id, json!({"count": 1, "typed_sats": 250})).await.unwrap();
    assert_eq!(call.await.unwrap().status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_approval_can_need_the_passphrase() {
    let h = confirm_tier().await;
    h.ledger.set_passphrase_hash(Some(&consent::hash(PASSPHRASE).unwrap())).await.unwrap();
    h.ledger.set_confirm_every_approval(true).await.unwrap();
    let fortune = call(&h, "/fortune");
    let waiting = h.held(1).await;
    assert_eq!(waiting[0]["confirm"], true, "21 sats is below the confirm limit, but every approval needs it");
    assert!(approve(&h, &waiting[0]["id"], json!({"count": 1})).await.is_err());
    approve(&h, &waiting[0]["id"], json!({"count": 1, "passphrase": PASSPHRASE})).await.unwrap();
    assert_eq!(fortune.await.unwrap().status, 200);
    // Within the auto-approve limit nothing is asked.
    assert_eq!(h.get("/joke").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passphrases_lock_confirmations_and_raise_an_alert() {
    let h = confirm_tier().await;
    h.ledger.set_passphrase_hash(Some(&consent::hash(PASSPHRASE).unwrap())).await.unwrap();
    let mut alerts = h.events.subscribe();
    let call = premium(&h);
    let id = h.held(1).await[0]["id"].clone();
    for _ in 0..4 {
        let e = approve(&h, &id, json!({"count": 1, "passphrase": "guess"})).await.unwrap_err();
        assert!(e.contains("wrong passphrase"), "{e}");
    }
    let locked = approve(&h, &id, json!({"count": 1, "passphrase": "guess"})).await.unwrap_err();
    assert!(locked.contains("locked for 300 more seconds"), "{locked}");
    // The right passphrase is refused while locked.
    let still = approve(&h, &id, json!({"count": 1, "passphrase": PASSPHRASE})).await.unwrap_err();
    assert!(still.contains("locked"), "{still}");
    let recorded = h.ledger.alerts(10).await.unwrap();
    assert_eq!(recorded.iter().filter(|a| a.kind == AlertKind::ConfirmationsLocked).count(), 1, "{recorded:?}");
    let mut emitted = false;
    while let Ok(e) = alerts.try_recv() {
        emitted |= matches!(e, purser::events::Event::Alert { alert } if alert.kind == AlertKind::ConfirmationsLocked);
    }
    assert!(emitted, "the alert reaches the window and notifications");
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
    // Denying needs no passphrase, locked or not.
    control::call(&h.control, Method::POST, &format!("approvals/{id}/deny"), Some(json!({"count": 1}))).await.unwrap();
    assert_refused(&call.await.unwrap(), "denied_by_user");
}

/// `command` run in a pseudo-terminal (util-linux `script`), answering each prompt in `answers` once it
/// shows; returns everything the terminal showed.
fn in_terminal(command: &str, answers: &[(&str, &str)]) -> (bool, String) {
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs commands in a pty");
    let shown = Arc::new(Mutex::new(String::new()));
    let mut out = child.stdout.take().unwrap();
    let reader = {
        let shown = shown.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                shown.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = 0;
    for (prompt, answer) in answers {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = shown.lock().unwrap().clone();
            if let Some(at) = text[seen..].find(prompt) {
                seen += at + prompt.len();
                break;
            }
            assert!(Instant::now() < deadline, "`{prompt}` never showed: {text}");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Echo is off by now: what is typed does not show.
        stdin.write_all(format!("{answer}\r").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    let status = child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    let text = shown.lock().unwrap().clone();
    (status.success(), text)
}

fn purser_line(dir: &std::path::Path, args: &str) -> String {
    format!("PURSER_LOG=warn {} --data-dir {} {args}", env!("CARGO_BIN_EXE_purser"), dir.display())
}

/// The issue's acceptance from a terminal: a passphrase set with `purser passphrase set`, a threshold that
/// confirms above 100 sats, `/premium` waiting for the passphrase; `purser approve` without a terminal, or
/// with a wrong passphrase, pays nothing; typed at the terminal, it pays. Changing a budget asks for it too.
#[test]
fn purser_approve_and_budget_changes_read_the_passphrase_from_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let sb = RunningSandbox::start_with(purser(dir.path()));
    let (ok, shown) = in_terminal(
        &purser_line(dir.path(), "passphrase set"),
        &[("New passphrase: ", PASSPHRASE), ("Again: ", PASSPHRASE)],
    );
    assert!(ok && shown.contains("Passphrase set"), "{shown}");
    assert!(!shown.contains(PASSPHRASE), "the passphrase is never echoed: {shown}");

    // With a passphrase set, changing thresholds needs it: no terminal, no change.
    let refused = purser(dir.path())
        .args(["threshold", "set", "--auto", "10", "--ask", "1000", "--confirm-above", "100"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("typed at a terminal"));
    let (ok, shown) = in_terminal(
        &purser_line(dir.path(), "threshold set --auto 10 --ask 1000 --confirm-above 100"),
        &[("Passphrase: ", PASSPHRASE)],
    );
    assert!(ok && shown.contains("confirm with your passphrase above 100 sats"), "{shown}");
    let budgets = run_ok(purser(dir.path()).args(["budget", "list"]));
    let (ok, shown) =
        in_terminal(&purser_line(dir.path(), "budget add --period day --sats 1"), &[("Passphrase: ", "guess")]);
    assert!(!ok && shown.contains("wrong passphrase"), "{shown}");
    assert_eq!(run_ok(purser(dir.path()).args(["budget", "list"])), budgets, "nothing changed");

    std::thread::scope(|s| {
        let call = s.spawn(|| sb.curl("/premium"));
        let mut listed = String::new();
        for _ in 0..200 {
            listed = run_ok(purser(dir.path()).arg("approvals"));
            if listed.contains("#1") {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(listed.contains("250 sats") && listed.contains("needs your passphrase"), "{listed}");
        // Not from an argument, not from the environment, not without a terminal.
        let piped = purser(dir.path())
            .args(["approve", "1"])
            .env("PURSER_PASSPHRASE", PASSPHRASE)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!piped.status.success(), "{}", String::from_utf8_lossy(&piped.stdout));
        let (ok, shown) =
            in_terminal(&purser_line(dir.path(), "approve 1"), &[("needs your passphrase: ", "wrong guess")]);
        assert!(!ok && shown.contains("wrong passphrase"), "{shown}");
        assert!(run_ok(purser(dir.path()).arg("approvals")).contains("#1"), "still waiting");
        let (ok, shown) =
            in_terminal(&purser_line(dir.path(), "approve 1"), &[("needs your passphrase: ", PASSPHRASE)]);
        assert!(ok && shown.contains("Approved #1 (1 request)"), "{shown}");
        assert!(!shown.contains(PASSPHRASE), "{shown}");
        let reply = call.join().unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    });
}
