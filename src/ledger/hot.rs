//! In-memory copies of what every proxied request reads — agents' key hashes and the kept credentials — so
//! a request that pays nothing asks SQLite nothing. Every write to them through this ledger bumps a
//! generation (the credentials' own, when only a kept proof changed); writes by another process (the CLI
//! rotating a key, revoking a credential) are seen through SQLite's `PRAGMA data_version`, polled on a
//! connection of its own every [`POLL`], which bumps both. An entry from an older generation is read from
//! SQLite again.
//!
//! Also the policy tables (budgets, thresholds, rules) every payment reads: those are checked against the
//! database's `policy_generation` inside the payment's own transaction, so they are never stale.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::{Connection, SqliteConnection};

use super::agents::Agent;
use super::credentials::Credential;
use super::snapshot::PolicyTables;
use crate::bounded::BoundedMap;

/// How often other processes' writes are looked for.
pub const POLL: Duration = Duration::from_millis(200);
/// Entries kept at most per map; past it the map starts again empty.
const MAX_ENTRIES: usize = 10_000;
/// Bytes kept at most per map (names, paths and proofs come from agents and APIs); past it the same.
const MAX_BYTES: usize = 8 << 20;

/// An agent as authentication needs it: its key's SHA-256 (hex) and the agent.
pub type AgentEntry = Option<(String, Agent)>;
/// Agent id, origin, path.
pub type CredentialKey = (i64, String, String);

#[derive(Debug)]
pub struct HotCache {
    generation: AtomicU64,
    /// Bumped with `generation`, and also when only a kept proof changed (a payment keeps or uses one).
    credentials_generation: AtomicU64,
    agents: Mutex<BoundedMap<String, (u64, AgentEntry)>>,
    credentials: Mutex<BoundedMap<CredentialKey, (u64, Option<Credential>)>>,
    /// Budgets, thresholds and rules; current while their `policy_generation` matches the database's.
    policy: Mutex<Option<Arc<PolicyTables>>>,
    /// Counts the changes to a team's shared approvals (another instance or a supervisor wrote one); each
    /// watcher (this instance's answer applier, a desktop's list) holds its own receiver and sees every one.
    pub(crate) approvals_changed: tokio::sync::watch::Sender<u64>,
}

impl Default for HotCache {
    fn default() -> Self {
        HotCache {
            generation: AtomicU64::new(0),
            credentials_generation: AtomicU64::new(0),
            agents: Mutex::new(BoundedMap::new(MAX_ENTRIES, MAX_BYTES)),
            credentials: Mutex::new(BoundedMap::new(MAX_ENTRIES, MAX_BYTES)),
            policy: Mutex::new(None),
            approvals_changed: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// What an entry holds in memory, roughly: its strings and a fixed part.
fn agent_bytes(name: &str, entry: &AgentEntry) -> usize {
    128 + name.len() + entry.as_ref().map_or(0, |(hash, agent)| hash.len() + agent.name.len())
}

fn credential_bytes(key: &CredentialKey, cred: &Option<Credential>) -> usize {
    128 + key.1.len() + key.2.len() + cred.as_ref().map_or(0, |c| c.authorization.len() + c.path.len() + c.header.len())
}

impl HotCache {
    /// Entries and bytes held for agents, then for kept credentials.
    pub fn footprint(&self) -> [(usize, usize); 2] {
        [self.agents.lock().unwrap().footprint(), self.credentials.lock().unwrap().footprint()]
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Something cached may have changed: everything is read again.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.credentials_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The generation kept credentials are read at.
    pub fn credentials_generation(&self) -> u64 {
        self.credentials_generation.load(Ordering::SeqCst)
    }

    /// A kept proof changed: credentials are read again, agents stay.
    pub fn invalidate_credentials(&self) {
        self.credentials_generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn agent(&self, name: &str) -> Option<AgentEntry> {
        let now = self.generation();
        self.agents.lock().unwrap().get(name).filter(|(g, _)| *g == now).map(|(_, e)| e.clone())
    }

    /// Keeps what was read at `generation` (taken before the read, so a write meanwhile wins).
    pub fn put_agent(&self, name: &str, generation: u64, entry: AgentEntry) {
        let bytes = agent_bytes(name, &entry);
        self.agents.lock().unwrap().insert(name.to_string(), (generation, entry), bytes);
    }

    pub fn credential(&self, key: &CredentialKey, now_ms: i64) -> Option<Option<Credential>> {
        let now = self.credentials_generation();
        let credentials = self.credentials.lock().unwrap();
        let (g, cred) = credentials.get(key)?;
        // An entry whose proof has expired since is read again (the query leaves expired proofs out).
        let stale = *g != now || cred.as_ref().is_some_and(|c| c.expires_at_ms.is_some_and(|e| e <= now_ms));
        (!stale).then(|| cred.clone())
    }

    pub(crate) fn policy(&self) -> Option<Arc<PolicyTables>> {
        self.policy.lock().unwrap().clone()
    }

    pub(crate) fn put_policy(&self, tables: Arc<PolicyTables>) {
        *self.policy.lock().unwrap() = Some(tables);
    }

    pub fn put_credential(&self, key: CredentialKey, generation: u64, cred: Option<Credential>) {
        let bytes = credential_bytes(&key, &cred);
        self.credentials.lock().unwrap().insert(key, (generation, cred), bytes);
    }
}

/// Watches the database for other processes' commits while `cache` lives, from `last`, the count taken
/// before anything was read into it.
async fn watch(cache: Weak<HotCache>, mut conn: SqliteConnection, mut last: Option<i64>) {
    loop {
        tokio::time::sleep(POLL).await;
        let Some(cache) = cache.upgrade() else { break };
        let now = data_version(&mut conn).await;
        if now.is_none() || now != last {
            cache.invalidate();
        }
        last = now;
    }
    let _ = conn.close().await;
}

/// SQLite's count of commits by other connections, as this connection sees it; `None` when it cannot say.
async fn data_version(conn: &mut SqliteConnection) -> Option<i64> {
    sqlx::query_scalar::<_, i64>("PRAGMA data_version").fetch_one(conn).await.ok()
}

/// Takes the count of commits now, before `cache` holds anything, then watches on from it in the background.
pub async fn start_watch(cache: &Arc<HotCache>, opts: sqlx::sqlite::SqliteConnectOptions) {
    let mut conn = match SqliteConnection::connect_with(&opts).await {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!("cannot watch the ledger for other processes' changes: {e}");
            return;
        }
    };
    let last = data_version(&mut conn).await;
    tokio::spawn(watch(Arc::downgrade(cache), conn, last));
}

#[cfg(test)]
mod tests {
    use crate::ledger::Ledger;

    /// A key rotated through another handle on the same ledger (another process, as the CLI is) stops working
    /// through this handle within a few polls, also when it was rotated right after this handle opened and
    /// read the agent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_key_rotated_by_another_handle_stops_working() {
        let dir = tempfile::tempdir().unwrap();
        let location = crate::ledger::testing::fresh_location(dir.path()).await;
        let ledger = Ledger::open_at(&location).await.unwrap();
        let (_, key) = ledger.add_agent("a").await.unwrap();
        assert!(ledger.authenticate("a", &key).await.unwrap().is_some());
        let other = Ledger::open_at(&location).await.unwrap();
        other.rotate_key("a").await.unwrap().unwrap();
        let started = std::time::Instant::now();
        while ledger.authenticate("a", &key).await.unwrap().is_some() {
            assert!(started.elapsed() < super::POLL * 20, "the old key still works");
            tokio::time::sleep(super::POLL / 4).await;
        }
    }
}
