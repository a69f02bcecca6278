//! Requests held for a person's decision. A held request keeps the agent's connection open while the
//! approval is offered as an event (`approval:needed`: the desktop's window and notification show it) and
//! listed for the CLI and the control endpoint; [`answer`] takes a person's answer from any of them. No
//! answer before the timeout means deny. Identical requests arriving while one is held (same agent, method,
//! endpoint, amount and tier) join it: one approval with a count and a total. A decision releases at most
//! the requests the person saw (the count they were shown); later arrivals wait on a new approval. An
//! approval in the confirm tier is approved only with a [`Confirmed`] from [`crate::consent`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::consent::{self, Confirmed, ConsentError, Proof};
use crate::policy::clock::{Clock, SystemClock};
use crate::units::Msats;

/// One approval as a person sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ApprovalView {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    pub agent: String,
    pub method: String,
    pub host: String,
    pub path: String,
    /// What one request costs.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub amount_msat: u64,
    /// How many identical requests wait on this approval.
    pub count: u32,
    /// `count` × `amount_msat`: what approving pays.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total_msat: u64,
    /// What one request is worth in the display currency, at the rate it was decided at.
    pub fiat: Option<crate::rates::Money>,
    /// A click is not enough: approving takes the passphrase (or the total typed, when none is set).
    pub confirm: bool,
    /// Why it is asked (the threshold, and the tightest budget's room).
    pub explanation: String,
    /// Budget figures, machine-readable.
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub budget: serde_json::Value,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created_at_ms: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub expires_at_ms: i64,
    /// In team mode, the instance (machine) the payment waits on; `None` on one machine.
    #[serde(default)]
    pub machine: Option<String>,
    /// Held on another of the team's machines: its id in the team's database, where it is answered.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub team_id: Option<i64>,
}

impl ApprovalView {
    /// "4 × 250 sats = 1,000 sats", or "250 sats" for one request; with the display currency's value
    /// beside it ("250 sats ($0.25)").
    pub fn describe_amount(&self) -> String {
        let one = Msats(self.amount_msat);
        let sats = if self.count > 1 {
            format!("{} × {one} = {}", self.count, Msats(self.total_msat))
        } else {
            one.to_string()
        };
        match &self.fiat {
            Some(m) => {
                let total =
                    crate::rates::Money { micros: m.micros.saturating_mul(i64::from(self.count.max(1))), ..m.clone() };
                format!("{sats} ({total})")
            }
            None => sats,
        }
    }

    pub(crate) fn set_count(&mut self, count: usize) {
        self.count = u32::try_from(count).unwrap_or(u32::MAX);
        self.total_msat = self.amount_msat.saturating_mul(u64::from(self.count));
    }
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
    /// Every request on it went away (the agents closed their connections) before anyone answered.
    Withdrawn,
}

/// Who hears of approvals as they open and close, and of alerts a person's answer raises: the events
/// channel (the window, notifications, the log).
pub trait Announce: Send + Sync {
    fn needed(&self, approval: ApprovalView);
    fn decided(&self, id: u64, outcome: Outcome);
    fn alerted(&self, alert: crate::ledger::alerts::Alert);
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
    /// What it is worth in the display currency.
    pub fiat: Option<crate::rates::Money>,
    /// Approving it needs the person's confirmation.
    pub confirm: bool,
    pub explanation: String,
    pub budget: serde_json::Value,
}

type Key = (i64, String, String, String, u64, bool);

struct Waiter {
    id: u64,
    answer: oneshot::Sender<(u64, Outcome)>,
}

struct Entry {
    view: ApprovalView,
    key: Key,
    /// In arrival order: a decision releases the first ones.
    waiters: Vec<Waiter>,
    deadline: Instant,
}

#[derive(Default)]
struct State {
    next_id: u64,
    next_waiter: u64,
    open: HashMap<u64, Entry>,
}

impl State {
    fn holding(&self, waiter: u64) -> Option<&Entry> {
        self.open.values().find(|e| e.waiters.iter().any(|w| w.id == waiter))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("no approval with id {0} is waiting (it may have been answered or timed out)")]
pub struct NotWaiting(pub u64);

/// Why a decision was not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecideError {
    #[error(transparent)]
    NotWaiting(#[from] NotWaiting),
    #[error("approval #{0} needs your confirmation: a click is not enough")]
    NeedsConfirmation(u64),
}

/// Why a person's answer could not be taken whole.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("a remembered rule needs a daily limit above 0 sats")]
    NoDailyLimit,
    #[error("the count of requests seen must be at least 1")]
    NothingSeen,
    #[error(transparent)]
    NotWaiting(#[from] NotWaiting),
    #[error(transparent)]
    Consent(#[from] ConsentError),
    #[error("approved, but the rule was not saved: {0}")]
    RuleNotSaved(crate::ledger::Error),
}

/// A person's answer to one approval.
#[derive(Debug, Clone)]
pub struct Answer {
    pub verdict: Verdict,
    /// How many requests the person was shown: at most these are released.
    pub seen: u32,
    /// Also remember, when approving: this agent on this API up to this many sats a day.
    pub remember_sats_per_day: Option<u64>,
    /// The passphrase or typed total, for an approval that needs confirming.
    pub proof: Proof,
}

impl Answer {
    /// A plain answer to the `seen` requests a person was shown.
    pub fn new(verdict: Verdict, seen: u32) -> Self {
        Answer { verdict, seen, remember_sats_per_day: None, proof: Proof::default() }
    }
}

/// A person's answer to approval `id`, wherever they gave it (the window, a notification, the CLI): checked
/// (an approval in the confirm tier takes the passphrase), then the requests the person saw are answered,
/// then an approval that was approved is remembered, when asked, as a rule for its agent on its API of
/// `remember_sats_per_day` a day. Returns the approval as answered (its count: the requests released).
pub async fn answer(
    approvals: &Approvals,
    ledger: &crate::ledger::Ledger,
    id: u64,
    answer: Answer,
) -> Result<(ApprovalView, Option<crate::policy::Rule>), AnswerError> {
    if answer.remember_sats_per_day == Some(0) {
        return Err(AnswerError::NoDailyLimit);
    }
    if answer.seen == 0 {
        return Err(AnswerError::NothingSeen);
    }
    let view = approvals.get(id).ok_or(NotWaiting(id))?;
    let confirmed = if answer.verdict == Verdict::Approve && view.confirm {
        let total = Msats(view.amount_msat.saturating_mul(u64::from(answer.seen.min(view.count))));
        match consent::confirm_payment(ledger, total, &answer.proof).await {
            Ok(c) => Some(c),
            Err(mut e) => {
                if let Some(alert) = e.take_alert() {
                    approvals.announce.alerted(alert);
                }
                return Err(e.into());
            }
        }
    } else {
        None
    };
    // Never more than the confirmation covered, whatever count the caller sent.
    let seen = answer.seen.min(view.count);
    let view = approvals.decide(id, answer.verdict, seen, confirmed).map_err(|e| match e {
        DecideError::NotWaiting(gone) => AnswerError::NotWaiting(gone),
        DecideError::NeedsConfirmation(_) => AnswerError::Consent(ConsentError::PassphraseNeeded),
    })?;
    let rule = match (answer.verdict, answer.remember_sats_per_day) {
        (Verdict::Approve, Some(sats)) => {
            let source = format!("remembered from approval #{id}");
            let per_day = Msats::from_sats(sats);
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

/// Takes a waiter off its approval when its wait ends for any reason; after an answer it is gone already.
struct Leaves<'a> {
    approvals: &'a Approvals,
    waiter: u64,
}

impl Drop for Leaves<'_> {
    fn drop(&mut self) {
        self.approvals.leave(self.waiter);
    }
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

    /// A new approval for `waiters`, with the full timeout from now.
    fn open(&self, state: &mut State, view: ApprovalView, key: Key, waiters: Vec<Waiter>) -> ApprovalView {
        state.next_id += 1;
        let id = state.next_id;
        let created = now_ms();
        let mut view = ApprovalView {
            id,
            created_at_ms: created,
            expires_at_ms: created.saturating_add(i64::try_from(self.timeout.as_millis()).unwrap_or(i64::MAX)),
            ..view
        };
        view.set_count(waiters.len());
        state.open.insert(id, Entry { view: view.clone(), key, waiters, deadline: Instant::now() + self.timeout });
        view
    }

    /// Holds `held` until a person answers or the timeout passes. The returned id names the approval that
    /// answered it.
    pub async fn wait(&self, held: Held) -> (u64, Outcome) {
        let key: Key =
            (held.agent_id, held.method.clone(), held.host.clone(), held.path.clone(), held.amount_msat, held.confirm);
        let (tx, mut rx) = oneshot::channel();
        let (waiter, offered) = {
            let mut state = self.state.lock().unwrap();
            state.next_waiter += 1;
            let waiter = Waiter { id: state.next_waiter, answer: tx };
            let id = waiter.id;
            // An approval past its deadline is being timed out: a newcomer gets one of its own.
            let now = Instant::now();
            match state.open.values_mut().find(|e| e.key == key && e.deadline > now) {
                Some(entry) => {
                    entry.waiters.push(waiter);
                    let n = entry.waiters.len();
                    entry.view.set_count(n);
                    (id, None)
                }
                None => {
                    let view = ApprovalView {
                        id: 0,
                        agent: held.agent,
                        method: held.method,
                        host: held.host,
                        path: held.path,
                        amount_msat: held.amount_msat,
                        count: 0,
                        total_msat: 0,
                        fiat: held.fiat,
                        confirm: held.confirm,
                        explanation: held.explanation,
                        budget: held.budget,
                        created_at_ms: 0,
                        expires_at_ms: 0,
                        machine: None,
                        team_id: None,
                    };
                    (id, Some(self.open(&mut state, view, key, vec![waiter])))
                }
            }
        };
        if let Some(view) = offered {
            self.announce.needed(view);
        }
        // The agent may go away while it waits (its connection closed): the request then leaves its approval.
        let _leaves = Leaves { approvals: self, waiter };
        loop {
            let deadline = self.state.lock().unwrap().holding(waiter).map(|e| e.deadline);
            let Some(deadline) = deadline else {
                // Answered already: the answer is in the channel.
                return rx.await.unwrap_or((0, Outcome::Denied));
            };
            tokio::select! {
                answered = &mut rx => return answered.unwrap_or((0, Outcome::Denied)),
                () = tokio::time::sleep_until(deadline) => {
                    if let Some(id) = self.expire(waiter) {
                        return (id, Outcome::TimedOut);
                    }
                }
            }
        }
    }

    /// Takes `waiter` off the approval holding it, if it still waits; an approval left with no requests is
    /// closed as withdrawn.
    fn leave(&self, waiter: u64) {
        let emptied = {
            let mut state = self.state.lock().unwrap();
            let Some(id) = state.holding(waiter).map(|e| e.view.id) else { return };
            let Some(entry) = state.open.get_mut(&id) else { return };
            entry.waiters.retain(|w| w.id != waiter);
            let n = entry.waiters.len();
            entry.view.set_count(n);
            if n > 0 {
                return;
            }
            state.open.remove(&id);
            id
        };
        self.announce.decided(emptied, Outcome::Withdrawn);
    }

    /// Times out the approval holding `waiter` when its deadline has passed (the waiter may have moved to a
    /// later approval meanwhile): every request on it is answered `TimedOut`.
    fn expire(&self, waiter: u64) -> Option<u64> {
        let entry = {
            let mut state = self.state.lock().unwrap();
            let id = state.holding(waiter).filter(|e| e.deadline <= Instant::now())?.view.id;
            state.open.remove(&id)?
        };
        let id = entry.view.id;
        for w in entry.waiters.into_iter().filter(|w| w.id != waiter) {
            let _ = w.answer.send((id, Outcome::TimedOut));
        }
        self.announce.decided(id, Outcome::TimedOut);
        Some(id)
    }

    /// Approvals waiting now, oldest first.
    pub fn list(&self) -> Vec<ApprovalView> {
        let mut all: Vec<ApprovalView> = self.state.lock().unwrap().open.values().map(|e| e.view.clone()).collect();
        all.sort_by_key(|v| v.id);
        all
    }

    /// Requests held for a person now (each approval's count, summed).
    pub fn waiting(&self) -> usize {
        self.state.lock().unwrap().open.values().map(|e| e.waiters.len()).sum()
    }

    pub fn get(&self, id: u64) -> Option<ApprovalView> {
        self.state.lock().unwrap().open.get(&id).map(|e| e.view.clone())
    }

    /// Answers approval `id` for the first `seen` requests waiting on it; any that joined after the person
    /// looked wait on a new approval, offered at once. Approving one that needs confirming takes a
    /// [`Confirmed`]. Returns the approval as decided, its count being the requests released.
    pub fn decide(
        &self,
        id: u64,
        verdict: Verdict,
        seen: u32,
        confirmed: Option<Confirmed>,
    ) -> Result<ApprovalView, DecideError> {
        let (mut view, released, rest) = {
            let mut state = self.state.lock().unwrap();
            let entry = state.open.get(&id).ok_or(NotWaiting(id))?;
            if verdict == Verdict::Approve && entry.view.confirm && confirmed.is_none() {
                return Err(DecideError::NeedsConfirmation(id));
            }
            let mut entry = state.open.remove(&id).ok_or(NotWaiting(id))?;
            let n = usize::try_from(seen).unwrap_or(usize::MAX).min(entry.waiters.len());
            let later = entry.waiters.split_off(n);
            let rest = (!later.is_empty()).then(|| self.open(&mut state, entry.view.clone(), entry.key, later));
            (entry.view, entry.waiters, rest)
        };
        let outcome = if verdict == Verdict::Approve { Outcome::Approved } else { Outcome::Denied };
        view.set_count(released.len());
        for w in released {
            let _ = w.answer.send((id, outcome));
        }
        self.announce.decided(id, outcome);
        if let Some(rest) = rest {
            self.announce.needed(rest);
        }
        Ok(view)
    }

    /// Denies everything still waiting (on shutdown).
    pub fn deny_all(&self) {
        let ids: Vec<u64> = self.state.lock().unwrap().open.keys().copied().collect();
        for id in ids {
            let _ = self.decide(id, Verdict::Deny, u32::MAX, None);
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
            fiat: None,
            confirm: false,
            explanation: "asked".into(),
            budget: serde_json::json!({}),
        }
    }

    fn spawn_waits(approvals: &Arc<Approvals>, n: usize, h: Held) -> Vec<tokio::task::JoinHandle<(u64, Outcome)>> {
        (0..n)
            .map(|_| {
                let (a, h) = (approvals.clone(), h.clone());
                tokio::spawn(async move { a.wait(h).await })
            })
            .collect()
    }

    async fn until_waiting(approvals: &Approvals, n: u32) {
        while approvals.list().iter().map(|v| v.count).sum::<u32>() < n {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn identical_requests_share_one_approval_with_a_count_and_total() {
        let approvals = Arc::new(Approvals::new(Duration::from_secs(30), Events::default()));
        let waits = spawn_waits(&approvals, 3, held(50_000));
        let other = spawn_waits(&approvals, 1, held(60_000));
        until_waiting(&approvals, 4).await;
        let list = approvals.list();
        assert_eq!(list.len(), 2);
        let three = list.iter().find(|v| v.amount_msat == 50_000).unwrap();
        let one = list.iter().find(|v| v.amount_msat == 60_000).unwrap();
        assert_eq!((three.count, three.total_msat), (3, 150_000));
        assert_eq!(three.describe_amount(), "3 × 50 sats = 150 sats");
        assert_eq!(one.describe_amount(), "60 sats");
        approvals.decide(three.id, Verdict::Approve, 3, None).unwrap();
        approvals.decide(one.id, Verdict::Deny, 1, None).unwrap();
        for w in waits {
            assert_eq!(w.await.unwrap().1, Outcome::Approved);
        }
        for w in other {
            assert_eq!(w.await.unwrap().1, Outcome::Denied);
        }
        assert_eq!(approvals.decide(three.id, Verdict::Deny, 1, None), Err(NotWaiting(three.id).into()));
    }

    #[tokio::test]
    async fn a_decision_releases_only_the_requests_the_person_saw() {
        let events = Events::default();
        let mut rx = events.subscribe();
        let approvals = &Arc::new(Approvals::new(Duration::from_secs(30), events));
        let first = spawn_waits(approvals, 4, held(250_000));
        until_waiting(approvals, 4).await;
        let shown = approvals.list().pop().unwrap();
        assert_eq!(shown.describe_amount(), "4 × 250 sats = 1,000 sats");
        // Two more arrive after the person looked.
        let later = spawn_waits(approvals, 2, held(250_000));
        until_waiting(approvals, 6).await;
        let decided = approvals.decide(shown.id, Verdict::Approve, shown.count, None).unwrap();
        assert_eq!(decided.count, 4);
        for w in first {
            assert_eq!(w.await.unwrap(), (shown.id, Outcome::Approved));
        }
        // The later two wait on a new approval, offered as such.
        let next = approvals.list();
        assert_eq!(next.len(), 1);
        assert_ne!(next[0].id, shown.id);
        assert_eq!(next[0].count, 2);
        let mut offered = Vec::new();
        while let Ok(e) = rx.try_recv() {
            if let crate::events::Event::ApprovalNeeded { approval } = e {
                offered.push(approval.id);
            }
        }
        assert_eq!(offered, vec![shown.id, next[0].id]);
        approvals.decide(next[0].id, Verdict::Deny, 2, None).unwrap();
        for w in later {
            assert_eq!(w.await.unwrap(), (next[0].id, Outcome::Denied));
        }
    }

    #[tokio::test]
    async fn a_confirm_tier_approval_is_not_approved_by_a_click() {
        let approvals = Arc::new(Approvals::new(Duration::from_secs(30), Events::default()));
        let w = spawn_waits(&approvals, 1, Held { confirm: true, ..held(500_000) });
        until_waiting(&approvals, 1).await;
        let id = approvals.list()[0].id;
        assert!(approvals.list()[0].confirm);
        assert_eq!(approvals.decide(id, Verdict::Approve, 1, None), Err(DecideError::NeedsConfirmation(id)));
        // Still waiting; a denial needs nothing.
        approvals.decide(id, Verdict::Deny, 1, None).unwrap();
        assert_eq!(w.into_iter().next().unwrap().await.unwrap().1, Outcome::Denied);
    }

    #[tokio::test(start_paused = true)]
    async fn no_answer_means_deny() {
        let approvals = Approvals::new(Duration::from_secs(120), Events::default());
        assert_eq!(approvals.wait(held(1)).await.1, Outcome::TimedOut);
        assert!(approvals.list().is_empty());
    }

    #[tokio::test]
    async fn a_request_whose_agent_went_away_leaves_its_approval() {
        let approvals = Arc::new(Approvals::new(Duration::from_secs(30), Events::default()));
        let waits = spawn_waits(&approvals, 2, held(1_000));
        until_waiting(&approvals, 2).await;
        waits[0].abort();
        while approvals.waiting() != 1 {
            tokio::task::yield_now().await;
        }
        assert_eq!(approvals.list()[0].count, 1);
        waits[1].abort();
        while !approvals.list().is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(approvals.waiting(), 0, "no ghost approval stays behind");
    }

    #[tokio::test(start_paused = true)]
    async fn requests_moved_to_a_new_approval_get_its_full_time() {
        let approvals = Arc::new(Approvals::new(Duration::from_secs(120), Events::default()));
        let waits = spawn_waits(&approvals, 2, held(1_000));
        until_waiting(&approvals, 2).await;
        tokio::time::advance(Duration::from_secs(100)).await;
        let first = approvals.list()[0].id;
        approvals.decide(first, Verdict::Approve, 1, None).unwrap();
        // The old deadline passes: the moved request still waits.
        tokio::time::advance(Duration::from_secs(60)).await;
        tokio::task::yield_now().await;
        assert_eq!(approvals.list().len(), 1);
        let mut outcomes = Vec::new();
        for w in waits {
            outcomes.push(w.await.unwrap().1);
        }
        outcomes.sort_by_key(|o| *o as u8);
        assert_eq!(outcomes, vec![Outcome::Approved, Outcome::TimedOut]);
        assert!(approvals.list().is_empty());
    }
}
