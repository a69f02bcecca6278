//! Connections Purser could not look inside: tunnels to `pass_through` hosts, and tunnels whose agent
//! refused Purser's certificate. No payment happens in them, so they are kept apart from payments, per host,
//! for the person to see what went unsupervised.

use serde::Serialize;
use sqlx::Row;

use super::{Ledger, Result};

/// Why a connection was not inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The host is in the `pass_through` setting.
    PassThrough,
    /// The agent closed the TLS handshake on Purser's certificate: it does not trust Purser's CA.
    CertificateRejected,
    /// Neither TLS nor HTTP inside the tunnel (or nothing from the agent at first): passed through blind.
    NotHttp,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PassThrough => "pass_through",
            Kind::CertificateRejected => "certificate_rejected",
            Kind::NotHttp => "not_http",
        }
    }
}

/// Uninspected traffic to one host, one kind, summed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct UninspectedHost {
    pub host: String,
    pub port: u16,
    /// `pass_through`, `certificate_rejected` or `not_http`.
    pub kind: String,
    /// The agents whose connections these were, by name.
    pub agents: Vec<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub connections: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes_to_upstream: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes_to_agent: i64,
    /// RFC 3339, UTC.
    pub last_opened_at: String,
}

impl Ledger {
    /// Records a connection that is not inspected, as it opens; returns its id for [`Ledger::close_uninspected`].
    pub async fn open_uninspected(&self, agent_id: i64, host: &str, port: u16, kind: Kind) -> Result<i64> {
        let id = sqlx::query(
            "INSERT INTO uninspected (agent_id, host, port, kind, opened_at_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(agent_id)
        .bind(host.to_ascii_lowercase())
        .bind(i64::from(port))
        .bind(kind.as_str())
        .bind(self.now_ms())
        .fetch_one(&self.pool)
        .await?
        .get(0);
        Ok(id)
    }

    /// Records how much went each way once the connection has closed.
    pub async fn close_uninspected(&self, id: i64, bytes_to_upstream: u64, bytes_to_agent: u64) -> Result<()> {
        sqlx::query(
            "UPDATE uninspected SET closed_at_ms = $1, bytes_to_upstream = $2, bytes_to_agent = $3 WHERE id = $4",
        )
        .bind(self.now_ms())
        .bind(i64::try_from(bytes_to_upstream).unwrap_or(i64::MAX))
        .bind(i64::try_from(bytes_to_agent).unwrap_or(i64::MAX))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Uninspected traffic per host and kind, most recent first.
    pub async fn uninspected_hosts(&self) -> Result<Vec<UninspectedHost>> {
        let rows = sqlx::query(
            "SELECT u.host, u.port, u.kind, group_concat(DISTINCT a.name) AS agents, count(*) AS connections, \
                    CAST(sum(u.bytes_to_upstream) AS BIGINT) AS up, CAST(sum(u.bytes_to_agent) AS BIGINT) AS down, \
                    max(u.opened_at_ms) AS last_opened_at_ms \
             FROM uninspected u JOIN agents a ON a.id = u.agent_id \
             GROUP BY u.host, u.port, u.kind ORDER BY max(u.opened_at_ms) DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| UninspectedHost {
                host: r.get("host"),
                port: u16::try_from(r.get::<i64, _>("port")).unwrap_or(0),
                kind: r.get("kind"),
                agents: r
                    .get::<Option<String>, _>("agents")
                    .map(|s| s.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
                connections: r.get("connections"),
                bytes_to_upstream: r.get("up"),
                bytes_to_agent: r.get("down"),
                last_opened_at: super::engine::utc_text(&r, "last_opened_at_ms"),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn summed_per_host_and_kind() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = crate::ledger::testing::fresh(dir.path()).await.unwrap();
        let (a, _) = ledger.add_agent("a").await.unwrap();
        let (b, _) = ledger.add_agent("b").await.unwrap();
        let one = ledger.open_uninspected(a.id, "Pinned.example", 443, Kind::PassThrough).await.unwrap();
        ledger.close_uninspected(one, 100, 2000).await.unwrap();
        let two = ledger.open_uninspected(b.id, "pinned.example", 443, Kind::PassThrough).await.unwrap();
        ledger.close_uninspected(two, 10, 20).await.unwrap();
        ledger.open_uninspected(a.id, "other.example", 443, Kind::CertificateRejected).await.unwrap();
        let hosts = ledger.uninspected_hosts().await.unwrap();
        assert_eq!(hosts.len(), 2);
        let pinned = hosts.iter().find(|h| h.host == "pinned.example").unwrap();
        assert_eq!((pinned.connections, pinned.bytes_to_upstream, pinned.bytes_to_agent), (2, 110, 2020));
        assert_eq!(pinned.kind, "pass_through");
        let mut agents = pinned.agents.clone();
        agents.sort();
        assert_eq!(agents, ["a", "b"]);
        let rejected = hosts.iter().find(|h| h.host == "other.example").unwrap();
        assert_eq!(rejected.kind, "certificate_rejected");
    }
}
