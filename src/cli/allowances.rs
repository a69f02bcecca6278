//! `purser allowances` and `purser allowance approve|deny|open|raise|close`: task allowances through the
//! running proxy's control endpoint. When an answer needs the person's confirmation (a maximum above the
//! confirm tier), the passphrase (or the typed amount) is read from the terminal and the call made again.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use http::Method;
use purser::config::Settings;
use purser::ledger::allowances::Allowance;
use purser::policy::Clock;
use purser::proxy::control;
use purser::units::Msats;
use serde_json::{Value, json};

use super::passphrase::read_hidden;
use super::{Error, Result};

#[derive(Args)]
pub struct ListArgs {
    /// Also the closed, denied and expired ones (the last 100)
    #[arg(long)]
    all: bool,
}

#[derive(Subcommand)]
pub enum AllowanceCommand {
    /// Approve a requested allowance, optionally with a lower maximum or a shorter time
    Approve {
        id: i64,
        /// The most it may spend (at most what was asked): sats, or "1.50 USD" for one set in a currency
        #[arg(long, value_name = "SATS|AMOUNT CODE")]
        max: Option<String>,
        /// How long it lasts from now (e.g. 30m, 2h, 1d; at most what was asked)
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
        duration_secs: Option<u64>,
    },
    /// Deny a requested allowance
    Deny { id: i64 },
    /// Open an allowance for an agent, active at once
    Open {
        #[arg(long)]
        agent: String,
        /// What the task is, in a few words
        #[arg(long)]
        purpose: String,
        /// The most it may spend: sats, or an amount in a currency ("2.50 USD"), converted at the rate of each
        /// payment
        #[arg(long, value_name = "SATS|AMOUNT CODE")]
        max: String,
        /// The most one payment may be, in the same denomination
        #[arg(long, value_name = "SATS|AMOUNT CODE")]
        per_payment: Option<String>,
        /// Limit it to an API (host[:port][/path] or a URL); repeat for several
        #[arg(long = "api")]
        apis: Vec<String>,
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration, default_value = "1h")]
        duration_secs: u64,
    },
    /// Raise an active allowance's maximum (the answer to an overage)
    Raise {
        id: i64,
        /// The new maximum, in the allowance's own denomination: sats, or "3 USD"
        #[arg(long, value_name = "SATS|AMOUNT CODE")]
        max: String,
    },
    /// Close an allowance: the rest is released and its summary recorded
    Close { id: i64 },
}

/// `90s`, `30m`, `2h`, `1d` (or plain seconds) as seconds.
fn parse_duration(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration: write 90s, 30m, 2h or 1d"))?;
    let scale = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3_600,
        "d" => 86_400,
        other => return Err(format!("`{other}` is not a unit: use s, m, h or d")),
    };
    Ok(n.saturating_mul(scale))
}

fn control_path(data_dir: PathBuf) -> PathBuf {
    Settings::new(data_dir).control_path()
}

/// One line per allowance: id, state, use of the maximum, agent, purpose, time.
fn print(a: &Allowance) {
    let left_s = (a.expires_at_ms - purser::policy::clock::SystemClock.now_ms()).max(0) / 1000;
    let time = if a.state.is_open() { format!(", {} min left", (left_s + 59) / 60) } else { String::new() };
    // An allowance set in a currency is shown in it (what its payments were worth, each at its own rate).
    let (used, max) = match (&a.used_fiat, &a.max_fiat) {
        (Some(used), Some(max)) => (format!("{used} ({})", Msats(a.used_msat)), max.to_string()),
        _ => (Msats(a.used_msat).to_string(), Msats(a.max_msat).to_string()),
    };
    println!(
        "#{}  {:<9}  {used} of {max}  agent {}  \"{}\"  {} call{}{time}",
        a.id,
        a.state.as_str(),
        a.agent,
        a.purpose,
        a.calls,
        if a.calls == 1 { "" } else { "s" }
    );
    let apis = if a.apis.is_empty() { "any API".to_string() } else { a.apis.join(", ") };
    let each = match &a.per_payment_max_fiat {
        Some(m) => format!(", at most {m} a payment"),
        None => a.per_payment_max_msat.map(|m| format!(", at most {} a payment", Msats(m))).unwrap_or_default(),
    };
    println!("      on {apis}{each}");
    if let Some(total) = a.plan.as_ref().and_then(|p| p["quote"]["total"].as_object()) {
        let range = |k: &str| Msats(total.get(k).and_then(Value::as_u64).unwrap_or(0)).to_string();
        println!(
            "      quote: {} to {} (expected {})",
            range("lowest_msat"),
            range("highest_msat"),
            range("expected_msat")
        );
    }
}

pub async fn list(data_dir: PathBuf, args: ListArgs) -> Result<()> {
    let path = if args.all { "allowances?all=1" } else { "allowances" };
    let list = control::call(&control_path(data_dir), Method::GET, path, None).await?;
    let items: Vec<Value> = serde_json::from_value(list).unwrap_or_default();
    if items.is_empty() {
        println!("No allowance is open.");
    }
    for item in items {
        if let Ok(a) = deserialize(item) {
            print(&a);
        }
    }
    Ok(())
}

/// Puts a maximum as typed into `body`: whole sats as `max_sats` (`max_sats_per_payment`), an amount and a
/// currency code as `max_fiat` (`max_fiat_per_payment`).
fn add_max(body: &mut serde_json::Value, which: &str, text: &str) -> Result<()> {
    let (sats_key, fiat_key) = match which {
        "max" => ("max_sats", "max_fiat"),
        _ => ("max_sats_per_payment", "max_fiat_per_payment"),
    };
    if let Ok(sats) = text.trim().parse::<u64>() {
        body[sats_key] = json!(sats);
    } else {
        purser::rates::Money::parse(text).map_err(|e| Error::Usage(format!("--{which}: {e}")))?;
        body[fiat_key] = json!(text.trim());
    }
    Ok(())
}

pub async fn run(data_dir: PathBuf, command: AllowanceCommand) -> Result<()> {
    let control = control_path(data_dir);
    let (path, body) = match command {
        AllowanceCommand::Approve { id, max, duration_secs } => {
            let mut body = json!({"time_limit_secs": duration_secs});
            if let Some(max) = max {
                add_max(&mut body, "max", &max)?;
            }
            (format!("allowances/{id}/approve"), body)
        }
        AllowanceCommand::Deny { id } => (format!("allowances/{id}/deny"), json!({})),
        AllowanceCommand::Open { agent, purpose, max, per_payment, apis, duration_secs } => {
            let mut body = json!({"agent": agent, "purpose": purpose, "apis": apis, "time_limit_secs": duration_secs});
            add_max(&mut body, "max", &max)?;
            if let Some(each) = per_payment {
                add_max(&mut body, "per_payment", &each)?;
            }
            ("allowances".to_string(), body)
        }
        AllowanceCommand::Raise { id, max } => {
            let mut body = json!({});
            add_max(&mut body, "max", &max)?;
            (format!("allowances/{id}/raise"), body)
        }
        AllowanceCommand::Close { id } => (format!("allowances/{id}/close"), json!({})),
    };
    let answer = match control::call(&control, Method::POST, &path, Some(body.clone())).await {
        Err(control::ClientError::Answer(message))
            if message.contains("passphrase") || message.contains("type the amount") =>
        {
            confirmed_call(&control, &path, body, &message).await?
        }
        other => other?,
    };
    let a = deserialize(answer)?;
    print(&a);
    if let Some(summary) = &a.summary {
        println!("      summary: {summary}");
    }
    Ok(())
}

/// The call again, with the confirmation the answer asked for.
async fn confirmed_call(control: &std::path::Path, path: &str, mut body: Value, asked: &str) -> Result<Value> {
    if asked.contains("type the amount") {
        let typed = read_hidden(&format!("{asked}: "))?;
        body["typed_sats"] = json!(typed.trim().replace([',', '_', ' '], "").parse::<u64>().unwrap_or(0));
    } else {
        body["passphrase"] = json!(read_hidden("This allowance needs your passphrase: ")?);
    }
    Ok(control::call(control, Method::POST, path, Some(body)).await?)
}

fn deserialize(v: Value) -> Result<Allowance> {
    serde_json::from_value(v).map_err(|e| Error::Usage(format!("an unexpected answer from Purser: {e}")))
}
