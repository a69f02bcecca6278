//! The ledger on a PostgreSQL server that a team's instances share: connecting (TLS verified unless the
//! server is on this machine), the schema from `migrations-postgres/`, and hearing at once, through
//! `LISTEN/NOTIFY`, what other instances changed in what every request reads from memory (agents and their
//! keys, kept credentials).

use std::sync::{Arc, Weak};

use sqlx::ConnectOptions as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::postgres::PgListener;

use super::hot::HotCache;
use super::{Engine, Ledger, PolicySettings, Result};
use crate::policy::clock;

/// The channel the schema's triggers notify on, with the table that changed as the payload.
const CHANNEL: &str = "purser_ledger";

/// Whether `database` names a PostgreSQL server (`postgres://` or `postgresql://`).
pub fn is_postgres_url(database: &str) -> bool {
    let lower = database.get(..13).unwrap_or(database).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `url` as it may be shown: its password replaced by `***`.
pub fn without_password(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else { return "(a database URL that cannot be read)".into() };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let hidden = k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword");
            (k.into_owned(), if hidden { "***".to_string() } else { v.into_owned() })
        })
        .collect();
    if !pairs.is_empty() {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// `url` with TLS required and the server's certificate and name verified, unless the URL chooses its own
/// `sslmode` or the server is on this machine (loopback or a Unix socket).
pub(crate) fn with_verified_tls(url: &str) -> std::result::Result<url::Url, super::Error> {
    let mut parsed =
        url::Url::parse(url).map_err(|e| super::Error::Invalid(format!("the database URL cannot be read: {e}")))?;
    // The URL's own `sslmode`, or a Unix socket (`host=/run/postgresql`), which has no TLS; a `host=` naming
    // a server is where the connection goes, whatever the URL's own host says.
    let chosen = parsed.query_pairs().any(|(k, v)| k == "sslmode" || (k == "host" && v.starts_with('/')));
    if !chosen && !on_this_machine(&parsed) {
        parsed.query_pairs_mut().append_pair("sslmode", "verify-full");
    }
    Ok(parsed)
}

/// Whether the server `parsed` names is on this machine (loopback or a Unix socket); a `host=` parameter
/// naming a server is where the connection goes, whatever the URL's own host says.
pub(crate) fn on_this_machine(parsed: &url::Url) -> bool {
    if parsed.query_pairs().any(|(k, v)| k == "host" && !v.starts_with('/')) {
        return false;
    }
    // `postgres:` is not a scheme the URL standard knows, so its host comes as text, IPs included.
    match parsed.host() {
        None => true,
        Some(url::Host::Domain(d)) => {
            d == "localhost" || d.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
    }
}

/// How long a pooled connection may sit idle before it is checked with a round trip when next taken.
const PING_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(10);

impl Ledger {
    /// Connects to the ledger on the PostgreSQL server at `url` and brings its schema up to date (every
    /// instance may start at once: the migrations take a lock of their own).
    pub async fn connect_postgres(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let url = with_verified_tls(url)?;
        let opts = AnyConnectOptions::from_url(&url)?;
        // A connection left inside a transaction (a hung or cut-off instance) gives up its locks after a minute
        // rather than stalling every instance's payments.
        // A connection is checked with a round trip only after it sat idle a while: a payment's dozen
        // statements would otherwise each wait for a ping first. One the server dropped meanwhile fails its
        // statement, which ends as `ledger_unavailable`, and is replaced.
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_AFTER_IDLE {
                        use sqlx::Connection as _;
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor as _;
                    // No statement or lock timeout from the server's or the role's defaults: a writer waits its
                    // turn for the ledger's lock (see `engine::BEGIN_LOCKED`), and only an idle transaction is cut.
                    conn.execute(
                        "SET idle_in_transaction_session_timeout = '60s'; SET statement_timeout = 0; SET lock_timeout = 0",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        bring_schema_up_to_date(&pool).await?;
        super::credentials::backfill_expiry(&pool).await?;
        let hot = Arc::new(HotCache::default());
        start_listening(&hot, &url).await?;
        Ok(Ledger {
            // Every commit on the server is durable before it returns.
            durable: pool.clone(),
            pool,
            engine: Engine::Postgres,
            clock: clock::system(),
            policy: Arc::new(PolicySettings::default()),
            hot,
            instance: Arc::from(crate::database_setting::instance(None)),
        })
    }
}

impl Ledger {
    /// Claims this instance's name in the team's database for as long as this process runs, so that two
    /// instances under one name (which would resolve each other's open payments) cannot both serve: a
    /// session advisory lock on a connection of its own, let go by the server when the process ends, killed
    /// or not. An instance started again at once waits a few seconds for its old session to be gone. On this
    /// machine's own file there is nothing to claim.
    pub async fn claim_instance(&self) -> Result<()> {
        if !matches!(self.engine, Engine::Postgres) {
            return Ok(());
        }
        let name = self.instance.to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut conn = loop {
            if let Some(conn) = try_claim(&self.pool, &name).await? {
                break conn;
            }
            if std::time::Instant::now() > deadline {
                return Err(super::Error::Invalid(format!(
                    "another Purser instance named `{name}` is connected to the team database; two under one \
                     name would resolve each other's payments: give this one its own name (--instance, \
                     PURSER_INSTANCE or `instance = \"…\"` in purser.toml). If that instance is gone but its \
                     session lingers, a supervisor ends it: SELECT pg_terminate_backend(pid) FROM \
                     pg_stat_activity WHERE application_name = 'purser instance {name}'"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        };
        // The claim lives as long as its connection, checked every 30 s; lost (the server restarted, the
        // network cut), it is taken again as soon as the name is free.
        let pool = self.pool.clone();
        tokio::spawn(async move {
            use sqlx::Connection as _;
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                if conn.ping().await.is_ok() {
                    continue;
                }
                tracing::warn!(
                    "lost the connection that holds this instance's name in the team database; claiming it again"
                );
                match try_claim(&pool, &name).await {
                    Ok(Some(again)) => conn = again,
                    Ok(None) => tracing::error!(
                        "another instance now holds the name `{name}` in the team database: two instances under one \
                         name would resolve each other's payments; stop one of them"
                    ),
                    Err(e) => tracing::warn!("cannot claim this instance's name again yet: {e}"),
                }
            }
        });
        Ok(())
    }
}

/// A connection of its own holding `name`'s claim (named after it in `pg_stat_activity`), or `None` when
/// another session holds it.
async fn try_claim(pool: &super::Pool, name: &str) -> Result<Option<sqlx::AnyConnection>> {
    let mut conn = pool.acquire().await?.detach();
    sqlx::query("SELECT set_config('application_name', $1, false)")
        .bind(format!("purser instance {name}"))
        .execute(&mut conn)
        .await?;
    let claimed: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('purser-instance'), hashtext($1))")
        .bind(name)
        .fetch_one(&mut conn)
        .await?;
    Ok(claimed.then_some(conn))
}

/// Applies the schema's new migrations when this login may (a supervisor, or the database's owner); a
/// serving instance's login may not, and only checks that nothing is missing.
async fn bring_schema_up_to_date(pool: &super::Pool) -> Result<()> {
    let migrator = sqlx::migrate!("./migrations-postgres");
    let may_create: bool =
        sqlx::query_scalar("SELECT has_schema_privilege(current_user, 'public', 'CREATE')").fetch_one(pool).await?;
    if may_create {
        migrator.run(pool).await?;
        return Ok(());
    }
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(pool)
        .await
        .unwrap_or_default();
    if migrator.iter().any(|m| !applied.contains(&m.version)) {
        return Err(super::Error::Invalid(
            "the team database's schema is older than this Purser (or was never made): connect once with a \
             supervisor's login (a member of purser_supervisor) or the database owner's to bring it up to date"
                .into(),
        ));
    }
    Ok(())
}

/// Listens before anything is read into `cache`, then keeps it current in the background while it lives.
async fn start_listening(cache: &Arc<HotCache>, url: &url::Url) -> Result<()> {
    let mut listener = PgListener::connect(url.as_str()).await?;
    listener.listen(CHANNEL).await?;
    tokio::spawn(listen(Arc::downgrade(cache), listener));
    Ok(())
}

/// What another instance changed is read again: its agents (a key rotated or revoked, a pause) or its kept
/// credentials. A lost connection is re-established by the listener; whatever changed meanwhile is unknown,
/// so everything is read again.
async fn listen(cache: Weak<HotCache>, mut listener: PgListener) {
    loop {
        let heard = listener.try_recv().await;
        let Some(cache) = cache.upgrade() else { break };
        match heard {
            Ok(Some(n)) if n.payload() == "credentials" => cache.invalidate_credentials(),
            Ok(Some(n)) if n.payload() == "approvals" => cache.approvals_changed.send_modify(|n| *n += 1),
            Ok(_) => cache.invalidate(),
            Err(e) => {
                cache.invalidate();
                cache.approvals_changed.send_modify(|n| *n += 1);
                tracing::warn!("lost the team database's change notifications ({e}); retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_elsewhere_get_verified_tls_unless_the_url_says_otherwise() {
        let tls = |u: &str| {
            with_verified_tls(u).unwrap().query_pairs().find(|(k, _)| k == "sslmode").map(|(_, v)| v.into_owned())
        };
        assert_eq!(tls("postgres://purser:pw@db.example.com/team").as_deref(), Some("verify-full"));
        assert_eq!(tls("postgres://purser@127.0.0.1:5432/team"), None);
        assert_eq!(tls("postgres://purser@localhost/team"), None);
        assert_eq!(tls("postgres://purser@[::1]/team"), None);
        assert_eq!(tls("postgres://purser@db.example.com/team?sslmode=require").as_deref(), Some("require"));
        assert_eq!(tls("postgres://purser@localhost/team?host=db.example.com").as_deref(), Some("verify-full"));
        assert_eq!(tls("postgres://purser@localhost/team?host=/run/postgresql"), None);
    }

    #[test]
    fn a_shown_url_never_holds_the_password() {
        let shown =
            format!("{:?}", super::super::Location::parse("postgres://purser:s3cret@db.example.com/team").unwrap());
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.example.com"), "{shown}");
        let shown = without_password("postgres://purser@db.example.com/team?password=s3cret&sslmode=require");
        assert!(!shown.contains("s3cret") && shown.contains("sslmode=require"), "{shown}");
    }
}
