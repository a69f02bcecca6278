//! For the tests: a fresh, empty ledger on the engine the test run is for. With `PURSER_TEST_POSTGRES` set
//! (a URL to a server's administrative database, as `scripts/test` starts one), each ledger is a new
//! database on that server; otherwise a new SQLite file in the given directory.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection as _;

use super::{Ledger, Location, Result};

/// The server the tests run against, when they run on PostgreSQL.
pub fn postgres_server() -> Option<String> {
    std::env::var("PURSER_TEST_POSTGRES").ok().filter(|u| !u.is_empty())
}

/// Where a new, empty ledger is: a new database on the test server, or `dir/purser.sqlite`.
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
    let mut url = url::Url::parse(&server).expect("PURSER_TEST_POSTGRES is a URL");
    url.set_path(&name);
    Location::Server(url.to_string())
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
