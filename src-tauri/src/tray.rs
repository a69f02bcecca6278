//! The tray icon: spend today, approvals waiting, Pause / Resume all payments, Open, Quit. Its texts are
//! refreshed every two seconds from the ledger; its title ("Purser", "Purser · 2 waiting") shows when something
//! waits for the person.

use std::time::Duration;

use purser::units::Msats;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

use crate::runtime::AppCore;

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let spent = MenuItem::with_id(app, "spent", "Spent today: …", false, None::<&str>)?;
    let approvals = MenuItem::with_id(app, "approvals", "No approvals waiting", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause all payments", true, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Purser", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Purser", true, None::<&str>)?;
    let sep = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&spent, &approvals, &sep, &pause, &open, &quit])?;
    let mut tray =
        TrayIconBuilder::with_id("purser").menu(&menu).title("Purser").tooltip("Purser").on_menu_event(|app, event| {
            match event.id.as_ref() {
                "open" => crate::notify::open(app, "overview"),
                "approvals" => crate::notify::open(app, "approvals"),
                "pause" => toggle_pause(app),
                "quit" => {
                    crate::runtime::shut_down(app);
                    app.exit(0);
                }
                _ => {}
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    let icon = tray.build(app)?;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            if let Some(core) = app.try_state::<AppCore>() {
                if let Ok(t) = core.ledger.totals().await {
                    let _ = spent.set_text(format!("Spent today: {}", Msats(t.today_msat)));
                }
                let waiting = crate::commands::all_approvals(&core).await.len();
                // Something waits for the person: the tray says so beside its icon.
                let title = match waiting {
                    0 => "Purser".to_string(),
                    n => format!("Purser · {n} waiting"),
                };
                let _ = icon.set_title(Some(&title));
                let _ = icon.set_tooltip(Some(&title));
                let _ = approvals.set_text(match waiting {
                    0 => "No approvals waiting".to_string(),
                    1 => "1 approval waiting".to_string(),
                    n => format!("{n} approvals waiting"),
                });
                let paused = core.ledger.paused_all().await.unwrap_or(false);
                let _ = pause.set_text(if paused { "Resume all payments" } else { "Pause all payments" });
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    Ok(())
}

fn toggle_pause(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Some(core) = app.try_state::<AppCore>() {
            let paused = core.ledger.paused_all().await.unwrap_or(false);
            if let Err(e) = core.ledger.set_paused_all(!paused).await {
                tracing::error!("cannot change the pause: {e}");
            }
            let _ = tauri::Emitter::emit(&app, crate::dto::PAUSED_EVENT, !paused);
        }
    });
}
