//! Where the ledger is and which instance this is: the `database` setting (`--database`,
//! `PURSER_DATABASE_URL`, or `database = "postgres://…"` in `purser.toml`; the data directory's SQLite file
//! when none says otherwise) and the `instance` name a team's rows are recorded under (`--instance`,
//! `PURSER_INSTANCE`, `instance = "…"`; the machine's host name by default).

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
        Some(database) => Location::parse(&database),
        None => Ok(own_file),
    }
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
