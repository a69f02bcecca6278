//! `purser rate [CURRENCY]`: the BTC rate in a currency (default: the display currency) as Purser uses it:
//! the running proxy's (its sources and cache, the sandbox's play rate), else asked here from the configured
//! sources; the price, its source, and what one unit buys in sats. `purser currency [CODE|none]`: the display
//! currency shown beside sats.

use std::sync::Arc;

use clap::Args;
use purser::rates::Rates;

use super::{Error, Result};

#[derive(Args)]
pub struct RateArgs {
    /// An ISO 4217 code such as USD (default: `currency` in purser.toml)
    currency: Option<String>,
}

#[derive(Args)]
pub struct CurrencyArgs {
    /// An ISO 4217 code such as USD, or `none` for sats only (without it: show the current one)
    currency: Option<String>,
}

/// The configured rate sources, asked from this process.
pub(super) fn rates(settings: &purser::config::Settings) -> Result<Rates> {
    let tls = purser::http::client::tls_config(settings.extra_ca_file.as_deref(), &[])
        .map_err(|e| Error::Usage(format!("cannot set up TLS for the rate sources: {e}")))?;
    Ok(Rates::new(
        purser::http::client::client(tls),
        settings.rate_sources.clone(),
        Arc::new(purser::policy::SystemClock),
    ))
}

/// The display currency: chosen in the app or with `purser currency`, else `currency` in purser.toml.
pub(super) async fn display_currency(
    ledger: &purser::ledger::Ledger,
    settings: &purser::config::Settings,
) -> Result<Option<String>> {
    Ok(ledger.stored_display_currency().await?.unwrap_or(settings.currency.clone()))
}

/// The rates for `currencies` as the running proxy has them (its sources, the sandbox's play rate, its
/// cache); when no proxy runs, asked here from the configured sources.
pub(super) async fn at_hand(
    settings: &purser::config::Settings,
    currencies: &[String],
) -> Result<purser::rates::RatesAtHand> {
    let mut at_hand = purser::rates::RatesAtHand::default();
    let control = settings.control_path();
    for currency in currencies {
        let asked = purser::proxy::control::call(&control, http::Method::GET, &format!("rates/{currency}"), None).await;
        match asked {
            Ok(answer) => match serde_json::from_value::<purser::rates::Rate>(answer["rate"].clone()) {
                Ok(rate) => at_hand.rates.push(rate),
                Err(_) => at_hand.missing.push((currency.clone(), answer["error"].as_str().unwrap_or_default().into())),
            },
            Err(purser::proxy::control::ClientError::NotRunning(_)) => {
                let local = rates(settings)?.at_hand(std::slice::from_ref(currency), settings.rate_max_age).await;
                at_hand.rates.extend(local.rates);
                at_hand.missing.extend(local.missing);
            }
            Err(e) => at_hand.missing.push((currency.clone(), e.to_string())),
        }
    }
    Ok(at_hand)
}

pub async fn currency(data_dir: std::path::PathBuf, args: CurrencyArgs) -> Result<()> {
    let (settings, _) = purser::config::load(&data_dir)?;
    let ledger = purser::ledger::Ledger::open_at(&settings.ledger).await?;
    match args.currency.as_deref() {
        None => match display_currency(&ledger, &settings).await? {
            Some(c) => println!("Amounts are shown in sats and {c}."),
            None => println!("Amounts are shown in sats only. Choose a currency with `purser currency USD`."),
        },
        Some(none) if none.eq_ignore_ascii_case("none") => {
            ledger.set_display_currency(None).await?;
            println!("Amounts are shown in sats only.");
        }
        Some(code) => {
            let code = purser::rates::money::currency_code(code).map_err(|e| Error::Usage(e.to_string()))?;
            ledger.set_display_currency(Some(&code)).await?;
            println!("Amounts are shown in sats and {code}; each payment keeps the rate it was paid at.");
        }
    }
    Ok(())
}

pub async fn run(data_dir: std::path::PathBuf, args: RateArgs) -> Result<()> {
    let (settings, _) = purser::config::load(&data_dir)?;
    let ledger = purser::ledger::Ledger::open_at(&settings.ledger).await?;
    let currency = match args.currency {
        Some(c) => Some(c),
        None => display_currency(&ledger, &settings).await?,
    }
    .ok_or_else(|| {
        Error::Usage("say which currency, e.g. `purser rate USD`, or choose one with `purser currency USD`".into())
    })?;
    let currency = purser::rates::money::currency_code(&currency).map_err(|e| Error::Usage(e.to_string()))?;
    let asked = at_hand(&settings, std::slice::from_ref(&currency)).await?;
    let rate = asked.rate(&currency).cloned().ok_or_else(|| Error::Usage(asked.why_missing(&currency)))?;
    println!("1 BTC = {:.2} {} (from {})", rate.per_btc, rate.currency, rate.source);
    println!("1 {} = {}", rate.currency, rate.msat_for(1.0));
    Ok(())
}
