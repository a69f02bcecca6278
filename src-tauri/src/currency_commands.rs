//! The display currency: choosing it (checked against the rate sources first) and the Overview's rate line.

use purser::rates::money::currency_code;
use tauri::State;

use crate::dto::RateLine;
use crate::error::{Result, UiError};
use crate::runtime::AppCore;

/// Chooses the currency amounts are shown in beside sats, or none (`null`). A currency no rate source
/// offers is refused, so the person learns it now rather than from empty figures.
#[tauri::command]
pub async fn set_display_currency(core: State<'_, AppCore>, currency: Option<String>) -> Result<RateLine> {
    let Some(code) = currency.filter(|c| !c.trim().is_empty()) else {
        core.ledger.set_display_currency(None).await?;
        return Ok(RateLine::none());
    };
    let code = currency_code(&code).map_err(|e| UiError::new("invalid", e.to_string()))?;
    let rate = core.proxy.rates.get(&code, core.proxy.settings.rate_max_age).await.map_err(|e| {
        UiError::new(
            "rate_unavailable",
            format!("{e}. Check the rate sources in purser.toml, or choose another currency."),
        )
    })?;
    core.ledger.set_display_currency(Some(&code)).await?;
    Ok(RateLine::of(code, Ok(rate), core.ledger.now_ms()))
}

/// The display currency's rate now (rate, source, age), or why there is none.
pub async fn rate_line(core: &AppCore) -> Result<RateLine> {
    Ok(match core.proxy.display_rate().await? {
        None => RateLine::none(),
        Some((currency, rate)) => RateLine::of(currency, rate, core.ledger.now_ms()),
    })
}
