//! The queries the desktop UI asks: totals for today, this week and this month; spend per day by API or by
//! agent; a filtered, sorted page of payments with its total count; and the CSV of a filtered view.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::engine::Builder;

use super::export::{self, COLUMNS, PaymentRow};
use super::status::PaymentStatus;
use super::{Ledger, Result};
use crate::policy::Period;
use crate::units::Msats;

/// Which payments a listing shows. Every field narrows; `None` leaves it open.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PaymentFilter {
    pub agent: Option<String>,
    /// `host[:port]` as the ledger shows it.
    pub host: Option<String>,
    pub status: Option<PaymentStatus>,
    pub challenge_kind: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub from_ms: Option<i64>,
    /// Milliseconds since the epoch, exclusive.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub to_ms: Option<i64>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub min_amount_msat: Option<i64>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub max_amount_msat: Option<i64>,
    /// Payments made under this task allowance.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    #[serde(default)]
    pub allowance_id: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum SortBy {
    #[default]
    Newest,
    Oldest,
    LargestAmount,
    SmallestAmount,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PaymentPage {
    pub rows: Vec<PaymentRow>,
    /// How many payments match the filter in all.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total: i64,
}

/// What was spent in a period: settled amounts plus fees.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Totals {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub today_msat: u64,
    /// The routing fees within `today_msat`, shown apart.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub today_fee_msat: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub week_msat: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub month_msat: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub settled_count_today: u64,
    /// Payments Purser refused today; offers it could not pay (another chain) and passed on are not counted.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub refused_count_today: u64,
    /// The same spending in the display currency, when one is chosen.
    pub fiat: Option<FiatTotals>,
}

/// Spending in a currency: each payment at the rate it was recorded at; payments recorded without one in
/// this currency at the current rate (or not at all when there is none).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct FiatTotals {
    pub currency: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub today_micros: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub week_micros: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub month_micros: i64,
}

/// How figures in a currency are valued: payments recorded in `currency` at their own rate, others at
/// `current_per_btc` (left out when there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct Valuing {
    pub currency: String,
    pub current_per_btc: Option<f64>,
}

/// The value of `p`'s amount and fee in millionths of `?{currency}`, each row at its recorded rate, else at
/// `?{current}` (NULL when unknown, which SUM leaves out).
fn value_sql(currency: usize, current: usize) -> String {
    format!(
        "(COALESCE(p.amount_msat, 0) + COALESCE(p.fee_msat, 0)) * \
         (CASE WHEN p.fiat_currency = ${currency} THEN p.fiat_per_btc ELSE ${current} END) / 100000.0"
    )
}

/// One bar segment of the spend chart.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DaySpend {
    /// `YYYY-MM-DD` in the configured time zone.
    pub day: String,
    /// The API (`host`) or the agent's name.
    pub key: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub msat: u64,
    /// The same in the display currency, in millionths, when one was asked for.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub fiat_micros: Option<i64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum GroupBy {
    Api,
    Agent,
}

fn push_filter(q: &mut Builder, f: &PaymentFilter) {
    q.push(" WHERE 1 = 1");
    if let Some(v) = &f.agent {
        // Resolved to the agent's id first, so the payments' own indexes serve the listing.
        q.push(" AND p.agent_id = (SELECT id FROM agents WHERE name = ").push_bind(v.clone()).push(")");
    }
    if let Some(v) = &f.host {
        q.push(" AND p.host = ").push_bind(v.clone());
    }
    if let Some(v) = &f.status {
        // `paying` is a `pending` row the wallet was asked to pay; `pending` alone is one not yet sent.
        match v {
            PaymentStatus::Paying => q.push(" AND p.status = 'pending' AND p.wallet_asked_at_ms IS NOT NULL"),
            PaymentStatus::Pending => q.push(" AND p.status = 'pending' AND p.wallet_asked_at_ms IS NULL"),
            _ => q.push(" AND p.status = ").push_bind(v.as_str()),
        };
    }
    if let Some(v) = f.allowance_id {
        q.push(" AND p.allowance_id = ").push_bind(v);
    }
    if let Some(v) = &f.challenge_kind {
        q.push(" AND p.challenge_kind = ").push_bind(v.clone());
    }
    if let Some(v) = f.from_ms {
        q.push(" AND p.created_at_ms >= ").push_bind(v);
    }
    if let Some(v) = f.to_ms {
        q.push(" AND p.created_at_ms < ").push_bind(v);
    }
    if let Some(v) = f.min_amount_msat {
        q.push(" AND p.amount_msat >= ").push_bind(v);
    }
    if let Some(v) = f.max_amount_msat {
        q.push(" AND p.amount_msat <= ").push_bind(v);
    }
}

const SPENT: &str = "CAST(COALESCE(SUM(COALESCE(p.amount_msat, 0) + COALESCE(p.fee_msat, 0)), 0) AS BIGINT)";

impl Ledger {
    /// One page of the payments `filter` matches, sorted, with the total count.
    pub async fn payment_page(
        &self,
        filter: &PaymentFilter,
        sort: SortBy,
        offset: i64,
        limit: i64,
    ) -> Result<PaymentPage> {
        let order = match sort {
            SortBy::Newest => " ORDER BY p.id DESC",
            SortBy::Oldest => " ORDER BY p.id ASC",
            SortBy::LargestAmount => " ORDER BY p.amount_msat DESC, p.id DESC",
            SortBy::SmallestAmount => " ORDER BY p.amount_msat ASC, p.id DESC",
        };
        // The page's ids first, from the indexes alone; the columns (the agent's name among them) only for
        // those, not for every row the offset skips.
        let mut q = Builder::new(COLUMNS);
        q.push(" WHERE p.id IN (SELECT p.id FROM payments p");
        push_filter(&mut q, filter);
        q.push(order);
        q.push(" LIMIT ").push_bind(limit.clamp(1, 1000)).push(" OFFSET ").push_bind(offset.max(0)).push(")");
        q.push(order);
        let rows = q.build().fetch_all(self.pool()).await?;
        // Narrowed by agent, API and status at most, the count comes from the running totals.
        let by_rollup = filter.challenge_kind.is_none()
            && filter.allowance_id.is_none()
            && filter.from_ms.is_none()
            && filter.to_ms.is_none()
            && filter.min_amount_msat.is_none()
            && filter.max_amount_msat.is_none()
            && !matches!(filter.status, Some(PaymentStatus::Paying | PaymentStatus::Pending));
        let mut count = Builder::new(if by_rollup {
            "SELECT CAST(COALESCE(SUM(p.payments), 0) AS BIGINT) FROM payment_rollup p"
        } else {
            "SELECT COUNT(*) FROM payments p"
        });
        push_filter(&mut count, filter);
        let total: i64 = count.build().fetch_one(self.pool()).await?.get(0);
        Ok(PaymentPage { rows: rows.iter().map(export::row).collect(), total })
    }

    /// The payments `filter` matches, newest first; at most `limit`.
    /// The payment rows agent `agent_id`'s request `request_id` wrote, oldest first.
    pub async fn payments_of_request(&self, agent_id: i64, request_id: &str) -> Result<Vec<PaymentRow>> {
        let sql = format!("{COLUMNS} WHERE p.agent_id = $1 AND p.request_id = $2 ORDER BY p.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(agent_id).bind(request_id).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(export::row).collect())
    }

    pub async fn payments_matching(&self, filter: &PaymentFilter, limit: i64) -> Result<Vec<PaymentRow>> {
        let mut q = Builder::new(COLUMNS);
        push_filter(&mut q, filter);
        q.push(" ORDER BY p.id DESC LIMIT ").push_bind(limit);
        Ok(q.build().fetch_all(self.pool()).await?.iter().map(export::row).collect())
    }

    /// The CSV of every payment `filter` matches, newest first.
    pub async fn export_csv(&self, filter: &PaymentFilter) -> Result<String> {
        let mut q = Builder::new(COLUMNS);
        push_filter(&mut q, filter);
        q.push(" ORDER BY p.id DESC");
        let rows: Vec<PaymentRow> = q.build().fetch_all(self.pool()).await?.iter().map(export::row).collect();
        export::to_csv(&rows).map_err(|e| super::Error::Invalid(format!("cannot write CSV: {e}")))
    }

    /// Spent today, this week and this month (calendar, in the configured zone).
    pub async fn totals(&self) -> Result<Totals> {
        let now = self.now_ms();
        let tz = &self.policy().time_zone;
        let start = |p: Period| p.window_start_ms(now, tz).unwrap_or(now);
        let (day, week, month) = (start(Period::Day), start(Period::Week), start(Period::Month));
        let sql = "SELECT \
             CAST(COALESCE(SUM(CASE WHEN p.status = 'settled' AND p.created_at_ms >= $1 THEN COALESCE(p.amount_msat, 0) + COALESCE(p.fee_msat, 0) END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN p.status = 'settled' AND p.created_at_ms >= $2 THEN COALESCE(p.amount_msat, 0) + COALESCE(p.fee_msat, 0) END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN p.status = 'settled' THEN COALESCE(p.amount_msat, 0) + COALESCE(p.fee_msat, 0) END), 0) AS BIGINT), \
             COUNT(CASE WHEN p.status = 'settled' AND p.created_at_ms >= $1 THEN 1 END), \
             COUNT(CASE WHEN p.status = 'refused' AND p.created_at_ms >= $1 \
               AND COALESCE(p.failure_reason, '') <> 'unsupported_scheme' THEN 1 END), \
             CAST(COALESCE(SUM(CASE WHEN p.status = 'settled' AND p.created_at_ms >= $1 THEN COALESCE(p.fee_msat, 0) END), 0) AS BIGINT) \
             FROM payments p WHERE p.created_at_ms >= $3";
        let r = sqlx::query(sql).bind(day).bind(week).bind(month.min(week)).fetch_one(self.pool()).await?;
        let month_total: i64 = if month <= week {
            r.get(2)
        } else {
            let sql = format!("SELECT {SPENT} FROM payments p WHERE p.status = 'settled' AND p.created_at_ms >= $1");
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(month).fetch_one(self.pool()).await?
        };
        let u = |v: i64| v.max(0) as u64;
        Ok(Totals {
            today_msat: u(r.get(0)),
            today_fee_msat: u(r.get(5)),
            week_msat: u(r.get(1)),
            month_msat: u(month_total),
            settled_count_today: u(r.get(3)),
            refused_count_today: u(r.get(4)),
            fiat: None,
        })
    }

    /// [`Self::totals`] with the same windows valued in a currency.
    pub async fn totals_valued(&self, valuing: Option<&Valuing>) -> Result<Totals> {
        let mut totals = self.totals().await?;
        let Some(v) = valuing else { return Ok(totals) };
        let now = self.now_ms();
        let tz = &self.policy().time_zone;
        let start = |p: Period| p.window_start_ms(now, tz).unwrap_or(now);
        let value = value_sql(4, 5);
        let sql = format!(
            "SELECT COALESCE(SUM(CASE WHEN p.created_at_ms >= $1 THEN {value} END), 0.0), \
             COALESCE(SUM(CASE WHEN p.created_at_ms >= $2 THEN {value} END), 0.0), \
             COALESCE(SUM(CASE WHEN p.created_at_ms >= $3 THEN {value} END), 0.0) \
             FROM payments p WHERE p.status = 'settled' AND p.created_at_ms >= MIN($2, $3)"
        );
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(start(Period::Day))
            .bind(start(Period::Week))
            .bind(start(Period::Month))
            .bind(&v.currency)
            .bind(super::engine::Real(v.current_per_btc))
            .fetch_one(self.pool())
            .await?;
        let micros = |i: usize| r.get::<f64, _>(i).round() as i64;
        totals.fiat = Some(FiatTotals {
            currency: v.currency.clone(),
            today_micros: micros(0),
            week_micros: micros(1),
            month_micros: micros(2),
        });
        Ok(totals)
    }

    /// Settled spend (amount + fee) per day for the last `days` days, by API or by agent. Days are calendar
    /// days in the configured zone; SQLite sums each day's range of the time index.
    pub async fn spend_per_day(&self, days: u32, group: GroupBy) -> Result<Vec<DaySpend>> {
        self.spend_per_day_valued(days, group, None).await
    }

    /// [`Self::spend_per_day`], each segment also valued in a currency.
    pub async fn spend_per_day_valued(
        &self,
        days: u32,
        group: GroupBy,
        valuing: Option<&Valuing>,
    ) -> Result<Vec<DaySpend>> {
        let now = self.now_ms();
        let tz = self.policy().time_zone.clone();
        let today = jiff::Timestamp::from_millisecond(now).map(|t| t.to_zoned(tz.clone()).date());
        let Ok(today) = today else { return Ok(Vec::new()) };
        // (day, first ms, first ms of the next day), oldest first.
        let start_ms = |d: jiff::civil::Date| d.to_zoned(tz.clone()).map(|z| z.timestamp().as_millisecond()).ok();
        let bounds: Vec<(String, i64, i64)> = (0..i64::from(days))
            .rev()
            .filter_map(|back| {
                let day = today.checked_sub(jiff::Span::new().days(back)).ok()?;
                Some((day.to_string(), start_ms(day)?, start_ms(day.tomorrow().ok()?)?))
            })
            .collect();
        if bounds.is_empty() {
            return Ok(Vec::new());
        }
        let (key, join) = match group {
            GroupBy::Api => ("p.host", ""),
            GroupBy::Agent => ("a.name", " JOIN agents a ON a.id = p.agent_id"),
        };
        // The whole range as well, so PostgreSQL's planner reads it from the time index rather than joining
        // every payment against each day.
        let (first_ms, end_ms) = (bounds[0].1, bounds[bounds.len() - 1].2);
        let mut q = Builder::new("WITH d(day, s, e) AS (VALUES ");
        for (i, (day, s, e)) in bounds.into_iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.push_bind(day).push(", ").push_bind(s).push(", ").push_bind(e).push(")");
        }
        q.push(") SELECT d.day, ");
        match valuing {
            Some(v) => q
                .push("SUM((COALESCE(p.amount_msat, 0) + COALESCE(p.fee_msat, 0)) * (CASE WHEN p.fiat_currency = ")
                .push_bind(v.currency.clone())
                .push(" THEN p.fiat_per_btc ELSE ")
                .push_bind(super::engine::Real(v.current_per_btc))
                .push(" END) / 100000.0)"),
            None => q.push("NULL"),
        };
        q.push(format!(
            ", {key}, CAST(SUM(COALESCE(p.amount_msat, 0) + COALESCE(p.fee_msat, 0)) AS BIGINT) \
             FROM d JOIN payments p ON p.created_at_ms >= d.s AND p.created_at_ms < d.e{join} \
             WHERE p.status = 'settled' AND p.created_at_ms >= "
        ));
        q.push_bind(first_ms).push(" AND p.created_at_ms < ").push_bind(end_ms);
        q.push(format!(" GROUP BY d.day, {key} ORDER BY d.day, {key}"));
        let rows = q.build().fetch_all(self.pool()).await?;
        Ok(rows
            .iter()
            .map(|r| DaySpend {
                day: r.get(0),
                fiat_micros: valuing.map(|_| r.get::<Option<f64>, _>(1).unwrap_or(0.0).round() as i64),
                key: r.get(2),
                msat: r.get::<i64, _>(3).max(0) as u64,
            })
            .collect())
    }

    /// Distinct APIs the ledger has seen, with payment counts, for the APIs screen (from the running totals).
    pub async fn apis(&self) -> Result<Vec<ApiSummary>> {
        let held = self.held_at_apis().await?;
        let rows = sqlx::query(
            "SELECT host, CAST(SUM(payments) AS BIGINT) AS payments, \
             CAST(SUM(CASE WHEN status = 'settled' THEN payments ELSE 0 END) AS BIGINT) AS settled, \
             CAST(SUM(CASE WHEN status = 'settled' AND delivered = 1 THEN payments ELSE 0 END) AS BIGINT) AS delivered, \
             CAST(SUM(CASE WHEN status = 'settled' AND delivered = 0 THEN payments ELSE 0 END) AS BIGINT) \
               AS paid_not_delivered, \
             CAST(SUM(CASE WHEN status = 'settled' THEN amount_msat + fee_msat ELSE 0 END) AS BIGINT) AS spent \
             FROM payment_rollup GROUP BY host HAVING SUM(payments) > 0 ORDER BY spent DESC, host",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| ApiSummary {
                host: r.get("host"),
                payments: r.get("payments"),
                settled: r.get("settled"),
                delivered: r.get("delivered"),
                paid_not_delivered: r.get("paid_not_delivered"),
                spent_msat: r.get("spent"),
                held_msat: 0,
            })
            .map(|mut api| {
                let held = held.iter().find(|h| h.host == api.host).map_or(0, |h| h.held_msat);
                api.held_msat = i64::try_from(held).unwrap_or(i64::MAX);
                api
            })
            .collect())
    }

    /// Settled spend per agent, all time, for the Agents screen.
    pub async fn spend_per_agent(&self) -> Result<BTreeMap<String, Msats>> {
        let rows = sqlx::query(
            "SELECT a.name, CAST(COALESCE(SUM(r.amount_msat + r.fee_msat), 0) AS BIGINT) FROM agents a \
             LEFT JOIN payment_rollup r ON r.agent_id = a.id AND r.status = 'settled' GROUP BY a.name",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(|r| (r.get::<String, _>(0), Msats(r.get::<i64, _>(1).max(0) as u64))).collect())
    }
}

/// An API as the ledger knows it (its endpoints' prices: [`Ledger::endpoints`]).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ApiSummary {
    pub host: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub payments: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub settled: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub delivered: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub paid_not_delivered: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub spent_msat: i64,
    /// What is held there now (session deposits not yet drawn, refunds on their way).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub held_msat: i64,
}

impl Ledger {
    /// One payment's preimage (its proof of payment), for when a person asks to see it.
    pub async fn preimage(&self, payment_id: i64) -> Result<Option<String>> {
        let found: Option<Option<String>> = sqlx::query_scalar("SELECT preimage FROM payments WHERE id = $1")
            .bind(payment_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(found.flatten())
    }
}
