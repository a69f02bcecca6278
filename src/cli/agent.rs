//! `purser agent add NAME` and `purser agent list`.

use std::path::PathBuf;

use clap::Subcommand;
use purser::config::{DEFAULT_LISTEN, Settings};
use purser::ledger::Ledger;

use super::Result;

#[derive(Subcommand)]
pub enum AgentCommand {
    /// Create an agent and print its key (shown this once)
    Add { name: String },
    /// List agents
    List,
}

pub async fn run(data_dir: PathBuf, cmd: AgentCommand) -> Result<()> {
    let ledger = Ledger::open(&Settings::new(data_dir).ledger_path()).await?;
    match cmd {
        AgentCommand::Add { name } => {
            let (agent, key) = ledger.add_agent(&name).await?;
            println!("Created agent `{}`. Its key is shown only now:", agent.name);
            println!();
            println!("  {key}");
            println!();
            println!("Point the agent at Purser with:");
            println!(
                "  export http_proxy=http://{}:{key}@{DEFAULT_LISTEN} HTTP_PROXY=http://{}:{key}@{DEFAULT_LISTEN}",
                agent.name, agent.name
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
