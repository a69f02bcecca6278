//! The person's side of task allowances, shared by the CLI (through the control endpoint) and the desktop
//! app: answering a request (lowering its maximum or shortening its time), opening one for an agent, raising
//! one at an overage, closing one. An allowance whose maximum is above the confirm tier, or any allowance
//! when every approval needs the passphrase, takes the same confirmation as a payment there; every change is
//! told to listeners (`allowance:changed`), so an agent waiting on its request hears at once.

use crate::consent::{ConsentError, Proof};
use crate::events::{Event, Events};
use crate::ledger::Ledger;
use crate::ledger::allowances::{Allowance, AllowanceAnswer, AllowanceAsk, NewMax, OpenedBy};
use crate::proxy::Proxy;
use crate::units::Msats;

#[derive(Debug, thiserror::Error)]
pub enum AllowanceError {
    #[error(transparent)]
    Ledger(#[from] crate::ledger::Error),
    #[error(transparent)]
    Consent(ConsentError),
}

/// A person's answer to a requested allowance.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    pub approve: bool,
    /// A lower maximum, in the allowance's own denomination.
    pub max: Option<NewMax>,
    pub duration_ms: Option<i64>,
    pub proof: Proof,
}

/// Whether letting `agent` spend up to `max` without asking needs the person's confirmation: every approval
/// does, or `max` is above the lowest confirm limit of a threshold that can apply to the agent. A confirm
/// limit set in a currency counts at the rate of the moment; without one, it is taken as passed.
async fn needs_confirmation(proxy: &Proxy, agent: &str, max: Msats) -> crate::ledger::Result<bool> {
    if proxy.ledger.confirm_every_approval().await? {
        return Ok(true);
    }
    let applying: Vec<_> = proxy
        .thresholds_now()
        .await?
        .into_iter()
        .filter(|t| t.scope.agent.as_deref().is_none_or(|a| a == agent))
        .collect();
    let unconverted = applying
        .iter()
        .any(|t| t.confirm_above.is_none() && t.fiat.as_ref().is_some_and(|f| f.confirm_above_micros.is_some()));
    let lowest = applying.iter().filter_map(|t| t.confirm_above).min();
    Ok(unconverted || lowest.is_some_and(|limit| max > limit))
}

/// A maximum in sats, or in money at the rate of the moment. Without a young enough rate it counts as above
/// every confirm limit: the person confirms.
async fn in_msat(proxy: &Proxy, max: &NewMax) -> Msats {
    match max {
        NewMax::Sats(m) => *m,
        NewMax::Money(m) => match proxy.rates.get(&m.currency, proxy.settings.rate_max_age).await {
            Ok(rate) => rate.msat_for_micros(m.micros),
            Err(_) => Msats(u64::MAX),
        },
    }
}

/// Checks the confirmation when one is needed; `Ok(true)` when it was given.
async fn confirm(proxy: &Proxy, agent: &str, max: Msats, proof: &Proof) -> Result<bool, AllowanceError> {
    if !needs_confirmation(proxy, agent, max).await? {
        return Ok(false);
    }
    match crate::consent::confirm_payment(&proxy.ledger, max, proof).await {
        Ok(_) => Ok(true),
        Err(mut e) => {
            if let Some(alert) = e.take_alert() {
                proxy.events.emit(Event::Alert { alert });
            }
            Err(AllowanceError::Consent(e))
        }
    }
}

/// Answers requested allowance `id`.
pub async fn answer(proxy: &Proxy, id: i64, d: Decision) -> Result<Allowance, AllowanceError> {
    let (ledger, events) = (&proxy.ledger, &proxy.events);
    let asked = ledger.allowance(id).await?;
    let mut confirmed = false;
    if d.approve {
        let asked_max = match &asked.asked_max_fiat {
            Some(m) => NewMax::Money(m.clone()),
            None => NewMax::Sats(Msats(asked.asked_max_msat)),
        };
        let max = in_msat(proxy, d.max.as_ref().unwrap_or(&asked_max)).await;
        confirmed = confirm(proxy, &asked.agent, max, &d.proof).await?;
    }
    let answer = AllowanceAnswer { approve: d.approve, max: d.max, duration_ms: d.duration_ms, confirmed };
    let decided = ledger.decide_allowance(id, &answer).await?;
    tracing::info!(id, state = decided.state.as_str(), max = %Msats(decided.max_msat), "an allowance is answered");
    events.emit(Event::AllowanceChanged { allowance: decided.clone() });
    Ok(decided)
}

/// Opens an allowance for an agent, active at once (the person is the one who approves).
pub async fn open(proxy: &Proxy, ask: &AllowanceAsk, proof: &Proof) -> Result<Allowance, AllowanceError> {
    proxy.ledger.agent_id(&ask.agent).await?;
    let max = match &ask.fiat {
        Some(f) => {
            let max = crate::rates::Money { currency: f.currency.clone(), micros: f.max_micros };
            in_msat(proxy, &NewMax::Money(max)).await
        }
        None => ask.max,
    };
    let confirmed = confirm(proxy, &ask.agent, max, proof).await?;
    let opened = proxy.ledger.open_allowance(ask, OpenedBy::Person { confirmed }).await?;
    proxy.events.emit(Event::AllowanceChanged { allowance: opened.clone() });
    Ok(opened)
}

/// Raises allowance `id` to `max`, in its own denomination (an answer to its overage).
pub async fn raise(proxy: &Proxy, id: i64, max: NewMax, proof: &Proof) -> Result<Allowance, AllowanceError> {
    let current = proxy.ledger.allowance(id).await?;
    let in_sats = in_msat(proxy, &max).await;
    let confirmed = confirm(proxy, &current.agent, in_sats, proof).await?;
    let raised = proxy.ledger.raise_allowance(id, max, confirmed || current.confirmed).await?;
    proxy.events.emit(Event::AllowanceChanged { allowance: raised.clone() });
    Ok(raised)
}

/// Closes allowance `id` for the person; the summary is recorded.
pub async fn close(ledger: &Ledger, events: &Events, id: i64) -> Result<Allowance, AllowanceError> {
    let closed = ledger.close_allowance(id, "person").await?;
    events.emit(Event::AllowanceChanged { allowance: closed.clone() });
    Ok(closed)
}
