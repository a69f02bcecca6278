//! The engines the ledger runs on — an embedded SQLite file, or a PostgreSQL server a team shares — and
//! the few places where they differ. Every statement elsewhere in `src/ledger/` is written once, in SQL
//! both speak (`$1` parameters, `ON CONFLICT`, `RETURNING`, `IS NOT DISTINCT FROM`), and runs through
//! sqlx's `Any` driver; what PostgreSQL lacks of SQLite's functions its schema defines. On the server, a
//! few writes of a payment that touch two tables are one statement instead of a transaction
//! ([`Engine::writes_together`]): each round trip there is time an agent waits.

use std::fmt::Write as _;
use std::path::PathBuf;

use sqlx::Arguments as _;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Encode, Row, Type};

/// The database type every ledger statement runs on.
pub(crate) type Db = sqlx::Any;
/// A connection (or a transaction's) of either engine.
pub(crate) type Conn = sqlx::AnyConnection;
/// A row of either engine.
pub(crate) type DbRow = AnyRow;
/// A pool of either engine.
pub type Pool = sqlx::AnyPool;

/// Which engine a ledger is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// A file on this machine.
    Sqlite { path: PathBuf },
    /// A server, shared by every instance connected to it.
    Postgres,
}

impl Engine {
    /// The statement that starts a transaction which writes and must not be overtaken by another writer
    /// between its reads and its writes: SQLite takes its write lock at once (two deferred writers would
    /// deadlock upgrading); PostgreSQL starts, then takes the ledger's lock ([`BEGIN_LOCKED`]).
    pub(crate) fn begin_statement(&self) -> &'static str {
        match self {
            Engine::Sqlite { .. } => "BEGIN IMMEDIATE",
            // Each statement after the lock sees every commit before it, whatever the server's default.
            Engine::Postgres => BEGIN_LOCKED,
        }
    }

    /// Whether one statement may write two tables (PostgreSQL's data-modifying `WITH`): where a write to the
    /// server would take a transaction of several round trips, it takes one. SQLite writes them in a
    /// transaction, which costs it nothing.
    pub(crate) fn writes_together(&self) -> bool {
        matches!(self, Engine::Postgres)
    }
}

/// A writing transaction on PostgreSQL: it begins and takes the ledger's advisory lock (0x707572736572,
/// "purser") in one round trip. Every transaction that decides on money takes it (a reservation, a
/// delivery's breaker check, a wrong passphrase's count), on every instance: held until the transaction
/// ends, so such transactions run one after another across the team as they do on one SQLite file, and a
/// budget or an allowance is never read by one while another is about to spend from it.
pub(crate) const BEGIN_LOCKED: &str =
    "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(123649733649778)";

/// A yes/no column: SQLite keeps it as 0/1, PostgreSQL's comparisons answer a boolean; both read here.
/// Panics, as `Row::get` does, when the column is missing or is neither.
pub(crate) fn flag(row: &DbRow, column: &str) -> bool {
    opt_flag(row, column).unwrap_or(false)
}

/// A yes/no column that may be NULL; panics as [`flag`] does.
pub(crate) fn opt_flag(row: &DbRow, column: &str) -> Option<bool> {
    try_opt_flag(row, column).unwrap_or_else(|e| panic!("the ledger's column {column}: {e}"))
}

/// A yes/no column that may be NULL, or why it cannot be read.
pub(crate) fn try_opt_flag(row: &DbRow, column: &str) -> Result<Option<bool>, sqlx::Error> {
    match row.try_get::<Option<i64>, _>(column) {
        Ok(v) => Ok(v.map(|v| v != 0)),
        Err(_) => row.try_get::<Option<bool>, _>(column),
    }
}

/// A real number that may be missing, bound so both engines see a double-precision parameter either way
/// (sqlx's `Any` sends a missing `f64` to PostgreSQL as a single-precision NULL, and a statement prepared
/// with it then refuses a present value).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Real(pub Option<f64>);

impl Type<Db> for Real {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <f64 as Type<Db>>::type_info()
    }
}

impl<'q> Encode<'q, Db> for Real {
    fn encode_by_ref(
        &self,
        buf: &mut <Db as sqlx::Database>::ArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        match self.0 {
            Some(v) => <f64 as Encode<'q, Db>>::encode_by_ref(&v, buf),
            // `Any` maps a missing single-precision value to a double-precision NULL.
            None => <Option<f32> as Encode<'q, Db>>::encode_by_ref(&None, buf),
        }
    }
}

/// A millisecond timestamp column as the ledger shows it: RFC 3339 in UTC with milliseconds
/// (`2026-12-02T15:04:05.123Z`), formatted here rather than by either engine's own date functions.
pub(crate) fn utc_text(row: &DbRow, column: &str) -> String {
    let ms: i64 = row.get(column);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => format!("{}.{:03}Z", t.strftime("%Y-%m-%dT%H:%M:%S"), ms.rem_euclid(1000)),
        Err(_) => String::new(),
    }
}

/// Stores an enum as its snake_case name (its `as_str`), read back through its serde name.
macro_rules! text_column {
    ($t:ty) => {
        impl sqlx::Type<$crate::ledger::engine::Db> for $t {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <&str as sqlx::Type<$crate::ledger::engine::Db>>::type_info()
            }
            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <&str as sqlx::Type<$crate::ledger::engine::Db>>::compatible(ty)
            }
        }
        impl<'q> sqlx::Encode<'q, $crate::ledger::engine::Db> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut <$crate::ledger::engine::Db as sqlx::Database>::ArgumentBuffer,
            ) -> std::result::Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, $crate::ledger::engine::Db>>::encode(self.as_str(), buf)
            }
        }
        impl<'r> sqlx::Decode<'r, $crate::ledger::engine::Db> for $t {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> std::result::Result<Self, sqlx::error::BoxDynError> {
                use serde::de::IntoDeserializer as _;
                let name = <&str as sqlx::Decode<'r, $crate::ledger::engine::Db>>::decode(value)?;
                let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> = name.into_deserializer();
                Ok(<$t as serde::Deserialize>::deserialize(de)?)
            }
        }
    };
}
pub(crate) use text_column;

/// A statement assembled from parts, its parameters numbered `$1`, `$2`… as they are bound (sqlx's own
/// builder writes `?` for `Any`, which PostgreSQL does not read).
pub(crate) struct Builder {
    sql: String,
    args: AnyArguments,
}

impl Builder {
    pub(crate) fn new(sql: &str) -> Self {
        Builder { sql: sql.to_string(), args: AnyArguments::default() }
    }

    pub(crate) fn push(&mut self, sql: impl AsRef<str>) -> &mut Self {
        self.sql.push_str(sql.as_ref());
        self
    }

    pub(crate) fn push_bind<'t, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'t, Db> + Type<Db>,
    {
        // Encoding into `Any`'s buffer cannot fail for the plain values the ledger binds.
        let _ = self.args.add(value);
        let _ = write!(self.sql, "${}", self.args.len());
        self
    }

    pub(crate) fn build(self) -> sqlx::query::Query<'static, Db, AnyArguments> {
        sqlx::query_with(sqlx::AssertSqlSafe(self.sql), self.args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_utc_text_with_milliseconds() {
        assert_eq!(
            jiff::Timestamp::from_millisecond(1_764_687_845_123).unwrap().strftime("%Y-%m-%dT%H:%M:%S").to_string(),
            "2025-12-02T15:04:05"
        );
    }

    #[test]
    fn parameters_are_numbered_as_they_are_bound() {
        let mut b = Builder::new("SELECT 1 WHERE a = ");
        b.push_bind(1_i64).push(" AND b = ").push_bind("x").push(" LIMIT ").push_bind(3_i64);
        assert_eq!(b.sql, "SELECT 1 WHERE a = $1 AND b = $2 LIMIT $3");
        assert_eq!(b.args.len(), 3);
    }

    #[test]
    fn the_write_lock_is_the_ledgers_own_number() {
        assert!(BEGIN_LOCKED.ends_with(&format!("pg_advisory_xact_lock({})", 0x7075_7273_6572_i64)));
        assert_eq!(&0x7075_7273_6572_i64.to_be_bytes()[2..], b"purser");
    }
}
