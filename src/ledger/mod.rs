//! The ledger, on an SQLite file (schema in `migrations/`) or a team's PostgreSQL server (schema in
//! `migrations-postgres/`): agents and their keys, every payment Purser decided on, and the credentials
//! kept for reuse. The file is created readable by the user only.
//!
//! - [`agents`]: creating agents and checking their keys; pausing them.
//! - [`engine`]: the two engines and where their SQL differs; [`postgres`]: connecting to a team's server.
//! - [`payments`]: the reserve → settle/fail → delivered steps, each written before the next one starts.
//! - `decision_read`: everything a payment's decision reads, in one statement inside the reservation.
//! - [`policy_store`]: budgets, thresholds, remembered rules, pauses, breakers, and the snapshot a decision
//!   is made on.
//! - [`currency`]: the display currency as stored, the currencies a payment's limits are set in.
//! - [`alerts`]: budget crossings, spending velocity, first payments, unusual prices, tripped breakers.
//! - [`confirmations`]: the passphrase's hash, "every approval needs it", wrong tries and their lock.
//! - [`credentials`]: proofs kept per agent and origin, listed and revoked by a person.
//! - [`price_checks`]: invoices above the advertised or usual price; the decision a dry run reports.
//! - [`prices`]: the prices APIs publish, per origin, with when they were read.
//! - [`recovery`]: payments whose outcome is open (`pending`, `paying`, `unknown`), for recovery to resolve.
//! - [`export`]: the rows as a table, JSON or CSV.
//! - [`hot`]: in-memory copies of agents and kept credentials, so a request that pays nothing reads no SQLite.
//! - [`queries`]: what the desktop UI shows: totals, spend per day, filtered pages, CSV of a filtered view.
//! - [`team_check`]: what a team database holds and what a login may do there, before connecting.
//! - [`uninspected`]: tunnels Purser could not look inside (pass-through hosts, refused certificates).
//! - [`sessions`]: MPP Lightning sessions: deposits, draws, closes and refunds.
//! - [`held`]: what is held at APIs (session deposits, refunds awaited, credit bought by top-ups), and
//!   whether a person allows top-ups at an API.

pub mod agents;
pub mod alerts;
pub mod allowances;
pub mod confirmations;
pub mod credentials;
pub mod currency;
mod decision_read;
pub mod delivery;
pub mod endpoints;
pub mod engine;
pub mod export;
pub mod held;
pub mod hot;
mod new_payment;
mod payment_alerts;
pub mod payments;
pub mod policy_store;
#[cfg(test)]
mod policy_tables_tests;
pub mod postgres;
pub mod price_checks;
pub mod prices;
pub mod queries;
#[cfg(test)]
mod queries_tests;
pub mod recovery;
pub mod sessions;
pub mod shared_approvals;
mod snapshot;
pub mod status;
pub mod team_check;
#[doc(hidden)]
pub mod testing;
pub mod uninspected;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use crate::policy::clock::{self, Clock};
use crate::units::Msats;

use sqlx::ConnectOptions as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;

pub use engine::{Engine, Pool};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("ledger database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("ledger migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("agent names are 1–64 letters, digits, '-', '_' or '.'; `{0}` is not")]
    BadAgentName(String),
    #[error("an agent named `{0}` already exists")]
    AgentExists(String),
    #[error("no agent is named `{0}`")]
    NoSuchAgent(String),
    #[error("{0}")]
    Invalid(String),
    #[error("no {0} has id {1}")]
    NotFound(&'static str, i64),
}

pub type Result<T> = std::result::Result<T, Error>;

/// The policy knobs that live outside the database (see [`crate::config::ConfigFile`]).
#[derive(Debug, Clone)]
pub struct PolicySettings {
    /// Calendar budget windows are computed in this zone.
    pub time_zone: jiff::tz::TimeZone,
    /// An agent spending more than this in a minute raises an alert.
    pub velocity_limit_per_minute: Msats,
    /// An invoice this many percent above an endpoint's usual price raises an alert and goes to a person.
    pub price_alert_margin_pct: u64,
    /// Refuse (`price_mismatch`) instead of asking a person when an invoice is above the advertised or usual
    /// price.
    pub refuse_price_mismatch: bool,
    /// This many paid requests in a row that are not delivered trip the endpoint's breaker.
    pub breaker_failures: u32,
    /// A tripped breaker resets itself after this long.
    pub breaker_cooldown_ms: i64,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            time_zone: crate::policy::period::system_time_zone(),
            velocity_limit_per_minute: Msats::from_sats(1_000),
            price_alert_margin_pct: 50,
            refuse_price_mismatch: false,
            breaker_failures: 3,
            breaker_cooldown_ms: 10 * 60 * 1000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Ledger {
    pool: Pool,
    /// One connection whose every commit is synced to disk before it returns, for the write that must
    /// survive a power cut before Purser goes on (`mark_paying`).
    durable: Pool,
    engine: Engine,
    /// Every timestamp the ledger writes, and every budget window, comes from here.
    clock: Arc<dyn Clock>,
    policy: Arc<PolicySettings>,
    /// What every proxied request reads (agents, kept credentials), kept in memory.
    hot: Arc<hot::HotCache>,
    /// This instance's name, recorded on the payments it makes.
    instance: Arc<str>,
}

/// Where a ledger lives: a file on this machine, or a team's PostgreSQL server (its URL, password and all:
/// never shown or logged).
#[derive(Clone)]
pub enum Location {
    File(std::path::PathBuf),
    Server(String),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(path) => write!(f, "File({})", path.display()),
            Location::Server(url) => write!(f, "Server({})", postgres::without_password(url)),
        }
    }
}

impl Location {
    /// `database` as a `database` setting gives it: a `postgres://` URL, else a file's path. Any other URL
    /// is refused (without showing it: it may hold a password) rather than taken for a file's name.
    pub fn parse(database: &str) -> Result<Self> {
        if postgres::is_postgres_url(database) {
            Ok(Location::Server(database.to_string()))
        } else if database.contains("://") {
            Err(Error::Invalid(
                "the database setting is a postgres:// (or postgresql://) URL, or a file's path; this one is \
                 neither"
                    .into(),
            ))
        } else {
            Ok(Location::File(database.into()))
        }
    }
}

impl Ledger {
    /// Opens the ledger at `location`, creating a file if needed, and brings its schema up to date.
    pub async fn open_at(location: &Location) -> Result<Self> {
        match location {
            Location::File(path) => Self::open(path).await,
            Location::Server(url) => Self::connect_postgres(url).await,
        }
    }

    /// Opens (creating if needed) the ledger at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            private_dir(dir)?;
        }
        private_file(path)?;
        sqlx::any::install_default_drivers();
        let url = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .to_url_lossy();
        let opts = AnyConnectOptions::from_url(&url)?;
        // Commits survive a killed process at once (the WAL is written before a commit returns). The one
        // write that must also survive a power cut before going on, the `paying` step before the wallet is
        // asked, goes through `durable`, which syncs the WAL to disk, and with it every commit before.
        // A local file has no connection to go stale: no ping before each use.
        let pool = sqlite_pool(4, "NORMAL").connect_with(opts.clone()).await?;
        let durable = sqlite_pool(1, "FULL").connect_lazy_with(opts);
        sqlx::migrate!("./migrations").run(&pool).await?;
        credentials::backfill_expiry(&pool).await?;
        let hot = Arc::new(hot::HotCache::default());
        hot::start_watch(&hot, SqliteConnectOptions::from_url(&url)?).await;
        Ok(Ledger {
            pool,
            durable,
            engine: Engine::Sqlite { path: path.to_path_buf() },
            clock: clock::system(),
            policy: Arc::new(PolicySettings::default()),
            hot,
            instance: Arc::from(crate::database_setting::instance(None)),
        })
    }

    /// The ledger's clock, for what must agree with it (the age of a rate).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Records this handle's payments under instance `name`.
    pub fn with_instance(mut self, name: &str) -> Self {
        self.instance = Arc::from(name);
        self
    }

    /// The instance name this handle records its payments under.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn with_policy(mut self, policy: PolicySettings) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Entries and bytes the in-memory copies of agents and kept credentials take now.
    pub fn cache_footprint(&self) -> [(usize, usize); 2] {
        self.hot().footprint()
    }

    pub(crate) fn hot(&self) -> &hot::HotCache {
        &self.hot
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The connection whose commits are synced to disk before they return.
    pub(crate) fn durable(&self) -> &Pool {
        &self.durable
    }

    /// A transaction that writes, never overtaken between its reads and its writes by another one on this
    /// ledger, from any process or instance: SQLite takes its write lock at once; on PostgreSQL it takes
    /// [`engine::BEGIN_LOCKED`] as it begins.
    pub(crate) async fn begin_writing(&self) -> Result<sqlx::Transaction<'static, engine::Db>> {
        Ok(self.pool.begin_with(self.engine.begin_statement()).await?)
    }

    /// The engine this ledger is on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Milliseconds since the Unix epoch, UTC, by the ledger's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn policy(&self) -> &PolicySettings {
        &self.policy
    }
}

/// A pool of at most `connections` to the SQLite file, each in WAL mode with foreign keys on, waiting up to
/// ten seconds for another writer, and syncing as `synchronous` says.
fn sqlite_pool(connections: u32, synchronous: &'static str) -> AnyPoolOptions {
    AnyPoolOptions::new().max_connections(connections).test_before_acquire(false).after_connect(move |conn, _| {
        Box::pin(async move {
            use sqlx::Executor as _;
            for pragma in [
                "PRAGMA journal_mode = WAL",
                "PRAGMA foreign_keys = ON",
                "PRAGMA busy_timeout = 10000",
                if synchronous == "FULL" { "PRAGMA synchronous = FULL" } else { "PRAGMA synchronous = NORMAL" },
            ] {
                conn.execute(pragma).await?;
            }
            Ok(())
        })
    })
}

/// The ledger's directory, owner-only, also when it existed before readable by others (said in the log).
fn private_dir(dir: &Path) -> Result<()> {
    let changed = crate::private_fs::private_data_dir(dir)
        .map_err(|source| Error::DataDir { path: dir.display().to_string(), source })?;
    if changed {
        tracing::warn!("the data directory {} was readable by other users; it is now yours only (0700)", dir.display());
    }
    Ok(())
}

/// Creates the database file as owner-only before SQLite opens it.
fn private_file(path: &Path) -> Result<()> {
    let err = |source| Error::DataDir { path: path.display().to_string(), source };
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
