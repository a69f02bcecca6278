//! `purser ledger`: the payments as a table, with what is held at APIs (session deposits not yet drawn,
//! refunds on their way) and the sessions; or `--json` / `--csv` for programs (the payments).

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
        print!("{}", held_table(&ledger.held_at_apis().await?, &ledger.sessions(20).await?));
    }
    Ok(())
}

/// "Held at APIs": the total, each API's part, and the newest sessions; nothing when no session was ever
/// opened and no credit is held.
pub(super) fn held_table(
    held: &[purser::ledger::held::HeldAt],
    sessions: &[purser::ledger::sessions::SessionInfo],
) -> String {
    use std::fmt::Write as _;
    if sessions.is_empty() && held.is_empty() {
        return String::new();
    }
    let sats = |msat: u64| format!("{} sat", msat / 1000);
    let total: u64 = held.iter().map(|h| h.held_msat).sum();
    let mut out = format!("\nHeld at APIs: {}\n", sats(total));
    for h in held {
        let credit = if h.credits > 0 { format!(", {} credit(s) bought by top-up", h.credits) } else { String::new() };
        let _ =
            writeln!(out, "  {:<32} {:>12}  ({} open session(s){credit})", h.host, sats(h.held_msat), h.open_sessions);
    }
    if sessions.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\nSessions (newest first):");
    let _ = writeln!(
        out,
        "  {:>4}  {:<12} {:<28} {:>9} {:>9} {:>6} {:>9}  {:<7} REFUND",
        "ID", "AGENT", "API", "DEPOSIT", "DRAWN", "CALLS", "HELD", "STATE"
    );
    for s in sessions {
        let refund = match s.refund_state {
            purser::ledger::sessions::RefundState::None => "-".to_string(),
            purser::ledger::sessions::RefundState::Waiting => {
                format!("{} on its way", sats(s.refund_claimed_msat.unwrap_or(0)))
            }
            purser::ledger::sessions::RefundState::Received => format!("{} received", sats(s.refund_msat.unwrap_or(0))),
            purser::ledger::sessions::RefundState::Missing => "MISSING".to_string(),
        };
        let _ = writeln!(
            out,
            "  {:>4}  {:<12} {:<28} {:>9} {:>9} {:>6} {:>9}  {:<7} {refund}",
            s.id,
            s.agent,
            s.host,
            sats(s.deposit_msat),
            sats(s.drawn_msat),
            s.draws,
            sats(s.held_msat),
            s.state.as_str()
        );
    }
    out
}
