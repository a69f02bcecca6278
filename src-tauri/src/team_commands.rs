//! The commands of Settings' team database: check a database before connecting, connect this desktop to it
//! (the URL and instance name in `purser.toml`, the password in the OS keyring), leave it, and restart to
//! apply either.

use purser::database_setting;
use purser::ledger::team_check::{self, TeamDatabaseCheck};
use tauri::State;

use crate::error::{Result, UiError};
use crate::runtime::AppCore;

/// `url` with the typed `password` put in, or the one kept for this data directory.
fn with_password(core: &AppCore, url: &str, password: Option<&str>) -> Result<String> {
    database_setting::with_password(&core.data_dir, url, password).map_err(|e| UiError::new("invalid", e))
}

/// Connects once and reports the server, the login's role, the schema and whose payments are there.
#[tauri::command]
pub async fn check_team_database(
    core: State<'_, AppCore>,
    url: String,
    password: Option<String>,
) -> Result<TeamDatabaseCheck> {
    Ok(team_check::check(&with_password(&core, &url, password.as_deref())?).await?)
}

/// Checks the database again, refuses a login a supervisor's desktop cannot work with, then keeps the URL (no
/// password) and this instance's name in `purser.toml` and the password in the OS keyring. Applies on the
/// next start ([`restart`]).
#[tauri::command]
pub async fn connect_team_database(
    core: State<'_, AppCore>,
    url: String,
    password: Option<String>,
    instance: String,
) -> Result<TeamDatabaseCheck> {
    let instance = Some(instance.trim()).filter(|i| !i.is_empty());
    if let Some(name) = instance.filter(|n| !database_setting::valid_instance(n)) {
        return Err(UiError::new(
            "invalid",
            format!("the instance name `{name}` is not 1–64 letters, digits, '-', '_' or '.'"),
        ));
    }
    let full = with_password(&core, &url, password.as_deref())?;
    let found = team_check::check(&full).await?;
    if let Some(why) = found.refusal_for_supervisor() {
        return Err(UiError::new("forbidden", why));
    }
    let (bare, secret) = database_setting::split_password(&full);
    let (dir, for_url) = (core.data_dir.clone(), bare.clone());
    tokio::task::spawn_blocking(move || {
        database_setting::keep_password(&dir, secret.as_deref().map(|p| (for_url.as_str(), p)))
    })
    .await
    .map_err(|e| UiError::new("keyring", e.to_string()))?
    .map_err(|e| UiError::new("keyring", e))?;
    purser::config::set_team_database(&core.data_dir, Some(&bare), instance)
        .map_err(|e| UiError::new("invalid", e.to_string()))?;
    Ok(found)
}

/// Back to this machine's own ledger file on the next start: the team database's URL and instance name
/// leave `purser.toml`, its password the keyring. The team's database keeps everything.
#[tauri::command]
pub async fn leave_team_database(core: State<'_, AppCore>) -> Result<()> {
    purser::config::set_team_database(&core.data_dir, None, None)
        .map_err(|e| UiError::new("invalid", e.to_string()))?;
    let dir = core.data_dir.clone();
    tokio::task::spawn_blocking(move || database_setting::keep_password(&dir, None))
        .await
        .map_err(|e| UiError::new("keyring", e.to_string()))?
        .map_err(|e| UiError::new("keyring", e))
}

/// Quits (denying what waits, as a quit does) and starts again, reading `purser.toml` anew.
#[tauri::command]
pub async fn restart(core: State<'_, AppCore>) -> Result<()> {
    match core.app.get() {
        Some(app) => {
            app.request_restart();
            Ok(())
        }
        None => Err(UiError::new("invalid", "Purser is still starting")),
    }
}
