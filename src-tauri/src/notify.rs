//! Desktop notifications (`notify-rust`): an approval request with Approve and Deny actions that decide the
//! requests it showed (clicking the body opens the Approvals screen), a task allowance asked for (opening the
//! Tasks screen), and alerts once per event. An approval
//! that needs the person's confirmation is never approved from a notification: its Approve opens the
//! Approvals screen, where the passphrase is asked. When the notification server cannot show actions, the
//! notification says to open Purser instead.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use notify_rust::{Notification, Timeout};
use purser::approval::{ApprovalView, Outcome};
use purser::events::{Event, Events};
use purser::ledger::alerts::AlertKind;
use purser::ledger::allowances::Allowance;
use purser::units::Msats;
use tauri::{AppHandle, Emitter, Manager};

use crate::runtime::AppCore;

/// Which approval a notification shows: one held on this machine, or one on another of the team's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shown {
    Here(u64),
    Team(i64),
}

impl Shown {
    fn of(a: &ApprovalView) -> Shown {
        a.team_id.map_or(Shown::Here(a.id), Shown::Team)
    }
}

/// Approval → the notification showing it and what it was about ("250 sats for demo → GET host/path"), so
/// an approval answered elsewhere can update its notification and say which payment it was.
static SHOWN: LazyLock<Mutex<HashMap<Shown, (u32, String)>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn actions_supported() -> bool {
    notify_rust::get_capabilities().map(|caps| caps.iter().any(|c| c == "actions")).unwrap_or(false)
}

/// Shows the main window on the given screen.
pub fn open(app: &AppHandle, screen: &str) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
    let _ = app.emit(crate::dto::NAVIGATE_EVENT, screen);
}

pub fn approval(app: AppHandle, a: ApprovalView) {
    std::thread::spawn(move || {
        let with_actions = actions_supported();
        let mut body = format!("Agent {} → {} {}{}\n{}", a.agent, a.method, a.host, a.path, a.explanation);
        if let (Some(machine), Some(_)) = (&a.machine, a.team_id) {
            body.push_str(&format!("\nWaiting on {machine}"));
        }
        if a.count > 1 {
            body.push_str(&format!("\n{} identical requests", a.count));
        }
        if a.confirm {
            body.push_str("\nNeeds your passphrase: Approve opens Purser to confirm.");
        } else if !with_actions {
            body.push_str("\nOpen Purser to approve or deny.");
        }
        let left_ms = (a.expires_at_ms - a.created_at_ms).max(1000) as u32;
        let mut n = Notification::new();
        n.appname("Purser")
            .summary(&format!("Approve {}?", a.describe_amount()))
            .body(&body)
            .timeout(Timeout::Milliseconds(left_ms));
        if with_actions {
            n.action("approve", "Approve").action("deny", "Deny").action("default", "Open Purser");
        }
        let handle = match n.show() {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!("cannot show a notification: {e}");
                return;
            }
        };
        let confirm = a.confirm;
        let what = format!("{} for {} → {} {}{}", a.describe_amount(), a.agent, a.method, a.host, a.path);
        SHOWN.lock().unwrap().insert(Shown::of(&a), (handle.id(), what));
        if !with_actions {
            return;
        }
        handle.wait_for_action(|action| {
            let verdict = match action {
                "approve" if confirm => {
                    open(&app, "approvals");
                    None
                }
                "approve" => Some(true),
                "deny" => Some(false),
                "default" => {
                    open(&app, "approvals");
                    None
                }
                _ => None,
            };
            if let Some(approve) = verdict {
                let app = app.clone();
                tauri::async_runtime::block_on(async move {
                    if let Some(core) = app.try_state::<AppCore>()
                        && let Err(e) = crate::commands::decide_from_notification(&core, &a, approve).await
                    {
                        tracing::info!("an approval from a notification: {}", e.message);
                    }
                });
            }
        });
    });
}

/// Replaces an approval's notification once it is answered (in the window, the CLI, or by timing out), so no
/// stale Approve button stays on screen.
fn answered(shown: Shown, outcome: Option<Outcome>) {
    let Some((nid, what)) = SHOWN.lock().unwrap().remove(&shown) else { return };
    let summary = match outcome {
        Some(Outcome::Approved) => "Payment approved",
        Some(Outcome::Denied) => "Payment denied",
        Some(Outcome::TimedOut) => "Approval timed out: payment denied",
        Some(Outcome::Withdrawn) => "The agent stopped waiting: nothing paid",
        None => "No longer waiting: answered or timed out on its machine",
    };
    let _ = Notification::new()
        .id(nid)
        .appname("Purser")
        .summary(summary)
        .body(&what)
        .timeout(Timeout::Milliseconds(3000))
        .show();
}

/// An agent asks for a task allowance: who, how much, what for, the quote; clicking opens the Tasks screen,
/// where it is answered (a maximum can be lowered there, so the notification has no Approve).
pub fn allowance_requested(app: AppHandle, a: Allowance) {
    std::thread::spawn(move || {
        let mut body = format!("Agent {}: \"{}\"", a.agent, a.purpose);
        if let Some(total) = a.plan.as_ref().map(|p| &p["quote"]["total"]) {
            let sats = |k: &str| Msats(total[k].as_u64().unwrap_or(0));
            body.push_str(&format!("\nQuote: {} to {}", sats("lowest_msat"), sats("highest_msat")));
        }
        body.push_str(&format!("\nFor {} min. Open Purser to approve, lower or deny.", a.asked_duration_ms / 60_000));
        let mut n = Notification::new();
        n.appname("Purser")
            .summary(&format!("Allowance asked: up to {} for {}", Msats(a.max_msat), a.agent))
            .body(&body);
        if actions_supported() {
            n.action("default", "Open Purser");
        }
        match n.show() {
            Ok(handle) => handle.wait_for_action(|action| {
                if action == "default" {
                    open(&app, "tasks");
                }
            }),
            Err(e) => tracing::warn!("cannot show a notification: {e}"),
        }
    });
}

/// One notification per alert.
pub fn alert(kind: AlertKind, message: &str) {
    if let Err(e) = Notification::new().appname("Purser").summary(kind.title()).body(message).show() {
        tracing::warn!("cannot show a notification: {e}");
    }
}

/// Sends every core event to the window (as `noun:verb`), and approvals and alerts to notifications.
pub fn forward_events(app: AppHandle, events: &Events) {
    let mut rx = events.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match rx.recv().await {
                Ok(e) => e,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => break,
            };
            let _ = app.emit(event.name(), &event);
            // Showing a notification is a blocking D-Bus call: never on the runtime's workers.
            match &event {
                Event::ApprovalDecided { id, outcome } => {
                    let (id, outcome) = (*id, *outcome);
                    std::thread::spawn(move || answered(Shown::Here(id), Some(outcome)));
                }
                Event::TeamApprovalClosed { team_id } => {
                    let team_id = *team_id;
                    std::thread::spawn(move || answered(Shown::Team(team_id), None));
                }
                _ => {}
            }
            let Some(core) = app.try_state::<AppCore>() else { continue };
            if !core.notifications_on() {
                continue;
            }
            match &event {
                Event::ApprovalNeeded { approval: a } => approval(app.clone(), a.clone()),
                Event::AllowanceRequested { allowance } => allowance_requested(app.clone(), allowance.clone()),
                Event::Alert { alert: raised } => {
                    let (kind, message) = (raised.kind, raised.message.clone());
                    std::thread::spawn(move || alert(kind, &message));
                }
                _ => {}
            }
        }
    });
}
