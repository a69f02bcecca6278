//! The ledger at UI scale: 1,000,000 payments over a year for 20 agents and 200 APIs, then the queries the
//! desktop UI makes, each timed as the median of repeated runs. Prints figures; asserts nothing.
//! Run with `cargo bench --bench ledger_ui`; with `PURSER_TEST_POSTGRES` set to a PostgreSQL server's URL
//! (`scripts/postgres start DIR` prints one), the same on a new database there.

use std::time::{Duration, Instant};

use purser::ledger::Ledger;
use purser::ledger::queries::{GroupBy, PaymentFilter, SortBy};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn time<F, Fut, T>(label: &str, runs: usize, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(f().await);
        samples.push(start.elapsed());
    }
    println!("{label:<48} {:>9.2} ms (median of {runs})", median(samples).as_secs_f64() * 1000.0);
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let location = purser::ledger::testing::fresh_location(dir.path()).await;
    let ledger = Ledger::open_at(&location).await.unwrap();
    println!("ledger on {:?}", ledger.engine());
    for n in 0..20 {
        ledger.add_agent(&format!("agent{n}")).await.unwrap();
    }
    let now = ledger.now_ms();
    let start = Instant::now();
    // One statement: a year of payments, newest last, mostly settled.
    purser::ledger::testing::bulk_insert_payments(
        &ledger,
        "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) \
         INSERT INTO payments (request_id, agent_id, method, scheme, host, path, challenge_kind, amount_msat, fee_msat, \
         fee_reserve_msat, payment_hash, invoice, status, failure_reason, decision, upstream_status, delivered, \
         created_at_ms, updated_at_ms) \
         SELECT 'req_' || i, 1 + i % 20, 'GET', 'https', 'api' || (i % 200) || '.example.com', '/v1/' || (i % 7), 'l402', \
         1000 * (1 + i % 250), i % 250, 1000, '000000000000000000000000000000000000000000000000000000000' || (1000000 + i), \
         'lnbc…', \
         CASE WHEN i % 10 = 0 THEN 'refused' ELSE 'settled' END, CASE WHEN i % 10 = 0 THEN 'budget_exceeded' END, \
         'bench', 200, 1, $1 - (1000000 - i) * 31536, $1 - (1000000 - i) * 31536 FROM n",
        now,
    )
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(ledger.pool()).await.unwrap();
    println!("generated 1,000,000 payments in {:.1} s", start.elapsed().as_secs_f64());

    let all = PaymentFilter::default();
    let agent = PaymentFilter { agent: Some("agent7".into()), ..PaymentFilter::default() };
    let api = PaymentFilter {
        host: Some("api42.example.com".into()),
        status: Some(purser::ledger::status::PaymentStatus::Settled),
        ..PaymentFilter::default()
    };
    time("first page, no filter (with total count)", 15, || ledger.payment_page(&all, SortBy::Newest, 0, 50)).await;
    time("first page, one agent", 15, || ledger.payment_page(&agent, SortBy::Newest, 0, 50)).await;
    time("first page, one API, settled", 15, || ledger.payment_page(&api, SortBy::Newest, 0, 50)).await;
    time("page 1,000 (offset 50,000), no filter", 9, || ledger.payment_page(&all, SortBy::Newest, 50_000, 50)).await;
    time("largest amounts first", 9, || ledger.payment_page(&all, SortBy::LargestAmount, 0, 50)).await;
    time("totals: today, week, month", 15, || ledger.totals()).await;
    let usd = purser::ledger::queries::Valuing { currency: "USD".into(), current_per_btc: Some(100_000.0) };
    time("totals, also in USD (recorded rates, else today's)", 15, || ledger.totals_valued(Some(&usd))).await;
    time("spend per day, 14 days, by API, also in USD", 9, || {
        ledger.spend_per_day_valued(14, GroupBy::Api, Some(&usd))
    })
    .await;
    time("spend per day, 14 days, by API", 9, || ledger.spend_per_day(14, GroupBy::Api)).await;
    time("spend per day, 14 days, by agent", 9, || ledger.spend_per_day(14, GroupBy::Agent)).await;
    time("spend per day, a year, by API (the UI asks 14 days)", 3, || ledger.spend_per_day(366, GroupBy::Api)).await;
    time("spend per agent, all time", 15, || ledger.spend_per_agent()).await;
    let no_rates = purser::rates::RatesAtHand::default();
    time("budget usage (the default daily budget)", 15, || ledger.budget_uses(&no_rates)).await;
    time("APIs summary", 5, || ledger.apis()).await;
    time("CSV of one agent (50,000 rows)", 3, || ledger.export_csv(&agent)).await;

    // The app's start: the ledger opened again (migrations checked, caches started), then the first screen's
    // queries (totals, the first page, budgets).
    drop(ledger);
    let mut samples = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let ledger = Ledger::open_at(&location).await.unwrap();
        std::hint::black_box(ledger.totals().await.unwrap());
        std::hint::black_box(ledger.payment_page(&all, SortBy::Newest, 0, 50).await.unwrap());
        std::hint::black_box(ledger.budget_uses(&Default::default()).await.unwrap());
        samples.push(start.elapsed());
        ledger.pool().close().await;
    }
    println!(
        "{:<48} {:>9.2} ms (median of 5)",
        "app start: open + first screen",
        median(samples).as_secs_f64() * 1000.0
    );
}
