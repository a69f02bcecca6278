//! `purser approvals`, `approve` and `deny` when the ledger is a team's database: every instance's held
//! payments, with the machine each waits on, answered in the database (the first answer wins; the holding
//! instance applies it within a second). Answering takes a supervisor's login.

use std::path::Path;

use purser::approval::{Answer, ApprovalView, Verdict};
use purser::consent;
use purser::ledger::{Ledger, Location};
use purser::team_approvals::{self, TeamAnswerError};

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
fn what(v: &ApprovalView) -> String {
    let machine = v.machine.as_deref().unwrap_or("?");
    format!("{}  agent {}  {} {}{}  on {machine}", v.describe_amount(), v.agent, v.method, v.host, v.path)
}

fn team_id(v: &ApprovalView) -> i64 {
    v.team_id.unwrap_or_default()
}

pub async fn list(ledger: &Ledger) -> Result<()> {
    let waiting = team_approvals::waiting(ledger, false).await?;
    if waiting.is_empty() {
        println!("Nothing is waiting for your approval on any of the team's machines.");
    }
    let now = ledger.now_ms();
    for v in &waiting {
        let confirm = if v.confirm { "  needs your passphrase" } else { "" };
        let left = (v.expires_at_ms - now).max(0) / 1000;
        println!("#{}  {}  ({left} s left){confirm}", team_id(v), what(v));
        println!("      {}", v.explanation);
    }
    Ok(())
}

/// Approves (`approve`) or denies team approval `id` for the requests the person is shown now; `remember`
/// also adds a rule for its agent on its API of that many sats a day.
pub async fn answer(ledger: &Ledger, id: u64, approve: bool, remember: Option<u64>) -> Result<()> {
    let id = i64::try_from(id).unwrap_or(i64::MAX);
    let found = team_approvals::waiting(ledger, false).await?.into_iter().find(|v| v.team_id == Some(id));
    let v = found.ok_or_else(|| Error::from(TeamAnswerError::NotWaiting(id)))?;
    println!("#{id}: {}", what(&v));
    let verdict = if approve { Verdict::Approve } else { Verdict::Deny };
    let mut answer = Answer { remember_sats_per_day: remember, ..Answer::new(verdict, v.count) };
    let passphrase_set = ledger.passphrase_hash().await?.is_some();
    if approve && !v.confirm && remember.is_some() && passphrase_set {
        // A remembered rule is a change to what guards money: like `purser rule add`, it takes the passphrase.
        let given = read_hidden("Remembering a rule needs your passphrase: ")?;
        consent::authorize_change(ledger, Some(&given)).await.map_err(Error::Consent)?;
    }
    if approve && v.confirm {
        if passphrase_set {
            answer.proof.passphrase = Some(read_hidden("This payment needs your passphrase: ")?);
        } else {
            let sats = v.total_msat.div_ceil(1000);
            let typed = read_hidden(&format!("To confirm, type the amount in sats ({sats}): "))?;
            answer.proof.typed_sats = Some(typed.trim().replace([',', '_', ' '], "").parse::<u64>().unwrap_or(0));
        }
    }
    let machine = v.machine.as_deref().unwrap_or("?");
    let (answered, rule) = team_approvals::answer(ledger, id, answer).await?;
    if approve {
        println!("Approved #{id} ({} request{}) on {machine}.", answered.count, plural(answered.count));
    } else {
        println!("Denied #{id}: {} for agent {} on {machine}.", answered.describe_amount(), answered.agent);
    }
    if let Some(rule) = rule {
        println!("Remembered as rule #{}: no need to ask again up to {} a day.", rule.id, rule.max_per_day);
    }
    Ok(())
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}
