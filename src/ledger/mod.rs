//! The SQLite ledger (sqlx; schema in `migrations/`): agents and their keys, every payment Purser decided
//! on, and the credentials kept for reuse. The file is created readable by the user only.
//!
//! - [`agents`]: creating agents and checking their keys.
//! - [`payments`]: the reserve → settle/fail → delivered steps, each written before the next one starts.
//! - [`credentials`]: proofs kept per agent and origin.
//! - [`export`]: the rows as a table, JSON or CSV.

pub mod agents;
pub mod credentials;
pub mod export;
pub mod payments;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("ledger database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("ledger migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("agent names are 1–64 letters, digits, '-', '_' or '.'; `{0}` is not")]
    BadAgentName(String),
    #[error("an agent named `{0}` already exists")]
    AgentExists(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Milliseconds since the Unix epoch, UTC: how the ledger stores time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Debug, Clone)]
pub struct Ledger {
    pool: SqlitePool,
}

impl Ledger {
    /// Opens (creating if needed) the ledger at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            private_dir(dir)?;
        }
        private_file(path)?;
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Ledger { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn private_dir(dir: &Path) -> Result<()> {
    let err = |source| Error::DataDir {
        path: dir.display().to_string(),
        source,
    };
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
    }
    Ok(())
}

/// Creates the database file as owner-only before SQLite opens it.
fn private_file(path: &Path) -> Result<()> {
    let err = |source| Error::DataDir {
        path: path.display().to_string(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map_err(err)?;
    Ok(())
}
