//! In a team's database, the payments this instance holds for a person are offered to every supervisor
//! (with this instance's name), and the answer the first of them gives, from any machine, is applied here
//! within a second: the waiting requests pay or are refused as if the person had answered at this machine.

use std::sync::Arc;
use std::time::Duration;

use crate::approval::{Announce, ApprovalView, Outcome, Verdict};
use crate::events::Events;
use crate::ledger::Ledger;

use super::Proxy;

/// How long the answers are left unread at most should a notification be lost.
const FALLBACK: Duration = Duration::from_secs(2);

/// Tells this instance's windows (its events) and the team's database what is held and what is over.
pub(crate) struct Sharing {
    pub(crate) events: Events,
    pub(crate) ledger: Ledger,
}

fn spawn(work: impl std::future::Future<Output = crate::ledger::Result<()>> + Send + 'static) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            if let Err(e) = work.await {
                tracing::warn!("the team's shared approvals could not be updated: {e}");
            }
        });
    }
}

impl Announce for Sharing {
    fn needed(&self, approval: ApprovalView) {
        let ledger = self.ledger.clone();
        let (id, expires, view) = (approval.id, approval.expires_at_ms, serde_json::to_value(&approval));
        spawn(async move {
            match view {
                Ok(view) => ledger.offer_approval(id, &view, expires).await,
                Err(_) => Ok(()),
            }
        });
        self.events.needed(approval);
    }

    fn decided(&self, id: u64, outcome: Outcome) {
        let ledger = self.ledger.clone();
        spawn(async move { ledger.close_approval(id).await });
        self.events.decided(id, outcome);
    }

    fn alerted(&self, alert: crate::ledger::alerts::Alert) {
        self.events.alerted(alert);
    }
}

/// Applies the answers given elsewhere to this instance's approvals, as they come, while the proxy runs.
pub(crate) async fn apply_answers(proxy: Arc<Proxy>) {
    let mut changes = proxy.ledger.approval_changes();
    loop {
        match proxy.ledger.answers_for_this_instance().await {
            Ok(answers) => {
                for answer in answers {
                    let Ok(local_id) = u64::try_from(answer.local_id) else { continue };
                    let verdict = if answer.state == "approved" { Verdict::Approve } else { Verdict::Deny };
                    // A supervisor's login checked the passphrase (the team's, in this same database) before
                    // writing a confirmed answer; serving logins cannot write one.
                    let confirmed = answer.confirmed.then(crate::consent::confirmed_in_team_database);
                    let seen = u32::try_from(answer.seen.unwrap_or(1)).unwrap_or(1);
                    if let Err(e) = proxy.approvals.decide(local_id, verdict, seen, confirmed) {
                        tracing::info!("an answer from the team for approval #{local_id} came too late: {e}");
                    }
                    if let Err(e) = proxy.ledger.close_approval(local_id).await {
                        tracing::warn!("approval #{local_id} could not be closed in the team's database: {e}");
                    }
                }
            }
            Err(e) => tracing::warn!("the team's answers to approvals could not be read: {e}"),
        }
        changes.next(FALLBACK).await;
    }
}
