//! Typed events from the core, on a broadcast channel: whoever listens (the log now, the desktop UI and
//! notifications later) hears what happened to each payment.

use serde::Serialize;
use tokio::sync::broadcast;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// `payment:settled`
    PaymentSettled { request_id: String, agent: String, host: String, amount_msat: u64, fee_msat: u64 },
    /// `payment:refused`: Purser decided not to pay (or could not), with the reason code.
    PaymentRefused { request_id: String, agent: String, host: String, amount_msat: Option<u64>, reason: String },
    /// `payment:failed`: the wallet was asked and the payment did not go through.
    PaymentFailed { request_id: String, agent: String, host: String, amount_msat: u64, reason: String },
    /// `approval:needed`: a payment waits for a person.
    ApprovalNeeded { approval: crate::approval::ApprovalView },
    /// `approval:decided`: approved, denied or timed out.
    ApprovalDecided { id: u64, outcome: crate::approval::Outcome },
    /// `approval:closed_elsewhere`: a payment held on another of the team's machines no longer waits
    /// (answered from some machine, timed out, or its agent gave up); `team_id` as in `ApprovalView`.
    TeamApprovalClosed { team_id: i64 },
    /// `alert:raised`
    Alert { alert: crate::ledger::alerts::Alert },
    /// `allowance:requested`: an agent asks a person for a task allowance.
    AllowanceRequested { allowance: crate::ledger::allowances::Allowance },
    /// `allowance:changed`: answered, raised or closed.
    AllowanceChanged { allowance: crate::ledger::allowances::Allowance },
    /// `held:changed`: what is held at an API changed without a payment: a call drawn from a session, a
    /// session closed or ended, a refund received or recorded missing, credit used up.
    HeldChanged { host: String },
}

impl Event {
    /// Every event's name, for whoever listens by name (the desktop UI's bindings are generated from it).
    pub const NAMES: [&'static str; 10] = [
        "payment:settled",
        "payment:refused",
        "payment:failed",
        "approval:needed",
        "approval:decided",
        "approval:closed_elsewhere",
        "alert:raised",
        "allowance:requested",
        "allowance:changed",
        "held:changed",
    ];

    /// The event's name in the `noun:verb` scheme.
    pub fn name(&self) -> &'static str {
        match self {
            Event::PaymentSettled { .. } => "payment:settled",
            Event::PaymentRefused { .. } => "payment:refused",
            Event::PaymentFailed { .. } => "payment:failed",
            Event::ApprovalNeeded { .. } => "approval:needed",
            Event::ApprovalDecided { .. } => "approval:decided",
            Event::TeamApprovalClosed { .. } => "approval:closed_elsewhere",
            Event::Alert { .. } => "alert:raised",
            Event::AllowanceRequested { .. } => "allowance:requested",
            Event::AllowanceChanged { .. } => "allowance:changed",
            Event::HeldChanged { .. } => "held:changed",
        }
    }
}

impl crate::approval::Announce for Events {
    fn needed(&self, approval: crate::approval::ApprovalView) {
        self.emit(Event::ApprovalNeeded { approval });
    }

    fn decided(&self, id: u64, outcome: crate::approval::Outcome) {
        self.emit(Event::ApprovalDecided { id, outcome });
    }

    fn alerted(&self, alert: crate::ledger::alerts::Alert) {
        self.emit(Event::Alert { alert });
    }
}

/// The sending side, cloned into every part of the core that reports.
#[derive(Debug, Clone)]
pub struct Events(broadcast::Sender<Event>);

impl Default for Events {
    fn default() -> Self {
        Events(broadcast::channel(1024).0)
    }
}

impl Events {
    pub fn emit(&self, event: Event) {
        // Nobody listening is fine: the ledger is the record, events are news.
        let _ = self.0.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An allowance for the event list: its fields do not matter.
    fn sample_allowance() -> crate::ledger::allowances::Allowance {
        crate::ledger::allowances::Allowance {
            id: 1,
            agent: "a".into(),
            purpose: "p".into(),
            state: crate::policy::allowance::AllowanceState::Requested,
            max_msat: 1,
            asked_max_msat: 1,
            per_payment_max_msat: None,
            apis: Vec::new(),
            used_msat: 0,
            calls: 0,
            asked_duration_ms: 1,
            confirmed: false,
            opened_by: "agent".into(),
            created_at_ms: 0,
            decided_at_ms: None,
            expires_at_ms: 1,
            closed_at_ms: None,
            closed_by: None,
            plan: None,
            summary: None,
            max_fiat: None,
            asked_max_fiat: None,
            per_payment_max_fiat: None,
            used_fiat: None,
        }
    }

    #[test]
    fn every_event_name_is_listed() {
        let view = crate::approval::ApprovalView {
            id: 1,
            agent: "a".into(),
            method: "GET".into(),
            host: "h".into(),
            path: "/".into(),
            amount_msat: 1,
            explanation: String::new(),
            budget: serde_json::Value::Null,
            count: 1,
            total_msat: 1,
            fiat: None,
            confirm: false,
            created_at_ms: 0,
            expires_at_ms: 0,
            machine: None,
            team_id: None,
        };
        let alert = crate::ledger::alerts::Alert {
            id: 1,
            kind: crate::ledger::alerts::AlertKind::Velocity,
            agent: None,
            host: None,
            budget_id: None,
            payment_id: None,
            message: String::new(),
            created_at: String::new(),
        };
        let allowance = sample_allowance();
        let all = [
            Event::PaymentSettled {
                request_id: "r".into(),
                agent: "a".into(),
                host: "h".into(),
                amount_msat: 1,
                fee_msat: 0,
            },
            Event::PaymentRefused {
                request_id: "r".into(),
                agent: "a".into(),
                host: "h".into(),
                amount_msat: None,
                reason: "x".into(),
            },
            Event::PaymentFailed {
                request_id: "r".into(),
                agent: "a".into(),
                host: "h".into(),
                amount_msat: 1,
                reason: "x".into(),
            },
            Event::ApprovalNeeded { approval: view },
            Event::ApprovalDecided { id: 1, outcome: crate::approval::Outcome::Denied },
            Event::TeamApprovalClosed { team_id: 1 },
            Event::Alert { alert },
            Event::AllowanceRequested { allowance: allowance.clone() },
            Event::AllowanceChanged { allowance },
            Event::HeldChanged { host: "h".into() },
        ];
        let names: Vec<&str> = all.iter().map(Event::name).collect();
        assert_eq!(names, Event::NAMES);
    }
}
