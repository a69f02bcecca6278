//! `purser sessions`: the MPP Lightning sessions agents opened at APIs (what each holds, its draws, its
//! refund) with what is held at APIs in total; `purser sessions close ID` closes one through the running
//! proxy, and the API returns what is left to the wallet.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use http::Method;
use purser::ledger::Ledger;
use purser::proxy::control;

use super::Result;

#[derive(Args)]
pub struct SessionsArgs {
    #[command(subcommand)]
    pub cmd: Option<SessionsCommand>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum SessionsCommand {
    /// Close an open session: its API returns what is left to the wallet (needs the running proxy)
    Close { id: i64 },
}

pub async fn run(data_dir: PathBuf, args: SessionsArgs) -> Result<()> {
    if let Some(SessionsCommand::Close { id }) = args.cmd {
        let control = purser::config::Settings::new(data_dir).control_path();
        let closed = control::call(&control, Method::POST, &format!("sessions/{id}/close"), None).await?;
        if closed["ended_by_api"].as_bool() == Some(true) {
            println!("Session #{id}: its API had ended it already; what it held is recorded as not returned.");
        } else {
            let refund = closed["refund_msat"].as_u64().unwrap_or(0) / 1000;
            println!("Closed session #{id}; the API returns {refund} sat (watched for in the wallet).");
        }
        return Ok(());
    }
    let ledger = Ledger::open_at(&purser::config::ledger_location(&data_dir)?).await?;
    let sessions = ledger.sessions(100).await?;
    if args.json {
        let held = ledger.held_at_apis().await?;
        println!("{}", serde_json::json!({"held_at_apis": held, "sessions": sessions}));
        return Ok(());
    }
    if sessions.is_empty() {
        println!("No session was opened at any API.");
        return Ok(());
    }
    print!("{}", super::ledger::held_table(&ledger.held_at_apis().await?, &sessions));
    Ok(())
}
