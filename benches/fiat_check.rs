//! What limits in a currency add to a paid call's reservation: the ledger's `reserve` (the decision and the
//! row, in one transaction) timed, call by call in turn, for an agent whose daily budget and threshold are in
//! sats and for one whose are in dollars (each payment converted at its rate, the budget summing each
//! payment's recorded value over its growing window); each figure the median of its calls. Prints figures;
//! asserts nothing. Run with `cargo bench --bench fiat_check`.

use std::time::{Duration, Instant};

use purser::ledger::Ledger;
use purser::ledger::payments::{NewPayment, Outcome, Reservation};
use purser::ledger::policy_store::ScopeSpec;
use purser::policy::fiat::FiatThreshold;
use purser::policy::{Approved, Period, Rules};
use purser::rates::{Money, Rate, RatesAtHand};
use purser::units::{Msats, Preimage};

/// Calls by each of the two agents (`cargo bench`); `cargo test --all-targets` runs a few, to show it works.
const CALLS: usize = 1_500;
const SMOKE_CALLS: usize = 20;

fn payment(agent_id: i64, agent: &str, n: usize, rates: &RatesAtHand) -> NewPayment {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(n as u64).to_le_bytes());
    NewPayment {
        request_id: format!("req_{n}"),
        agent_id,
        agent: agent.into(),
        method: "GET".into(),
        scheme: "https".into(),
        host: "api.example.com".into(),
        path: "/v1/search".into(),
        challenge_kind: "l402".into(),
        amount: Some(Msats::from_sats(3)),
        payment_hash: Some(Preimage(seed).payment_hash()),
        invoice: None,
        advertised: None,
        proof_prefix: None,
        allowance: None,
        agent_reason: None,
        rates: rates.clone(),
    }
}

/// One reservation (then settled, as a paid call is), timed.
async fn reserve_one(ledger: &Ledger, p: NewPayment) -> Duration {
    let start = Instant::now();
    let reserved = ledger.reserve(&p, Approved::Not, &Rules).await.unwrap();
    let took = start.elapsed();
    let Reservation::Reserved { payment_id, .. } = reserved else { panic!("{reserved:?}") };
    let settled = Outcome::Settled { preimage: Preimage([1; 32]), fee: Msats(3) };
    ledger.finish(payment_id, &settled, None).await.unwrap();
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("bench.sqlite")).await.unwrap();
    ledger.add_agent("sats").await.unwrap();
    ledger.add_agent("dollars").await.unwrap();
    let (sats_id, dollars_id) = (ledger.agent_id("sats").await.unwrap(), ledger.agent_id("dollars").await.unwrap());
    for b in ledger.budgets().await.unwrap() {
        ledger.remove_budget(b.id).await.unwrap();
    }
    let scope = |agent: &str| ScopeSpec { agent: Some(agent.into()), ..ScopeSpec::default() };
    ledger.set_threshold(&scope("sats"), Msats::from_sats(10), Msats::from_sats(1_000), None).await.unwrap();
    ledger.add_budget(&scope("sats"), Period::Day, Msats::from_sats(1_000_000), None, None).await.unwrap();
    let dollars = FiatThreshold {
        currency: "USD".into(),
        auto_max_micros: 10_000,
        ask_max_micros: 1_000_000,
        confirm_above_micros: None,
    };
    ledger.set_fiat_threshold(&scope("dollars"), dollars).await.unwrap();
    let limit = Money { currency: "USD".into(), micros: 1_000_000_000 };
    ledger.add_fiat_budget(&scope("dollars"), Period::Day, limit, None, None).await.unwrap();
    // Both record the display currency's rate; only the second has limits to convert with it.
    let usd = Rate { currency: "USD".into(), per_btc: 100_000.0, source: "bench".into(), at_ms: ledger.now_ms() };
    let rates = RatesAtHand { rates: vec![usd], missing: Vec::new() };

    let calls = if std::env::args().any(|a| a == "--bench") { CALLS } else { SMOKE_CALLS };
    let (mut plain, mut fiat, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..calls {
        let a = payment(sats_id, "sats", 2 * n, &rates);
        let b = payment(dollars_id, "dollars", 2 * n + 1, &rates);
        // Which goes first alternates, so neither always meets a warmer cache.
        let (a, b) = if n % 2 == 0 {
            let a = reserve_one(&ledger, a).await;
            (a, reserve_one(&ledger, b).await)
        } else {
            let b = reserve_one(&ledger, b).await;
            (reserve_one(&ledger, a).await, b)
        };
        plain.push(a);
        fiat.push(b);
        added.push((b.as_secs_f64() - a.as_secs_f64()) * 1e6);
    }
    added.sort_by(f64::total_cmp);
    let (a, b) = (median(plain), median(fiat));
    println!("reservation, budget and threshold in sats      {:>8.1} µs (median of {calls})", a.as_secs_f64() * 1e6);
    println!("reservation, budget and threshold in dollars   {:>8.1} µs (median of {calls})", b.as_secs_f64() * 1e6);
    println!(
        "limits in dollars add                          {:>+8.1} µs (median of the {calls} pairs)",
        added[calls / 2]
    );
}
