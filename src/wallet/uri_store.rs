//! Where the wallet connection string lives: the OS keyring (Secret Service, Keychain, Credential Manager),
//! one entry per data directory, or `PURSER_NWC_URI` in the environment for headless machines. It is never
//! written to SQLite, a config file or a log.

use std::path::Path;

use super::{Error, Result};

/// The environment variable that, when set, is used instead of the keyring (and never stored).
pub const ENV_VAR: &str = "PURSER_NWC_URI";

const SERVICE: &str = "purser";

/// Where a connection string came from, for `purser wallet info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Environment,
    Keyring,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Environment => "the PURSER_NWC_URI environment variable",
            Source::Keyring => "the OS keyring",
        }
    }
}

/// One keyring entry per data directory, so a sandbox or a test never touches the real wallet's entry.
fn entry(data_dir: &Path) -> Result<keyring::Entry> {
    let account = format!("nwc-uri:{}", data_dir.display());
    keyring::Entry::new(SERVICE, &account).map_err(keyring_error)
}

fn keyring_error(e: keyring::Error) -> Error {
    Error::Keyring(format!(
        "{e}. On Linux the keyring is the Secret Service over D-Bus (e.g. gnome-keyring, unlocked); \
         on a headless machine set {ENV_VAR} instead"
    ))
}

/// The connection string: the environment first, then the keyring. `Ok(None)` when neither has one.
pub fn load(data_dir: &Path) -> Result<Option<(String, Source)>> {
    if let Ok(uri) = std::env::var(ENV_VAR)
        && !uri.trim().is_empty()
    {
        return Ok(Some((uri, Source::Environment)));
    }
    match entry(data_dir)?.get_password() {
        Ok(uri) => Ok(Some((uri, Source::Keyring))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(keyring_error(e)),
    }
}

pub fn store(data_dir: &Path, uri: &str) -> Result<()> {
    entry(data_dir)?.set_password(uri.trim()).map_err(keyring_error)
}

/// Removes the stored connection string; `Ok(false)` when there was none.
pub fn forget(data_dir: &Path) -> Result<bool> {
    match entry(data_dir)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(keyring_error(e)),
    }
}
