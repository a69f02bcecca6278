//! `purser approvals`, `purser approve ID`, `purser deny ID`: answering held payments through the running
//! proxy's control endpoint.

use std::path::PathBuf;

use clap::Args;
use http::Method;
use purser::config::Settings;
use purser::policy::Clock;
use purser::proxy::control;
use serde_json::json;

use super::Result;

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
    let list = control::call(&control_path(data_dir), Method::GET, "approvals", None).await?;
    let items = list.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        println!("Nothing is waiting for your approval.");
    }
    let now = purser::policy::clock::SystemClock.now_ms();
    for a in items {
        let left = (a["expires_at_ms"].as_i64().unwrap_or(0) - now).max(0) / 1000;
        let count = a["count"].as_u64().unwrap_or(1);
        let times = if count > 1 { format!(" ×{count}") } else { String::new() };
        println!(
            "#{}  {} sats  agent {}  {} {}{}{times}  ({} s left)",
            a["id"],
            a["amount_msat"].as_u64().unwrap_or(0) as f64 / 1000.0,
            a["agent"].as_str().unwrap_or("?"),
            a["method"].as_str().unwrap_or("?"),
            a["host"].as_str().unwrap_or("?"),
            a["path"].as_str().unwrap_or(""),
            left
        );
        println!("      {}", a["explanation"].as_str().unwrap_or(""));
    }
    Ok(())
}

pub async fn approve(data_dir: PathBuf, args: ApproveArgs) -> Result<()> {
    let body = json!({"remember_max_sats_per_day": args.remember_per_day});
    let answer =
        control::call(&control_path(data_dir), Method::POST, &format!("approvals/{}/approve", args.id), Some(body))
            .await?;
    println!("Approved #{}.", args.id);
    if let Some(rule) = answer["rule"].as_object() {
        println!("Remembered as rule #{}: no need to ask again up to that amount a day.", rule["id"]);
    }
    Ok(())
}

pub async fn deny(data_dir: PathBuf, args: DenyArgs) -> Result<()> {
    control::call(&control_path(data_dir), Method::POST, &format!("approvals/{}/deny", args.id), None).await?;
    println!("Denied #{}.", args.id);
    Ok(())
}
