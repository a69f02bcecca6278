//! Prices APIs publish, stored per origin with when they were read: what the payer compares invoices with
//! after a restart, and what agents and the UI are shown.

use sqlx::Row;

use super::{Ledger, Result};
use crate::pricing::{Price, PriceList, PriceModel};

/// A stored price and when it was read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct StoredPrice {
    pub origin: String,
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub price: Price,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub read_at_ms: i64,
}

impl Ledger {
    /// Replaces the stored prices of `list.origin` with `list`'s fixed ones: those are what an invoice is
    /// compared with after a restart (a formula's base or a dynamic price says nothing of an invoice).
    pub async fn store_prices(&self, list: &PriceList) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM prices WHERE origin = $1").bind(&list.origin).execute(&mut *tx).await?;
        for p in list.prices.iter().filter(|p| p.model == PriceModel::Fixed) {
            sqlx::query(
                "INSERT INTO prices (origin, method, path, price_msat, description, source, read_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&list.origin)
            .bind(&p.method)
            .bind(&p.path)
            .bind(i64::try_from(p.price_msat).unwrap_or(i64::MAX))
            .bind(&p.description)
            .bind(&p.source)
            .bind(list.read_at_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stored prices, of one origin or of all, by origin and path.
    pub async fn prices(&self, origin: Option<&str>) -> Result<Vec<StoredPrice>> {
        let rows = sqlx::query(
            "SELECT origin, method, path, price_msat, description, source, read_at_ms FROM prices \
             WHERE $1 IS NULL OR origin = $1 ORDER BY origin, path, method",
        )
        .bind(origin)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| StoredPrice {
                origin: r.get("origin"),
                price: Price {
                    method: r.get("method"),
                    path: r.get("path"),
                    price_msat: r.get::<i64, _>("price_msat").max(0) as u64,
                    description: r.get("description"),
                    source: r.get("source"),
                    ..Price::default()
                },
                read_at_ms: r.get("read_at_ms"),
            })
            .collect())
    }
}
#[async_trait::async_trait]
impl crate::pricing::fetch::PriceStore for Ledger {
    async fn keep(&self, list: &PriceList) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.store_prices(list).await?)
    }
}
