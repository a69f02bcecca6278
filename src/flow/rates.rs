//! The BTC rates a payment's decision needs: the person's display currency (recorded on the row, so the
//! payment's value never drifts) and every currency a limit that applies is set in (budgets, the threshold,
//! the request's `Purser-Max-Fiat`). A limit's rate is asked for now, no older than the person allows; the
//! display currency alone never holds a payment up: its cached rate is used, and a stale one is refreshed in
//! the background for the next payment.

use super::Flow;
use super::context::PayContext;
use crate::invoice::CheckedInvoice;
use crate::ledger::payments::NewPayment;
use crate::rates::RatesAtHand;

impl Flow<'_> {
    /// The rates for `record`'s decision, display currency first; `max_fiat` is the request's
    /// `Purser-Max-Fiat`. Also what a quote or a dry run decides with.
    pub async fn rates_for(&self, record: &NewPayment, max_fiat: Option<&crate::rates::Money>) -> RatesAtHand {
        let settings = self.host.settings();
        let currencies = match self.host.ledger().currencies_for(settings.currency.as_deref(), record).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("the currencies of the limits could not be read: {e}");
                Default::default()
            }
        };
        let mut needed = currencies.limits;
        let mut at_hand = RatesAtHand::default();
        if let Some(m) = max_fiat {
            let used = self.host.ledger().person_currencies(settings.currency.as_deref()).await.unwrap_or_default();
            if used.contains(&m.currency) {
                needed.push(m.currency.clone());
            } else {
                let named = if used.is_empty() { "none is set".to_string() } else { used.join(", ") };
                let why = format!("{} is not a currency the person uses here ({named})", m.currency);
                at_hand.missing.push((m.currency.clone(), why));
            }
        }
        let mut all: Vec<String> = currencies.display.iter().cloned().collect();
        all.extend(needed.iter().filter(|c| currencies.display.as_ref() != Some(*c)).cloned());
        all.dedup();
        let rates = self.host.rates();
        for currency in all {
            if needed.contains(&currency) {
                match rates.get(&currency, settings.rate_max_age).await {
                    Ok(rate) => at_hand.rates.push(rate),
                    Err(e) => at_hand.missing.push((currency, e.to_string())),
                }
                continue;
            }
            let (cached, due) = rates.cached(&currency, settings.rate_max_age);
            if due {
                let runtime = self.host.background().cloned().unwrap_or_else(tokio::runtime::Handle::current);
                rates.refresh_in_background(&runtime, &currency, settings.rate_max_age);
            }
            at_hand.rates.extend(cached);
        }
        at_hand
    }

    /// The request's `Purser-Max-Fiat`: the invoice and its fee reserve must not be worth more. The agent
    /// set it, so without a rate nobody can say it holds: refused `rate_unavailable`.
    pub(crate) fn max_fiat_check(
        &self,
        ctx: &PayContext<'_>,
        checked: &CheckedInvoice,
        at_hand: &RatesAtHand,
    ) -> Result<(), (&'static str, String)> {
        let Some(max) = &ctx.max_fiat else { return Ok(()) };
        let Some(rate) = at_hand.rate(&max.currency) else {
            let why = at_hand.missing.iter().find(|(c, _)| *c == max.currency).map_or("", |(_, why)| why.as_str());
            return Err((
                crate::policy::RATE_UNAVAILABLE,
                format!(
                    "the request allows at most {max} (Purser-Max-Fiat) and no young enough rate says what the \
                     invoice is worth: {why}"
                ),
            ));
        };
        let with_fee =
            crate::units::Msats(checked.amount.0.saturating_add(crate::policy::fee_reserve(checked.amount).0));
        let worth = rate.money_of(with_fee);
        if worth.micros > max.micros {
            let now = self.host.ledger().now_ms();
            return Err((
                "max_fiat_exceeded",
                format!(
                    "the invoice asks {} and its routing fee may take up to {} more: {} ({worth}) at {}, above the {max} \
                     this request allows (Purser-Max-Fiat)",
                    checked.amount,
                    crate::policy::fee_reserve(checked.amount),
                    with_fee,
                    rate.describe(now)
                ),
            ));
        }
        Ok(())
    }
}
