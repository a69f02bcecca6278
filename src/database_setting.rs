//! Where the ledger is and which instance this is: the `database` setting (`--database`,
//! `PURSER_DATABASE_URL`, or `database = "postgres://…"` in `purser.toml`; the data directory's SQLite file
//! when none says otherwise) and the `instance` name a team's rows are recorded under (`--instance`,
//! `PURSER_INSTANCE`, `instance = "…"`; the machine's host name by default). A desktop connected from its
//! Settings keeps the database's password in the OS keyring, one entry per data directory, and a URL without
//! it in `purser.toml`.

use std::path::Path;
use std::sync::OnceLock;

use crate::ledger::Location;

/// What the command line said, which wins over the environment and `purser.toml`.
/// (No `Debug`: the database URL may hold a password.)
#[derive(Default)]
pub struct CommandLine {
    /// `--database` (or `PURSER_DATABASE_URL`, as clap reads it).
    pub database: Option<String>,
    /// `--instance` (or `PURSER_INSTANCE`).
    pub instance: Option<String>,
    /// The sandbox's play sats always stay in the data directory's own file.
    pub file_only: bool,
}

static COMMAND_LINE: OnceLock<CommandLine> = OnceLock::new();

/// Keeps what the command line chose, for every ledger this process opens.
pub fn set_from_command_line(chosen: CommandLine) {
    let _ = COMMAND_LINE.set(chosen);
}

/// The ledger's location: the command line's or environment's `database`, else `purser.toml`'s (`file`),
/// else `data_dir`'s SQLite file; or why the setting cannot be used.
pub fn location(data_dir: &Path, file: Option<&str>) -> crate::ledger::Result<Location> {
    let own_file = Location::File(data_dir.join(crate::config::LEDGER_FILE));
    if COMMAND_LINE.get().is_some_and(|c| c.file_only) {
        return Ok(own_file);
    }
    let chosen = COMMAND_LINE
        .get()
        .and_then(|c| c.database.clone())
        .or_else(|| std::env::var("PURSER_DATABASE_URL").ok())
        .filter(|d| !d.is_empty())
        .or_else(|| file.map(str::to_string));
    match chosen {
        Some(database) => Location::parse(&with_kept_password(data_dir, database)),
        None => Ok(own_file),
    }
}

const KEYRING_SERVICE: &str = "purser";

fn password_entry(data_dir: &Path) -> keyring::Result<keyring::Entry> {
    keyring::Entry::new(KEYRING_SERVICE, &format!("database-password:{}", data_dir.display()))
}

/// `database` with the password kept for `data_dir` put in, when it is the very URL the password was kept
/// for (login, host, port, database and parameters alike) and names no password of its own; unchanged
/// otherwise (also when there is no keyring: the server may not need a password). A URL typed elsewhere,
/// or mistyped, never receives it.
fn with_kept_password(data_dir: &Path, database: String) -> String {
    let Ok(url) = url::Url::parse(&database) else { return database };
    let own_password = url.password().is_some() || url.query_pairs().any(|(k, _)| k == "password");
    if !crate::ledger::postgres::is_postgres_url(&database) || url.username().is_empty() || own_password {
        return database;
    }
    let Ok(kept) = password_entry(data_dir).and_then(|e| e.get_password()) else { return database };
    // Kept as "URL without the password" and the password, on two lines.
    match kept.split_once('\n') {
        Some((for_url, password)) if for_url == url.as_str() => put_password(url, password).unwrap_or(database),
        _ => database,
    }
}

/// `url` with `password` as its login's password, percent-encoded (a `%` in a password stays a `%`).
fn put_password(mut url: url::Url, password: &str) -> Option<String> {
    let encoded = percent_encoding::utf8_percent_encode(password, percent_encoding::NON_ALPHANUMERIC).to_string();
    url.set_password(Some(&encoded)).ok()?;
    Some(url.to_string())
}

/// A team database's `url` with `typed` put in as its password, or (nothing typed) the one kept for
/// `data_dir` when `url` is the one it was kept for; or why `url` is not a team database's.
pub fn with_password(data_dir: &Path, url: &str, typed: Option<&str>) -> Result<String, String> {
    let url = url.trim();
    if !crate::ledger::postgres::is_postgres_url(url) {
        return Err("a team database is a postgres:// URL: postgres://LOGIN@HOST:5432/DATABASE".into());
    }
    let Some(password) = typed.filter(|p| !p.is_empty()) else {
        return Ok(with_kept_password(data_dir, url.to_string()));
    };
    let (bare, _) = split_password(url);
    let parsed = url::Url::parse(&bare).map_err(|e| format!("the URL cannot be read: {e}"))?;
    if parsed.username().is_empty() {
        return Err("name the login in the URL (postgres://LOGIN@HOST/DATABASE) to go with the password".into());
    }
    put_password(parsed, password).ok_or_else(|| "this URL cannot carry a password".to_string())
}

/// `database` without its password, and the password (from the URL's user part or a `password=` parameter).
pub fn split_password(database: &str) -> (String, Option<String>) {
    let Ok(mut url) = url::Url::parse(database) else { return (database.to_string(), None) };
    let mut password = url.password().map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned());
    let _ = url.set_password(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter_map(|(k, v)| {
            if k == "password" {
                password.get_or_insert_with(|| v.into_owned());
                None
            } else {
                Some((k.into_owned(), v.into_owned()))
            }
        })
        .collect();
    if url.query().is_some() {
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    (url.to_string(), password.filter(|p| !p.is_empty()))
}

/// Keeps `password` in the OS keyring for `data_dir`'s team database at `url` (without its password), to be
/// given to that URL only; `None` forgets it.
pub fn keep_password(data_dir: &Path, kept: Option<(&str, &str)>) -> Result<(), String> {
    let entry = password_entry(data_dir).map_err(|e| keyring_message(&e))?;
    match kept {
        Some((url, password)) => entry.set_password(&format!("{url}\n{password}")).map_err(|e| keyring_message(&e)),
        None => match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_message(&e)),
        },
    }
}

fn keyring_message(e: &keyring::Error) -> String {
    format!(
        "the OS keyring could not keep the database's password ({e}); on a machine without one, put the URL with \
         its password in PURSER_DATABASE_URL instead"
    )
}

/// Where this process's `database` setting comes from when it is not `purser.toml`: `"the command line"` or
/// `"PURSER_DATABASE_URL"`, which win over the file.
pub fn overridden_by() -> Option<&'static str> {
    if COMMAND_LINE.get().is_some_and(|c| c.file_only) {
        return Some("the sandbox, which keeps its own file");
    }
    if COMMAND_LINE.get().is_some_and(|c| c.database.as_deref().is_some_and(|d| !d.is_empty())) {
        return Some("the command line");
    }
    std::env::var("PURSER_DATABASE_URL").ok().filter(|d| !d.is_empty()).map(|_| "PURSER_DATABASE_URL")
}

/// This instance's name: the command line's or environment's, else `purser.toml`'s (`file`), else the
/// machine's host name.
pub fn instance(file: Option<&str>) -> String {
    COMMAND_LINE
        .get()
        .and_then(|c| c.instance.clone())
        .or_else(|| std::env::var("PURSER_INSTANCE").ok())
        .filter(|i| !i.is_empty())
        .or_else(|| file.map(str::to_string))
        .unwrap_or_else(host_name)
}

/// The machine's host name, or `this-machine` when it has none; read once.
fn host_name() -> String {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "this-machine".into())
    })
    .clone()
}

/// An instance name: 1–64 letters, digits, `-`, `_` or `.`.
pub fn valid_instance(name: &str) -> bool {
    crate::ledger::agents::valid_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_taken_out_of_the_url_wherever_it_was() {
        assert_eq!(
            split_password("postgres://alice:p%40ss@db.example.com:5432/team?sslmode=require"),
            ("postgres://alice@db.example.com:5432/team?sslmode=require".to_string(), Some("p@ss".to_string()))
        );
        assert_eq!(
            split_password("postgres://alice@db.example.com/team?password=s3cret"),
            ("postgres://alice@db.example.com/team".to_string(), Some("s3cret".to_string()))
        );
        assert_eq!(split_password("postgres://alice@db/team"), ("postgres://alice@db/team".to_string(), None));
    }

    /// The test command runs the suite with an unlocked keyring on its own session bus.
    #[test]
    fn the_kept_password_goes_into_a_url_without_one_only() {
        let dir = tempfile::tempdir().unwrap();
        let url = "postgres://alice@db.example.com/team".to_string();
        assert_eq!(with_kept_password(dir.path(), url.clone()), url, "nothing kept yet");
        keep_password(dir.path(), Some((&url, "p@ss w%41rd"))).unwrap();
        let with = with_kept_password(dir.path(), url.clone());
        assert_eq!(with, "postgres://alice:p%40ss%20w%2541rd@db.example.com/team");
        assert_eq!(split_password(&with).1.as_deref(), Some("p@ss w%41rd"), "a `%` in it survives the round trip");
        let own = "postgres://alice:other@db.example.com/team".to_string();
        assert_eq!(with_kept_password(dir.path(), own.clone()), own, "the URL's own password wins");
        for elsewhere in [
            "postgres://alice@db.example.org/team",
            "postgres://alice@db.example.com:6543/team",
            "postgres://alice@db.example.com/other",
            "postgres://mallory@db.example.com/team",
            "postgres://alice@db.example.com/team?sslmode=disable",
        ] {
            assert_eq!(with_kept_password(dir.path(), elsewhere.into()), elsewhere, "never sent to another URL");
        }
        let other_dir = tempfile::tempdir().unwrap();
        assert_eq!(with_kept_password(other_dir.path(), url.clone()), url, "one entry per data directory");
        assert_eq!(
            with_password(dir.path(), "postgres://alice@db.example.com/team?password=old", Some("new")).unwrap(),
            "postgres://alice:new@db.example.com/team",
            "a typed password replaces one in the URL's parameters"
        );
        keep_password(dir.path(), None).unwrap();
        keep_password(dir.path(), None).unwrap();
        assert_eq!(with_kept_password(dir.path(), url.clone()), url, "forgotten");
    }
}
