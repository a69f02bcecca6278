//! What a task allowance adds to a paid call's reservation: the ledger's `reserve` (the decision and the
//! row, in one transaction) timed for an agent with no allowance and, call by call in turn, for one whose
//! every payment goes to an active allowance (its payments growing to 1,500); each figure the median of its
//! calls. Prints figures; asserts nothing.
//! Run with `cargo bench --bench allowance_check`.

use std::time::{Duration, Instant};

use purser::ledger::Ledger;
use purser::ledger::allowances::{AllowanceAsk, OpenedBy};
use purser::ledger::payments::{NewPayment, Outcome, Reservation};
use purser::ledger::policy_store::ScopeSpec;
use purser::policy::{Approved, Rules};
use purser::units::{Msats, Preimage};

/// Calls by each of the two agents (`cargo bench`); `cargo test --all-targets` runs a few, to show it works.
const CALLS: usize = 1_500;
const SMOKE_CALLS: usize = 20;

fn payment(agent_id: i64, n: usize) -> NewPayment {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(n as u64).to_le_bytes());
    NewPayment {
        request_id: format!("req_{n}"),
        agent_id,
        agent: String::new(),
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
        rates: Default::default(),
    }
}

/// One reservation by `agent_id` (then settled, as a paid call is), timed.
async fn reserve_one(ledger: &Ledger, agent_id: i64, agent: &str, n: usize) -> Duration {
    let mut p = payment(agent_id, n);
    p.agent = agent.into();
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
    let (plain, _) = ledger.add_agent("plain").await.unwrap();
    let (tasked, _) = ledger.add_agent("tasked").await.unwrap();
    ledger.set_threshold(&ScopeSpec::default(), Msats::from_sats(10), Msats::from_sats(1_000), None).await.unwrap();
    // The first-run daily budget, raised out of the way: a budget is still read, as in real use.
    for b in ledger.budgets().await.unwrap() {
        ledger.remove_budget(b.id).await.unwrap();
    }
    let day = purser::policy::Period::Day;
    ledger.add_budget(&ScopeSpec::default(), day, Msats::from_sats(1_000_000), None, None).await.unwrap();
    let ask = AllowanceAsk {
        agent: "tasked".into(),
        purpose: "the benchmark".into(),
        max: Msats::from_sats(100_000_000),
        per_payment_max: None,
        apis: Vec::new(),
        duration_ms: 86_400_000,
        plan: None,
        fiat: None,
    };
    ledger.open_allowance(&ask, OpenedBy::Person { confirmed: false }).await.unwrap();
    // Alternating call by call, so both agents meet the same ledger (the first-run daily budget's window
    // grows with every call): one with no allowance, one whose allowance carries every payment it makes.
    let calls = if std::env::args().any(|a| a == "--bench") { CALLS } else { SMOKE_CALLS };
    let (mut without, mut with, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..calls {
        // Which goes first alternates too, so neither always meets a warmer cache.
        let (a, b) = if n % 2 == 0 {
            let a = reserve_one(&ledger, plain.id, "plain", 2 * n).await;
            (a, reserve_one(&ledger, tasked.id, "tasked", 2 * n + 1).await)
        } else {
            let b = reserve_one(&ledger, tasked.id, "tasked", 2 * n + 1).await;
            (reserve_one(&ledger, plain.id, "plain", 2 * n).await, b)
        };
        without.push(a);
        with.push(b);
        added.push((b.as_secs_f64() - a.as_secs_f64()) * 1e6);
    }
    added.sort_by(f64::total_cmp);
    let (a, b) = (median(without), median(with));
    println!("reservation, no allowance                 {:>8.1} µs (median of {calls})", a.as_secs_f64() * 1e6);
    println!("reservation, under an allowance           {:>8.1} µs (median of {calls})", b.as_secs_f64() * 1e6);
    println!("the allowance check adds                  {:>+8.1} µs (median of the {calls} pairs)", added[calls / 2]);
}
