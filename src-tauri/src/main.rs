//! Purser's desktop app: the core proxy running inside the app, a window that shows what agents spend and
//! asks for approvals, a tray that can stop all spending, and notifications that approve or deny.
//!
//! This crate only wires things together; every decision lives in the `purser` core.
//!
//! # Layout
//!
//! - `runtime`: starts the core (ledger, wallet, proxy; or the sandbox) and forwards its events.
//! - `commands`: the thin commands the UI invokes; `task_commands`: those for task allowances;
//!   `team_commands`: those connecting this desktop to a team's database.
//! - `handlers`: the one list of those commands, for Tauri and for the UI's generated client.
//! - `dto`: the composite answers those commands give (their TypeScript types are generated).
//! - `error`: the one mapping from core errors to `{kind, message}` for the UI.
//! - `notify`: desktop notifications with Approve / Deny actions.
//! - `tray`: the tray icon and its menu.

mod commands;
mod currency_commands;
mod dto;
mod error;
mod handlers;
mod notify;
mod runtime;
mod task_commands;
mod team_commands;
mod tray;

use tauri::Manager;

fn main() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PURSER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,nostr_relay_pool=warn,nostr_sdk=warn")),
        )
        .try_init();
    let args = match runtime::Args::from_env() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let app = tauri::Builder::default()
        .setup(move |app| {
            let core = tauri::async_runtime::block_on(runtime::start(args))?;
            let _ = core.app.set(app.handle().clone());
            notify::forward_events(app.handle().clone(), &core.proxy.events);
            app.manage(core);
            tray::build(app.handle())?;
            Ok(())
        })
        .invoke_handler(handlers::handler())
        .on_window_event(|window, event| {
            // Closing the window keeps Purser running in the tray.
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                let _ = window.hide();
                api.prevent_close();
            }
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|handle, event| {
            if let tauri::RunEvent::ExitRequested { .. } = event {
                runtime::shut_down(handle);
            }
        }),
        Err(e) => {
            eprintln!("error: Purser could not start: {e}");
            std::process::exit(1);
        }
    }
}
