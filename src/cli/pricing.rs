//! `purser pricing URL`: what an API publishes about its prices, read from every form Purser knows, and
//! stored in the ledger with when it was read.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use purser::http::client as upstream;
use purser::ledger::Ledger;
use purser::pricing::PriceModel;
use purser::pricing::fetch::{Fetcher, origin_of};

use super::{Error, Result};

#[derive(Args)]
pub struct PricingArgs {
    /// The API, e.g. https://api.example.com (any path is ignored)
    pub url: String,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// Seconds each document may take
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

fn sats(msat: u64) -> String {
    if msat.is_multiple_of(1000) { format!("{}", msat / 1000) } else { format!("{:.3}", msat as f64 / 1000.0) }
}

pub async fn run(data_dir: PathBuf, args: PricingArgs) -> Result<()> {
    let origin = origin_of(&args.url)
        .ok_or_else(|| Error::Usage(format!("`{}` is not an http(s) URL, e.g. https://api.example.com", args.url)))?;
    let (settings, policy) = purser::config::load(&data_dir)?;
    let tls = upstream::tls_config(settings.extra_ca_file.as_deref(), &[]).map_err(purser::proxy::StartError::from)?;
    let ledger = Ledger::open_at(&settings.ledger).await?.with_policy(policy);
    let fetcher = Fetcher::new(
        upstream::client(tls),
        Duration::from_secs(args.timeout.max(1)),
        Some(std::sync::Arc::new(ledger)),
    );
    let list = fetcher.get(&origin).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&*list).unwrap_or_default());
        return Ok(());
    }
    if list.is_empty() {
        println!("No pricing published by {origin}. Tried:");
        for t in &list.tried {
            println!("  {}  {}", t.url, t.outcome);
        }
        return Ok(());
    }
    let read = jiff::Timestamp::from_millisecond(list.read_at_ms).map(|t| t.to_string()).unwrap_or_default();
    println!("Prices published by {origin} (read {read}):");
    // One line per endpoint and price, naming every document that says it.
    let mut lines: Vec<(String, String, String, Vec<String>, String)> = Vec::new();
    for p in &list.prices {
        let method = p.method.clone().unwrap_or_else(|| "ANY".into());
        let price = match p.model {
            PriceModel::Fixed => sats(p.price_msat),
            PriceModel::Formula => format!("from {}", sats(p.price_msat)),
            PriceModel::Dynamic => "quoted".into(),
        };
        match lines.iter_mut().find(|l| l.0 == method && l.1 == p.path && l.2 == price) {
            Some(line) => line.3.push(p.source.clone()),
            None => {
                let mut about: Vec<String> = p.description.iter().chain(&p.detail).cloned().collect();
                if let Some(quote) = &p.quote_endpoint {
                    about.push(format!("quote: POST {quote}"));
                }
                lines.push((method, p.path.clone(), price, vec![p.source.clone()], about.join("; ")));
            }
        }
    }
    let width = lines.iter().map(|l| l.1.len()).max().unwrap_or(4).max(4);
    let price_width = lines.iter().map(|l| l.2.len()).max().unwrap_or(4).max(8);
    println!("  {:<7} {:<width$} {:>price_width$}  {:<44} description", "method", "path", "sats", "published in");
    for (method, path, price, sources, about) in &lines {
        println!("  {method:<7} {path:<width$} {price:>price_width$}  {:<44} {about}", sources.join(", "));
    }
    if let Some(free) = &list.free_tier {
        println!("Free tier: {free}");
    }
    for t in list.tried.iter().filter(|t| !t.outcome.ends_with("price") && !t.outcome.ends_with("prices")) {
        println!("  ({}: {})", t.url, t.outcome);
    }
    Ok(())
}
