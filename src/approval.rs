//! Requests held for a person's decision. A held request keeps the agent's connection open while the
//! approval is offered as an event (`approval:needed`: the desktop's window and notification show it) and
//! listed for the CLI and the control endpoint; [`answer`] takes a person's answer from any of them. No
//! answer before the timeout means deny. Identical requests arriving
//! while one is held (same agent, method, endpoint and amount) join it: one approval with a count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::policy::clock::{Clock, SystemClock};

/// One approval as a person sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ApprovalView {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    pub agent: String,
    pub method: String,
    pub host: String,
    pub path: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub amount_msat: u64,
    /// Why it is asked (the threshold, and the tightest budget's room).
    pub explanation: String,
    /// Budget figures, machine-readable.
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub budget: serde_json::Value,
    /// How many identical requests wait on this approval.
    pub count: u32,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created_at_ms: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub expires_at_ms: i64,
}

/// What a person decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Deny,
}

/// How the wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, rename = "ApprovalOutcome"))]
pub enum Outcome {
    Approved,
    Denied,
    TimedOut,
}

/// Who hears of approvals as they open and close: the events channel (the window, notifications, the log).
pub trait Announce: Send + Sync {
    fn needed(&self, approval: ApprovalView);
    fn decided(&self, id: u64, outcome: Outcome);
}

/// A payment waiting for a person.
#[derive(Debug, Clone)]
pub struct Held {
    pub agent_id: i64,
    pub agent: String,
    pub method: String,
    pub host: String,
    pub path: String,
    pub amount_msat: u64,
    pub explanation: String,
    pub budget: serde_json::Value,
}

type Key = (i64, String, String, String, u64);

struct Entry {
    view: ApprovalView,
    key: Key,
    verdict: watch::Sender<Option<Verdict>>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    open: HashMap<u64, Entry>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("no approval with id {0} is waiting (it may have been answered or timed out)")]
pub struct NotWaiting(pub u64);

/// Why a person's answer could not be taken whole.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("a remembered rule needs a daily limit above 0 sats")]
    NoDailyLimit,
    #[error(transparent)]
    NotWaiting(#[from] NotWaiting),
    #[error("approved, but the rule was not saved: {0}")]
    RuleNotSaved(crate::ledger::Error),
}

/// A person's answer to approval `id`, wherever they gave it (the window, a notification, the CLI): the
/// waiting requests are answered first, then an approval that was still waiting and is now approved is
/// remembered, when asked, as a rule for its agent on its API of `remember_sats_per_day` a day.
pub async fn answer(
    approvals: &Approvals,
    ledger: &crate::ledger::Ledger,
    id: u64,
    verdict: Verdict,
    remember_sats_per_day: Option<u64>,
) -> Result<(ApprovalView, Option<crate::policy::Rule>), AnswerError> {
    if remember_sats_per_day == Some(0) {
        return Err(AnswerError::NoDailyLimit);
    }
    let view = approvals.decide(id, verdict)?;
    let rule = match (verdict, remember_sats_per_day) {
        (Verdict::Approve, Some(sats)) => {
            let source = format!("remembered from approval #{id}");
            let per_day = crate::units::Msats::from_sats(sats);
            Some(
                ledger
                    .add_rule(&view.agent, &view.host, None, per_day, &source)
                    .await
                    .map_err(AnswerError::RuleNotSaved)?,
            )
        }
        _ => None,
    };
    Ok((view, rule))
}

pub struct Approvals {
    state: Mutex<State>,
    timeout: Duration,
    announce: Box<dyn Announce>,
}

fn now_ms() -> i64 {
    SystemClock.now_ms()
}

impl Approvals {
    pub fn new(timeout: Duration, announce: impl Announce + 'static) -> Self {
        Approvals { state: Mutex::new(State::default()), timeout, announce: Box::new(announce) }
    }

    /// Holds `held` until a person answers or the timeout passes. The returned id names the approval.
    pub async fn wait(&self, held: Held) -> (u64, Outcome) {
        let key: Key = (held.agent_id, held.method.clone(), held.host.clone(), held.path.clone(), held.amount_msat);
        let (id, mut rx, deadline, offered) = {
            let mut state = self.state.lock().unwrap();
            let joined = state.open.values_mut().find(|e| e.key == key);
            match joined {
                Some(entry) => {
                    entry.view.count += 1;
                    let left = (entry.view.expires_at_ms - now_ms()).max(0) as u64;
                    (entry.view.id, entry.verdict.subscribe(), Duration::from_millis(left), None)
                }
                None => {
                    state.next_id += 1;
                    let id = state.next_id;
                    let created = now_ms();
                    let view = ApprovalView {
                        id,
                        agent: held.agent,
                        method: held.method,
                        host: held.host,
                        path: held.path,
                        amount_msat: held.amount_msat,
                        explanation: held.explanation,
                        budget: held.budget,
                        count: 1,
                        created_at_ms: created,
                        expires_at_ms: created + self.timeout.as_millis() as i64,
                    };
                    let (tx, rx) = watch::channel(None);
                    state.open.insert(id, Entry { view: view.clone(), key, verdict: tx });
                    (id, rx, self.timeout, Some(view))
                }
            }
        };
        if let Some(view) = offered {
            self.announce.needed(view);
        }
        let verdict = tokio::time::timeout(deadline, async {
            loop {
                if let Some(v) = *rx.borrow_and_update() {
                    return v;
                }
                if rx.changed().await.is_err() {
                    return Verdict::Deny;
                }
            }
        })
        .await;
        let outcome = match verdict {
            Ok(Verdict::Approve) => Outcome::Approved,
            Ok(Verdict::Deny) => Outcome::Denied,
            Err(_) => {
                if self.close(id).is_some() {
                    self.announce.decided(id, Outcome::TimedOut);
                }
                Outcome::TimedOut
            }
        };
        (id, outcome)
    }

    fn close(&self, id: u64) -> Option<Entry> {
        self.state.lock().unwrap().open.remove(&id)
    }

    /// Approvals waiting now, oldest first.
    pub fn list(&self) -> Vec<ApprovalView> {
        let mut all: Vec<ApprovalView> = self.state.lock().unwrap().open.values().map(|e| e.view.clone()).collect();
        all.sort_by_key(|v| v.id);
        all
    }

    pub fn get(&self, id: u64) -> Option<ApprovalView> {
        self.state.lock().unwrap().open.get(&id).map(|e| e.view.clone())
    }

    /// Answers approval `id` for every request waiting on it.
    pub fn decide(&self, id: u64, verdict: Verdict) -> Result<ApprovalView, NotWaiting> {
        let entry = self.close(id).ok_or(NotWaiting(id))?;
        let _ = entry.verdict.send(Some(verdict));
        let outcome = if verdict == Verdict::Approve { Outcome::Approved } else { Outcome::Denied };
        self.announce.decided(id, outcome);
        Ok(entry.view)
    }

    /// Denies everything still waiting (on shutdown).
    pub fn deny_all(&self) {
        let ids: Vec<u64> = self.state.lock().unwrap().open.keys().copied().collect();
        for id in ids {
            let _ = self.decide(id, Verdict::Deny);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::events::Events;

    fn held(amount_msat: u64) -> Held {
        Held {
            agent_id: 1,
            agent: "research".into(),
            method: "GET".into(),
            host: "api".into(),
            path: "/x".into(),
            amount_msat,
            explanation: "asked".into(),
            budget: serde_json::json!({}),
        }
    }

    #[tokio::test]
    async fn identical_requests_share_one_approval() {
        let approvals = Arc::new(Approvals::new(Duration::from_secs(30), Events::default()));
        let waits: Vec<_> = (0..3)
            .map(|_| {
                let a = approvals.clone();
                tokio::spawn(async move { a.wait(held(50_000)).await })
            })
            .collect();
        let other = {
            let a = approvals.clone();
            tokio::spawn(async move { a.wait(held(60_000)).await })
        };
        while approvals.list().iter().map(|v| v.count).sum::<u32>() < 4 {
            tokio::task::yield_now().await;
        }
        let list = approvals.list();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].count, 3);
        approvals.decide(list[0].id, Verdict::Approve).unwrap();
        approvals.decide(list[1].id, Verdict::Deny).unwrap();
        for w in waits {
            assert_eq!(w.await.unwrap().1, Outcome::Approved);
        }
        assert_eq!(other.await.unwrap().1, Outcome::Denied);
        assert_eq!(approvals.decide(list[0].id, Verdict::Deny), Err(NotWaiting(list[0].id)));
    }

    #[tokio::test(start_paused = true)]
    async fn no_answer_means_deny() {
        let approvals = Approvals::new(Duration::from_secs(120), Events::default());
        assert_eq!(approvals.wait(held(1)).await.1, Outcome::TimedOut);
        assert!(approvals.list().is_empty());
    }
}
