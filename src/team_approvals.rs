//! The payments waiting for a person on a team's machines, as a supervisor at any one of them sees and
//! answers them (the desktop's Approvals screen and notifications; `purser approvals`, `approve`, `deny`):
//! listed as [`ApprovalView`]s naming the machine each waits on, answered in the team's database with the
//! passphrase checked here first (the first answer wins; the holding instance applies it), and watched, so a
//! window hears of new ones and of those that stopped waiting.

use std::collections::HashMap;
use std::time::Duration;

use crate::approval::{Answer, AnswerError, ApprovalView, Verdict};
use crate::consent;
use crate::events::{Event, Events};
use crate::ledger::Ledger;
use crate::ledger::shared_approvals::SharedApproval;
use crate::units::Msats;

/// How long a change is left unseen at most should a notification be lost.
const FALLBACK: Duration = Duration::from_secs(2);

/// Why an answer to a team's approval was not written.
#[derive(Debug, thiserror::Error)]
pub enum TeamAnswerError {
    #[error("no approval #{0} is waiting (it was answered on another machine or timed out)")]
    NotWaiting(i64),
    /// A rule without a daily limit, nothing seen, the passphrase, or the rule not saved after approving.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::Error),
}

/// The view an instance offered, with the machine it waits on and its id in the team's database.
fn view(a: &SharedApproval) -> Option<ApprovalView> {
    let mut v: ApprovalView = serde_json::from_value(a.view.clone()).ok()?;
    v.machine = Some(a.instance.clone());
    v.team_id = Some(a.id);
    Some(v)
}

/// What waits on any of the team's machines (`elsewhere_only`: on machines other than this one, whose own
/// approvals its process lists), oldest first.
pub async fn waiting(ledger: &Ledger, elsewhere_only: bool) -> crate::ledger::Result<Vec<ApprovalView>> {
    let all = ledger.waiting_approvals().await?;
    Ok(all.iter().filter(|a| !elsewhere_only || a.instance != ledger.instance()).filter_map(view).collect())
}

/// A person's answer to team approval `team_id`, as [`crate::approval::answer`] takes one for this machine's
/// own: approving one in the confirm tier takes the proof (the team's passphrase, or the total typed when
/// none is set), checked here before anything is written; at most the requests the person saw are answered;
/// an approval approved is remembered, when asked, as a rule for its agent on its API. Returns the approval
/// as answered and the rule.
pub async fn answer(
    ledger: &Ledger,
    team_id: i64,
    answer: Answer,
) -> Result<(ApprovalView, Option<crate::policy::Rule>), TeamAnswerError> {
    if answer.remember_sats_per_day == Some(0) {
        return Err(AnswerError::NoDailyLimit.into());
    }
    if answer.seen == 0 {
        return Err(AnswerError::NothingSeen.into());
    }
    let found = waiting(ledger, false).await?.into_iter().find(|v| v.team_id == Some(team_id));
    let mut v = found.ok_or(TeamAnswerError::NotWaiting(team_id))?;
    let seen = answer.seen.min(v.count.max(1));
    let approve = answer.verdict == Verdict::Approve;
    let confirmed = approve && v.confirm;
    if confirmed {
        let total = Msats(v.amount_msat.saturating_mul(u64::from(seen)));
        consent::confirm_payment(ledger, total, &answer.proof).await.map_err(AnswerError::Consent)?;
    }
    if ledger.answer_approval(team_id, approve, seen, confirmed).await?.is_none() {
        return Err(TeamAnswerError::NotWaiting(team_id));
    }
    v.set_count(seen as usize);
    let rule = match answer.remember_sats_per_day.filter(|_| approve) {
        Some(sats) => {
            let source = format!("remembered from approval #{team_id} on {}", v.machine.as_deref().unwrap_or("?"));
            let rule = ledger.add_rule(&v.agent, &v.host, None, Msats::from_sats(sats), &source).await;
            Some(rule.map_err(AnswerError::RuleNotSaved)?)
        }
        None => None,
    };
    Ok((v, rule))
}

/// Tells `events` of every payment that starts waiting on another of the team's machines
/// (`approval:needed`, with its machine and team id) and of every one that stops waiting
/// (`approval:closed_elsewhere`), for as long as the ledger is open.
pub async fn watch(ledger: Ledger, events: Events) {
    let mut changes = ledger.approval_changes();
    let mut shown: HashMap<i64, ApprovalView> = HashMap::new();
    loop {
        match waiting(&ledger, true).await {
            Ok(now) => {
                let now: HashMap<i64, ApprovalView> = now.into_iter().filter_map(|v| Some((v.team_id?, v))).collect();
                for gone in shown.keys().filter(|id| !now.contains_key(id)) {
                    events.emit(Event::TeamApprovalClosed { team_id: *gone });
                }
                for (id, v) in &now {
                    // New, or more identical requests joined it: shown again with the new count.
                    if shown.get(id).is_none_or(|before| before.count != v.count) {
                        events.emit(Event::ApprovalNeeded { approval: v.clone() });
                    }
                }
                shown = now;
            }
            Err(e) => tracing::warn!("the team's waiting approvals could not be read: {e}"),
        }
        changes.next(FALLBACK).await;
    }
}
