//! `purser credentials` and `purser credentials revoke ID`: the proofs of payment Purser keeps and sends
//! again for each agent and API, with the expiry their tokens state.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use purser::ledger::Ledger;

use super::Result;

#[derive(Args)]
pub struct CredentialsArgs {
    #[command(subcommand)]
    pub cmd: Option<CredentialsCommand>,
    /// Only this agent's
    #[arg(long)]
    pub agent: Option<String>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum CredentialsCommand {
    /// Forget a kept credential: the agent's next request there pays again, under policy
    Revoke { id: i64 },
}

fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()).unwrap_or_default()
}

pub async fn run(data_dir: PathBuf, args: CredentialsArgs) -> Result<()> {
    let ledger = Ledger::open_at(&purser::config::ledger_location(&data_dir)?).await?;
    if let Some(CredentialsCommand::Revoke { id }) = args.cmd {
        ledger.revoke_credential(id).await?;
        println!("Revoked credential #{id}; the next request there pays again, under policy.");
        return Ok(());
    }
    let kept = ledger.credentials(args.agent.as_deref()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&kept).unwrap_or_default());
        return Ok(());
    }
    if kept.is_empty() {
        println!("No credentials kept.");
        return Ok(());
    }
    println!("{:>4}  {:<12} {:<6} {:<40} {:<20} expires", "id", "agent", "scheme", "api and path", "kept since");
    for c in kept {
        let expires = match (c.expires_at_ms, c.expired) {
            (None, _) => "not stated".to_string(),
            (Some(ms), true) => format!("{} (expired)", when(ms)),
            (Some(ms), false) => when(ms),
        };
        println!(
            "{:>4}  {:<12} {:<6} {:<40} {:<20} {expires}",
            c.id,
            c.agent,
            c.scheme,
            format!("{}{}", c.origin, c.path),
            when(c.created_at_ms)
        );
    }
    Ok(())
}
