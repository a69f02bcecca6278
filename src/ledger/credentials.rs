//! Proofs of payment kept per agent and origin (`scheme://host:port`) and sent with that agent's later
//! requests to that origin. Each proof remembers the path it was paid for: a request uses the proof earned
//! on its own path when there is one, else the newest for the origin (servers like Aperture price a whole
//! service with one token). A proof the server rejects on its own path is dropped; a proof past the expiry
//! its token states is not sent; a person can list them and revoke one.

use sqlx::Row;

use super::{Error, Ledger, Result};

/// A kept proof and where it was earned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: i64,
    /// The header's value (for L402, `L402 <token>:<preimage>`).
    pub authorization: String,
    pub path: String,
    /// The header it goes in: `authorization`, or `payment-signature` / `x-payment` for x402.
    pub header: String,
    /// Sent once, then gone (an MPP or x402 proof whose paid request was not delivered).
    pub single_use: bool,
    /// The payment it proves.
    pub payment_id: i64,
    /// When its token says it expires.
    pub expires_at_ms: Option<i64>,
}

/// A kept proof as the CLI and the UI list it; the proof itself is never shown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CredentialInfo {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub agent: String,
    pub origin: String,
    pub path: String,
    /// `L402`, `LSAT`, `Payment` (MPP), or the x402 header (`PAYMENT-SIGNATURE`, `X-PAYMENT`).
    pub scheme: String,
    /// Sent once more with the next identical request, then gone.
    pub single_use: bool,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub payment_id: Option<i64>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created_at_ms: i64,
    /// From the token's caveats; `None` when it states no expiry.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub expires_at_ms: Option<i64>,
    pub expired: bool,
}

/// A proof of payment to keep: whose, where it was earned, the header it goes in and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofToKeep {
    pub agent_id: i64,
    /// `scheme://host:port`.
    pub origin: String,
    pub path: String,
    pub header: String,
    pub value: String,
    /// Sent once more with the same request if it was not delivered, then gone (MPP, x402).
    pub single_use: bool,
}

impl ProofToKeep {
    pub fn new(agent_id: i64, origin: &str, path: &str, header: &str, value: &str, single_use: bool) -> Self {
        ProofToKeep {
            agent_id,
            origin: origin.into(),
            path: path.into(),
            header: header.into(),
            value: value.into(),
            single_use,
        }
    }
}

/// Writes `proof` (one per agent, origin and path: a newer one replaces it); a token's expiry is read from
/// its caveats. The caller makes the credentials in memory stale.
pub(super) async fn keep(
    conn: &mut super::engine::Conn,
    proof: &ProofToKeep,
    payment_id: i64,
    now_ms: i64,
) -> Result<()> {
    bind_keep(sqlx::query(sqlx::AssertSqlSafe(keep_sql(1))), proof, payment_id, now_ms).execute(conn).await?;
    Ok(())
}

/// The statement [`keep`] runs, its nine parameters numbered from `$first` (for a statement that also writes
/// something else).
pub(super) fn keep_sql(first: usize) -> String {
    let p: Vec<String> = (first..first + 9).map(|n| format!("${n}")).collect();
    format!(
        "INSERT INTO credentials (agent_id, origin, path, \"authorization\", payment_id, created_at_ms, expires_at_ms, \
         header, single_use) VALUES ({}) ON CONFLICT (agent_id, origin, path) DO UPDATE SET \
         \"authorization\" = excluded.\"authorization\", payment_id = excluded.payment_id, \
         created_at_ms = excluded.created_at_ms, expires_at_ms = excluded.expires_at_ms, \
         header = excluded.header, single_use = excluded.single_use",
        p.join(", ")
    )
}

/// Binds [`keep_sql`]'s parameters, after those `query` has.
pub(super) fn bind_keep<'q>(
    query: sqlx::query::Query<'q, super::engine::Db, sqlx::any::AnyArguments>,
    proof: &ProofToKeep,
    payment_id: i64,
    now_ms: i64,
) -> sqlx::query::Query<'q, super::engine::Db, sqlx::any::AnyArguments> {
    let expires =
        if proof.single_use { None } else { token_of(&proof.value).and_then(crate::challenge::caveats::expiry_ms) };
    query
        .bind(proof.agent_id)
        .bind(proof.origin.clone())
        .bind(proof.path.clone())
        .bind(proof.value.clone())
        .bind(payment_id)
        .bind(now_ms)
        .bind(expires)
        .bind(proof.header.clone())
        .bind(i64::from(proof.single_use))
}

/// The token inside an `Authorization: <scheme> <token>:<preimage>` value.
fn token_of(authorization: &str) -> Option<&str> {
    let (_, rest) = authorization.split_once(' ')?;
    rest.rsplit_once(':').map(|(token, _)| token)
}

/// Reads the expiry of kept proofs that have none recorded (those kept before expiries were read), so an
/// expired token is not sent after an upgrade either. Tokens that state no expiry are read again next time;
/// there are few.
pub(super) async fn backfill_expiry(pool: &super::engine::Pool) -> Result<()> {
    let rows = sqlx::query("SELECT id, \"authorization\" FROM credentials WHERE expires_at_ms IS NULL")
        .fetch_all(pool)
        .await?;
    for r in rows {
        let authorization: String = r.get("authorization");
        if let Some(expires) = token_of(&authorization).and_then(crate::challenge::caveats::expiry_ms) {
            sqlx::query("UPDATE credentials SET expires_at_ms = $1 WHERE id = $2")
                .bind(expires)
                .bind(r.get::<i64, _>("id"))
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

impl Ledger {
    /// The proof to send with a request for `path` on `origin`: not expired, earned on this path if any.
    /// Single-use proofs only go with a request for their own path.
    pub async fn credential(&self, agent_id: i64, origin: &str, path: &str) -> Result<Option<Credential>> {
        let key = (agent_id, origin.to_string(), path.to_string());
        if let Some(cached) = self.hot().credential(&key, self.now_ms()) {
            return Ok(cached);
        }
        let generation = self.hot().credentials_generation();
        let found = self.read_credential(agent_id, origin, path).await?;
        self.hot().put_credential(key, generation, found.clone());
        Ok(found)
    }

    async fn read_credential(&self, agent_id: i64, origin: &str, path: &str) -> Result<Option<Credential>> {
        let row = sqlx::query(
            "SELECT id, \"authorization\", path, header, single_use, payment_id, expires_at_ms FROM credentials \
             WHERE agent_id = $1 AND origin = $2 \
             AND (expires_at_ms IS NULL OR expires_at_ms > $3) AND (single_use = 0 OR path = $4) \
             ORDER BY (path = $4) DESC, single_use DESC, created_at_ms DESC LIMIT 1",
        )
        .bind(agent_id)
        .bind(origin)
        .bind(self.now_ms())
        .bind(path)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| Credential {
            id: r.get("id"),
            authorization: r.get("authorization"),
            path: r.get("path"),
            header: r.get("header"),
            single_use: super::engine::flag(&r, "single_use"),
            payment_id: r.get::<Option<i64>, _>("payment_id").unwrap_or_default(),
            expires_at_ms: r.get("expires_at_ms"),
        }))
    }

    /// Keeps a proof that answers one challenge (MPP, x402) whose paid request was not delivered: the agent's
    /// next request for the same path sends it once more instead of paying again.
    pub async fn keep_single_use(
        &self,
        agent_id: i64,
        origin: &str,
        path: &str,
        header: &str,
        value: &str,
        payment_id: i64,
    ) -> Result<()> {
        let proof = ProofToKeep::new(agent_id, origin, path, header, value, true);
        keep(&mut *self.pool().acquire().await?, &proof, payment_id, self.now_ms()).await?;
        self.hot().invalidate_credentials();
        Ok(())
    }

    /// Removes a single-use proof as it is sent: `false` when another request took it first.
    pub async fn take_single_use(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM credentials WHERE id = $1 AND single_use = 1")
            .bind(id)
            .execute(self.pool())
            .await?;
        self.hot().invalidate_credentials();
        Ok(done.rows_affected() == 1)
    }

    /// Keeps an `Authorization` proof (L402, LSAT) for the agent's later requests to `origin`.
    pub async fn keep_credential(
        &self,
        agent_id: i64,
        origin: &str,
        path: &str,
        authorization: &str,
        payment_id: i64,
    ) -> Result<()> {
        let proof = ProofToKeep::new(agent_id, origin, path, "authorization", authorization, false);
        keep(&mut *self.pool().acquire().await?, &proof, payment_id, self.now_ms()).await?;
        self.hot().invalidate_credentials();
        Ok(())
    }

    /// Drops a proof the server rejected.
    pub async fn drop_credential(&self, agent_id: i64, origin: &str, authorization: &str) -> Result<()> {
        sqlx::query("DELETE FROM credentials WHERE agent_id = $1 AND origin = $2 AND \"authorization\" = $3")
            .bind(agent_id)
            .bind(origin)
            .bind(authorization)
            .execute(self.pool())
            .await?;
        self.hot().invalidate_credentials();
        Ok(())
    }

    /// Kept proofs, newest first, of one agent or all.
    pub async fn credentials(&self, agent: Option<&str>) -> Result<Vec<CredentialInfo>> {
        let now = self.now_ms();
        let rows = sqlx::query(
            "SELECT c.id, a.name, c.origin, c.path, c.\"authorization\", c.payment_id, c.created_at_ms, c.expires_at_ms, \
             c.header, c.single_use \
             FROM credentials c JOIN agents a ON a.id = c.agent_id WHERE $1 IS NULL OR a.name = $1 \
             ORDER BY c.created_at_ms DESC, c.id DESC",
        )
        .bind(agent)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let authorization: String = r.get("authorization");
                let expires_at_ms: Option<i64> = r.get("expires_at_ms");
                CredentialInfo {
                    id: r.get("id"),
                    agent: r.get("name"),
                    origin: r.get("origin"),
                    path: r.get("path"),
                    scheme: match r.get::<String, _>("header").as_str() {
                        "authorization" => authorization.split(' ').next().unwrap_or_default().to_string(),
                        other => other.to_ascii_uppercase(),
                    },
                    single_use: super::engine::flag(r, "single_use"),
                    payment_id: r.get("payment_id"),
                    created_at_ms: r.get("created_at_ms"),
                    expires_at_ms,
                    expired: expires_at_ms.is_some_and(|e| e <= now),
                }
            })
            .collect())
    }

    /// Forgets kept proof `id`: the agent's next request there pays again, under policy.
    pub async fn revoke_credential(&self, id: i64) -> Result<()> {
        let done = sqlx::query("DELETE FROM credentials WHERE id = $1").bind(id).execute(self.pool()).await?;
        self.hot().invalidate_credentials();
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("credential", id));
        }
        Ok(())
    }
}
