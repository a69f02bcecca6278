//! `purser approvals`, `purser approve ID`, `purser deny ID`: answering held payments through the running
//! proxy's control endpoint (in a team's database, through the database: `team_approvals`). Answers name the count the person was shown, so requests that join later wait
//! for a new decision; an approval that needs confirming reads the passphrase (or the typed amount) from the
//! terminal.

use std::path::PathBuf;

use clap::Args;
use http::Method;
use purser::approval::ApprovalView;
use purser::config::Settings;
use purser::policy::Clock;
use purser::proxy::control;
use serde_json::json;

use super::passphrase::read_hidden;
use super::{Error, Result};

#[derive(Args)]
pub struct ApproveArgs {
    id: u64,
    /// Also remember: approve this agent on this API up to N sats a day without asking
    #[arg(long, value_name = "SATS")]
    remember_per_day: Option<u64>,
}

#[derive(Args)]
pub struct DenyArgs {
    id: u64,
}

fn control_path(data_dir: PathBuf) -> PathBuf {
    Settings::new(data_dir).control_path()
}

pub async fn list(data_dir: PathBuf) -> Result<()> {
    if let Some(ledger) = super::team_approvals::ledger(&data_dir).await? {
        return super::team_approvals::list(&ledger).await;
    }
    let list = control::call(&control_path(data_dir), Method::GET, "approvals", None).await?;
    let items: Vec<ApprovalView> = serde_json::from_value(list).unwrap_or_default();
    if items.is_empty() {
        println!("Nothing is waiting for your approval.");
    }
    for a in items {
        let confirm = if a.confirm { "  needs your passphrase" } else { "" };
        println!(
            "#{}  {}  agent {}  {} {}{}  ({} s left){confirm}",
            a.id,
            a.describe_amount(),
            a.agent,
            a.method,
            a.host,
            a.path,
            seconds_left(&a)
        );
        println!("      {}", a.explanation);
    }
    Ok(())
}

fn seconds_left(a: &ApprovalView) -> i64 {
    (a.expires_at_ms - purser::policy::clock::SystemClock.now_ms()).max(0) / 1000
}

/// The approval as the proxy holds it now: what the person is shown before answering.
async fn waiting(control: &std::path::Path, id: u64) -> Result<ApprovalView> {
    let list = control::call(control, Method::GET, "approvals", None).await?;
    let items: Vec<ApprovalView> = serde_json::from_value(list).unwrap_or_default();
    items.into_iter().find(|a| a.id == id).ok_or_else(|| {
        Error::Usage(format!("no approval with id {id} is waiting (it may have been answered or timed out)"))
    })
}

pub async fn approve(data_dir: PathBuf, args: ApproveArgs) -> Result<()> {
    if let Some(ledger) = super::team_approvals::ledger(&data_dir).await? {
        return super::team_approvals::answer(&ledger, args.id, true, args.remember_per_day).await;
    }
    let control = control_path(data_dir.clone());
    let a = waiting(&control, args.id).await?;
    println!("#{}: {} for agent {}, {} {}{}", a.id, a.describe_amount(), a.agent, a.method, a.host, a.path);
    let mut body = json!({"remember_max_sats_per_day": args.remember_per_day, "count": a.count});
    let ledger = purser::ledger::Ledger::open_at(&purser::config::ledger_location(&data_dir)?).await?;
    let passphrase_set = ledger.passphrase_hash().await?.is_some();
    if passphrase_set && (a.confirm || args.remember_per_day.is_some()) {
        let why = if a.confirm {
            "This payment needs your passphrase: "
        } else {
            "Remembering a rule needs your passphrase: "
        };
        body["passphrase"] = json!(read_hidden(why)?);
    }
    if a.confirm && !passphrase_set {
        let sats = a.total_msat.div_ceil(1000);
        let typed = read_hidden(&format!("To confirm, type the amount in sats ({sats}): "))?;
        body["typed_sats"] = json!(typed.trim().replace([',', '_', ' '], "").parse::<u64>().unwrap_or(0));
    }
    let answer = control::call(&control, Method::POST, &format!("approvals/{}/approve", args.id), Some(body)).await?;
    let released = answer["approval"]["count"].as_u64().unwrap_or(1);
    println!("Approved #{} ({released} request{}).", args.id, if released == 1 { "" } else { "s" });
    if let Some(rule) = answer["rule"].as_object() {
        println!("Remembered as rule #{}: no need to ask again up to that amount a day.", rule["id"]);
    }
    Ok(())
}

pub async fn deny(data_dir: PathBuf, args: DenyArgs) -> Result<()> {
    if let Some(ledger) = super::team_approvals::ledger(&data_dir).await? {
        return super::team_approvals::answer(&ledger, args.id, false, None).await;
    }
    let control = control_path(data_dir);
    let a = waiting(&control, args.id).await?;
    control::call(&control, Method::POST, &format!("approvals/{}/deny", args.id), Some(json!({"count": a.count})))
        .await?;
    println!("Denied #{}: {} for agent {}.", a.id, a.describe_amount(), a.agent);
    Ok(())
}
