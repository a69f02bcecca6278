//! `purser ledger`: the payments as a table, or `--json` / `--csv` for programs.

use std::path::PathBuf;

use clap::Args;
use purser::ledger::queries::PaymentFilter;
use purser::ledger::{Ledger, export};

use super::Result;

#[derive(Args)]
pub struct LedgerArgs {
    /// Print JSON (every row unless --limit is given)
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV (every row unless --limit is given)
    #[arg(long)]
    csv: bool,
    /// At most this many rows, newest first (the table shows 50 by default)
    #[arg(long)]
    limit: Option<i64>,
    /// Only the payments made under this task allowance
    #[arg(long, value_name = "ID")]
    allowance: Option<i64>,
}

pub async fn run(data_dir: PathBuf, args: LedgerArgs) -> Result<()> {
    let ledger = Ledger::open_at(&purser::config::ledger_location(&data_dir)?).await?;
    let machine = args.json || args.csv;
    let limit = args.limit.unwrap_or(if machine { i64::MAX } else { 50 });
    let filter = PaymentFilter { allowance_id: args.allowance, ..PaymentFilter::default() };
    let rows = ledger.payments_matching(&filter, limit).await?;
    if args.json {
        println!("{}", export::to_json(&rows));
    } else if args.csv {
        print!("{}", export::to_csv(&rows)?);
    } else {
        print!("{}", export::to_table(&rows));
    }
    Ok(())
}
