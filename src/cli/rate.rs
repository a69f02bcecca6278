//! `purser rate [CURRENCY]`: the BTC rate in a currency (default: `currency` in `purser.toml`) as Purser
//! would use it, from the configured sources: the price, its source, and what one unit buys in sats.

use std::sync::Arc;

use clap::Args;
use purser::rates::Rates;

use super::{Error, Result};

#[derive(Args)]
pub struct RateArgs {
    /// An ISO 4217 code such as USD (default: `currency` in purser.toml)
    currency: Option<String>,
}

pub async fn run(data_dir: std::path::PathBuf, args: RateArgs) -> Result<()> {
    let (settings, _) = purser::config::load(&data_dir)?;
    let currency = args.currency.or(settings.currency.clone()).ok_or_else(|| {
        Error::Usage("say which currency, e.g. `purser rate USD`, or set `currency` in purser.toml".into())
    })?;
    let tls = purser::http::client::tls_config(settings.extra_ca_file.as_deref(), &[])
        .map_err(|e| Error::Usage(format!("cannot set up TLS for the rate sources: {e}")))?;
    let rates = Rates::new(
        purser::http::client::client(tls),
        settings.rate_sources.clone(),
        Arc::new(purser::policy::SystemClock),
    );
    let rate = rates.get(&currency, settings.rate_max_age).await.map_err(|e| Error::Usage(e.to_string()))?;
    println!("1 BTC = {:.2} {} (from {})", rate.per_btc, rate.currency, rate.source);
    println!("1 {} = {}", rate.currency, rate.msat_for(1.0));
    Ok(())
}
