//! `purser approvals`, `approve` and `deny` when the ledger is a team's database: every instance's held
//! payments, with the machine each waits on, answered in the database (the first answer wins; the holding
//! instance applies it within a second). Answering takes a supervisor's login.

use std::path::Path;

use purser::approval::ApprovalView;
use purser::consent::{self, Proof};
use purser::ledger::shared_approvals::SharedApproval;
use purser::ledger::{Ledger, Location};
use purser::units::Msats;

use super::passphrase::read_hidden;
use super::{Error, Result};

/// The team's ledger when `data_dir`'s settings name one.
pub async fn ledger(data_dir: &Path) -> Result<Option<Ledger>> {
    let location = purser::config::ledger_location(data_dir)?;
    match location {
        Location::Server(_) => Ok(Some(Ledger::open_at(&location).await?)),
        Location::File(_) => Ok(None),
    }
}

/// "21 sats  agent research  GET api.example.com/fortune  on build-box".
fn what(a: &SharedApproval, v: &ApprovalView) -> String {
    format!("{}  agent {}  {} {}{}  on {}", v.describe_amount(), v.agent, v.method, v.host, v.path, a.instance)
}

fn view(a: &SharedApproval) -> Option<ApprovalView> {
    serde_json::from_value(a.view.clone()).ok()
}

pub async fn list(ledger: &Ledger) -> Result<()> {
    let waiting = ledger.waiting_approvals().await?;
    if waiting.is_empty() {
        println!("Nothing is waiting for your approval on any of the team's machines.");
    }
    let now = ledger.now_ms();
    for a in &waiting {
        let Some(v) = view(a) else { continue };
        let confirm = if v.confirm { "  needs your passphrase" } else { "" };
        let left = (v.expires_at_ms - now).max(0) / 1000;
        println!("#{}  {}  ({left} s left){confirm}", a.id, what(a, &v));
        println!("      {}", v.explanation);
    }
    Ok(())
}

async fn waiting(ledger: &Ledger, id: u64) -> Result<(SharedApproval, ApprovalView)> {
    let gone = || Error::Usage(format!("no approval with id {id} is waiting (it may have been answered or timed out)"));
    let found = ledger.waiting_approvals().await?.into_iter().find(|a| u64::try_from(a.id).ok() == Some(id));
    let a = found.ok_or_else(gone)?;
    let v = view(&a).ok_or_else(gone)?;
    Ok((a, v))
}

/// Approves (`approve`) or denies shared approval `id` for the requests the person is shown now.
pub async fn answer(ledger: &Ledger, id: u64, approve: bool, remember: Option<u64>) -> Result<()> {
    if remember.is_some() {
        return Err(Error::Usage(
            "remembering an approval as a rule is not offered for a team's shared approvals yet: answer it, then \
             add the rule with `purser rule add`"
                .into(),
        ));
    }
    let (a, v) = waiting(ledger, id).await?;
    println!("#{}: {}", a.id, what(&a, &v));
    let confirmed = if approve && v.confirm {
        let mut proof = Proof::default();
        if ledger.passphrase_hash().await?.is_some() {
            proof.passphrase = Some(read_hidden("This payment needs your passphrase: ")?);
        } else {
            let sats = v.total_msat.div_ceil(1000);
            let typed = read_hidden(&format!("To confirm, type the amount in sats ({sats}): "))?;
            proof.typed_sats = Some(typed.trim().replace([',', '_', ' '], "").parse::<u64>().unwrap_or(0));
        }
        consent::confirm_payment(ledger, Msats(v.total_msat), &proof).await.map_err(Error::Consent)?;
        true
    } else {
        false
    };
    match ledger.answer_approval(a.id, approve, v.count, confirmed).await? {
        Some(_) if approve => {
            println!("Approved #{} ({} request{}) on {}.", a.id, v.count, plural(v.count), a.instance)
        }
        Some(_) => println!("Denied #{}: {} for agent {} on {}.", a.id, v.describe_amount(), v.agent, a.instance),
        None => return Err(Error::Usage(format!("#{id} was answered elsewhere or timed out first"))),
    }
    Ok(())
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}
