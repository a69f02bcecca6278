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
    /// `alert:raised`
    Alert { alert: crate::ledger::alerts::Alert },
}

impl Event {
    /// The event's name in the `noun:verb` scheme.
    pub fn name(&self) -> &'static str {
        match self {
            Event::PaymentSettled { .. } => "payment:settled",
            Event::PaymentRefused { .. } => "payment:refused",
            Event::PaymentFailed { .. } => "payment:failed",
            Event::ApprovalNeeded { .. } => "approval:needed",
            Event::ApprovalDecided { .. } => "approval:decided",
            Event::Alert { .. } => "alert:raised",
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
