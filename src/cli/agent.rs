//! `purser agent add|rotate|list`, and `purser uninspected`.

use std::path::PathBuf;

use clap::Subcommand;
use purser::ledger::Ledger;

use super::Result;

#[derive(Subcommand)]
pub enum AgentCommand {
    /// Create an agent and print its key (kept user-only in the data directory for `purser env`)
    Add { name: String },
    /// Give an agent a new key; the old one stops working at once
    Rotate { name: String },
    /// List agents
    List,
}

pub async fn run(data_dir: PathBuf, cmd: AgentCommand) -> Result<()> {
    let ledger = Ledger::open_at(&purser::config::ledger_location(&data_dir)?).await?;
    match cmd {
        AgentCommand::Add { name } => {
            let (agent, key) = ledger.add_agent(&name).await?;
            println!("Created agent `{}` with key {key}", agent.name);
            keep_key(&data_dir, &agent.name, &key);
            println!();
            println!("Point the agent's shell at Purser (proxy variables and Purser's CA) with:");
            println!("  {}", purser::agent_env::env_line(&data_dir, &agent.name));
        }
        AgentCommand::Rotate { name } => {
            let Some(key) = ledger.rotate_key(&name).await? else {
                return Err(super::Error::Usage(format!("there is no agent `{name}`")));
            };
            println!("Agent `{name}` has a new key: {key}");
            keep_key(&data_dir, &name, &key);
            println!(
                "Shells set up before use the old key and get 407 now; run `{}` in them.",
                purser::agent_env::env_line(&data_dir, &name)
            );
        }
        AgentCommand::List => {
            let agents = ledger.agents().await?;
            if agents.is_empty() {
                println!("No agents yet. Create one with `purser agent add NAME`.");
            }
            for a in agents {
                println!("{}", a.name);
            }
        }
    }
    Ok(())
}

/// Keeps the key for `purser env`; the key is already printed, so a failure here only warns.
fn keep_key(data_dir: &std::path::Path, name: &str, key: &str) {
    if let Err(e) = purser::agent_keys::put(data_dir, name, key) {
        eprintln!("warning: {e}; `purser env --agent {name}` cannot print this key, so note it now");
    }
}

/// Connections Purser could not look inside, per host.
pub async fn uninspected(data_dir: PathBuf) -> Result<()> {
    let ledger = Ledger::open_at(&purser::config::ledger_location(&data_dir)?).await?;
    let hosts = ledger.uninspected_hosts().await?;
    if hosts.is_empty() {
        println!("Every connection so far was inspected.");
        return Ok(());
    }
    println!("{:<32} {:<22} {:>6} {:>12} {:>12}  {:<24} agents", "host", "why", "conns", "sent", "received", "last");
    for h in hosts {
        let why = match h.kind.as_str() {
            "pass_through" => "pass_through setting",
            "certificate_rejected" => "agent refused the CA",
            "not_http" => "not TLS or HTTP",
            other => other,
        };
        println!(
            "{:<32} {:<22} {:>6} {:>12} {:>12}  {:<24} {}",
            format!("{}:{}", h.host, h.port),
            why,
            h.connections,
            h.bytes_to_upstream,
            h.bytes_to_agent,
            h.last_opened_at,
            h.agents.join(",")
        );
    }
    Ok(())
}
