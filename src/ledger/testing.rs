//! For the tests: a fresh, empty ledger on the engine the test run is for. With `PURSER_TEST_POSTGRES` set
//! (a URL to a server's administrative database, as `scripts/test` starts one), each ledger is a new
//! database on that server, dropped again once the test's directory is gone; otherwise a new SQLite file in
//! the given directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use sqlx::Connection as _;

use super::{Ledger, Location, Result};

/// The server the tests run against, when they run on PostgreSQL.
pub fn postgres_server() -> Option<String> {
    std::env::var("PURSER_TEST_POSTGRES").ok().filter(|u| !u.is_empty())
}

/// Where a new, empty ledger is: a new database on the test server, or `dir/purser.sqlite`. A test's
/// database lives as long as `dir` does (a test keeps its temporary directory to its end): a suite's
/// hundreds of databases would otherwise fill the server's disk.
pub async fn fresh_location(dir: &Path) -> Location {
    let Some(server) = postgres_server() else { return Location::File(dir.join("purser.sqlite")) };
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!("t{}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst), rand::random::<u32>());
    let mut admin = sqlx::PgConnection::connect(&server).await.expect("the test PostgreSQL server answers");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("a test database can be created");
    let _ = admin.close().await;
    drop_when_gone(dir, &name, &server);
    let mut url = url::Url::parse(&server).expect("PURSER_TEST_POSTGRES is a URL");
    url.set_path(&name);
    Location::Server(url.to_string())
}

/// The databases whose tests may still run, each with the directory whose removal ends it.
type Watched = Mutex<Vec<(PathBuf, String)>>;

/// Has a background thread drop `name` (with whatever is still connected to it) once `dir` is gone.
fn drop_when_gone(dir: &Path, name: &str, server: &str) {
    static WATCHED: OnceLock<&'static Watched> = OnceLock::new();
    let watched = WATCHED.get_or_init(|| {
        let watched: &'static Watched = Box::leak(Box::default());
        let server = server.to_owned();
        std::thread::spawn(move || drop_finished(watched, &server));
        watched
    });
    watched.lock().unwrap().push((dir.to_owned(), name.to_owned()));
}

/// Every second, drops the databases whose directories are gone.
fn drop_finished(watched: &Watched, server: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let finished: Vec<String> = {
            let mut watched = watched.lock().unwrap();
            let (gone, live) = watched.drain(..).partition(|(dir, _)| !dir.exists());
            *watched = live;
            gone.into_iter().map(|(_, name)| name).collect()
        };
        if finished.is_empty() {
            continue;
        }
        rt.block_on(async {
            let Ok(mut admin) = sqlx::PgConnection::connect(server).await else { return };
            for name in finished {
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop)).execute(&mut admin).await;
            }
            let _ = admin.close().await;
        });
    }
}

/// A new, empty ledger on the engine under test.
pub async fn fresh(dir: &Path) -> Result<Ledger> {
    Ledger::open_at(&fresh_location(dir).await).await
}

/// Loads the benchmarks' payments with one `INSERT … SELECT` (`insert`, with `now_ms` bound as `$1`). On
/// PostgreSQL the per-row triggers are off for it (the test server's login is a superuser) and the running
/// totals they keep are built after in one statement, as a million trigger calls would take many minutes.
pub async fn bulk_insert_payments(ledger: &Ledger, insert: &str, now_ms: i64) -> Result<()> {
    let mut tx = ledger.pool().begin().await?;
    let postgres = matches!(ledger.engine(), super::Engine::Postgres);
    if postgres {
        sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *tx).await?;
    }
    sqlx::query(sqlx::AssertSqlSafe(insert)).bind(now_ms).execute(&mut *tx).await?;
    if postgres {
        sqlx::query("DELETE FROM payment_rollup").execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO payment_rollup SELECT agent_id, host, status, COALESCE(delivered, -1), COUNT(*),
                    COALESCE(SUM(amount_msat), 0), COUNT(amount_msat), COALESCE(SUM(fee_msat), 0)
             FROM payments GROUP BY 1, 2, 3, 4",
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
