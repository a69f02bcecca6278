//! Checking a team's database before a machine is connected to it: one connection over the same verified TLS
//! the ledger uses, then what the person needs to decide: the server, the login and what its role may do,
//! whether the schema is there (and current), and whose payments it already holds. Nothing is written.

use std::time::Duration;

use serde::Serialize;
use sqlx::{ConnectOptions as _, Connection as _};

use super::{Error, Result};

/// How long the check waits for the server before it says so.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What a login may do in a team's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum TeamRole {
    /// The database's owner or a superuser: everything, and the schema is made with it.
    Owner,
    /// A member of `purser_supervisor`: everything a person does (policy, keys, approvals).
    Supervisor,
    /// A member of `purser_serving`: reserves and records payments; changes no policy, decides no approval.
    Serving,
    /// Neither: the ledger's tables are not open to it.
    None,
}

/// The schema in a team's database, as this Purser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum TeamSchema {
    /// Every migration this Purser knows is applied.
    Current,
    /// Some are missing, and this login will apply them on connecting (or create the schema).
    WillBeUpdated,
    /// Some are missing, and this login may not apply them: a supervisor or the owner connects first.
    NeedsUpdateBySupervisor,
    /// A newer Purser has applied migrations this one does not know.
    Newer,
    /// This login may not read which migrations are applied.
    Unreadable,
}

/// What checking a team database found.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TeamDatabaseCheck {
    /// The URL as it may be shown (no password).
    pub shown_url: String,
    /// `PostgreSQL 15.8`, as the server says.
    pub server_version: String,
    /// Whether the connection is encrypted (TLS).
    pub tls: bool,
    /// Whether the server is on this machine (loopback or a Unix socket), where no TLS is needed.
    pub on_this_machine: bool,
    /// Whether the server's certificate and name were verified (`sslmode=verify-full`, the default for a
    /// server elsewhere).
    pub tls_verified: bool,
    pub login: String,
    pub role: TeamRole,
    pub schema: TeamSchema,
    /// The instances whose payments the ledger holds, most payments first.
    pub machines: Vec<TeamMachine>,
}

/// One instance whose payments a team's ledger holds.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TeamMachine {
    pub name: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub payments: i64,
}

impl TeamDatabaseCheck {
    /// Why a supervisor's desktop cannot be connected with this check's login and schema, if it cannot.
    pub fn refusal_for_supervisor(&self) -> Option<String> {
        match (self.role, self.schema) {
            (TeamRole::Serving, _) => Some(format!(
                "`{}` is a serving instance's login (purser_serving): it may record payments but not decide \
                 approvals or change policy. Use a supervisor's login (a member of purser_supervisor).",
                self.login
            )),
            (TeamRole::None, _) => Some(format!(
                "`{}` is neither the database's owner nor a member of purser_supervisor, so Purser's tables are \
                 not open to it. Connect once with the owner's login, then grant it: GRANT purser_supervisor TO \
                 {};",
                self.login, self.login
            )),
            (_, TeamSchema::Newer) => Some(
                "this database was brought up to date by a newer Purser: update this Purser before connecting".into(),
            ),
            _ => None,
        }
    }
}

/// Connects once to the team database at `url` and reports what is there; nothing is changed. The same
/// TLS rules as the ledger's own connections apply.
pub async fn check(url: &str) -> Result<TeamDatabaseCheck> {
    let shown_url = super::postgres::without_password(url);
    let verified = super::postgres::with_verified_tls(url)?;
    let opts = sqlx::postgres::PgConnectOptions::from_url(&verified)?;
    let verify_full = verified.query_pairs().any(|(k, v)| k == "sslmode" && v == "verify-full");
    let local = super::postgres::on_this_machine(&verified);
    let work = async {
        let mut conn = opts.connect().await?;
        let found = read(&mut conn, shown_url).await.map(|mut c| {
            c.tls_verified = c.tls && verify_full;
            c.on_this_machine = local;
            c
        });
        let _ = conn.close().await;
        found
    };
    tokio::time::timeout(TIMEOUT, work).await.map_err(|_| {
        Error::Invalid(format!(
            "the server did not answer within {} s: check the host, the port and that a firewall lets this \
             machine through",
            TIMEOUT.as_secs()
        ))
    })?
}

async fn read(conn: &mut sqlx::PgConnection, shown_url: String) -> Result<TeamDatabaseCheck> {
    let (server_version, login, tls, owner, supervisor, serving): (String, String, bool, bool, bool, bool) =
        sqlx::query_as(
            "SELECT 'PostgreSQL ' || current_setting('server_version'), current_user::text,
                    COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false),
                    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                      OR (SELECT pg_get_userbyid(datdba) = current_user FROM pg_database
                          WHERE datname = current_database()),
                    CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'purser_supervisor')
                         THEN pg_has_role(current_user, 'purser_supervisor', 'MEMBER') ELSE false END,
                    CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'purser_serving')
                         THEN pg_has_role(current_user, 'purser_serving', 'MEMBER') ELSE false END",
        )
        .fetch_one(&mut *conn)
        .await?;
    let role = match (owner, supervisor, serving) {
        (true, _, _) => TeamRole::Owner,
        (_, true, _) => TeamRole::Supervisor,
        (_, _, true) => TeamRole::Serving,
        _ => TeamRole::None,
    };
    let may_create: bool = sqlx::query_scalar("SELECT has_schema_privilege(current_user, 'public', 'CREATE')")
        .fetch_one(&mut *conn)
        .await?;
    let (has_schema, readable): (bool, bool) = sqlx::query_as(
        "SELECT to_regclass('public._sqlx_migrations') IS NOT NULL,
                CASE WHEN to_regclass('public._sqlx_migrations') IS NULL THEN true
                     ELSE has_table_privilege(current_user, 'public._sqlx_migrations', 'SELECT') END",
    )
    .fetch_one(&mut *conn)
    .await?;
    let applied: Vec<i64> = if has_schema && readable {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(&mut *conn).await?
    } else {
        Vec::new()
    };
    let known: Vec<i64> = sqlx::migrate!("./migrations-postgres").iter().map(|m| m.version).collect();
    let schema = if !readable {
        TeamSchema::Unreadable
    } else if applied.iter().any(|v| !known.contains(v)) {
        TeamSchema::Newer
    } else if known.iter().all(|v| applied.contains(v)) {
        TeamSchema::Current
    } else if may_create {
        TeamSchema::WillBeUpdated
    } else {
        TeamSchema::NeedsUpdateBySupervisor
    };
    let machines = if has_schema && role != TeamRole::None {
        sqlx::query_as(
            "SELECT COALESCE(instance, '(no name)') AS name, COUNT(*) AS payments FROM payments
             GROUP BY 1 ORDER BY 2 DESC, 1",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok(TeamDatabaseCheck {
        shown_url,
        server_version,
        tls,
        on_this_machine: false,
        tls_verified: false,
        login,
        role,
        schema,
        machines,
    })
}
