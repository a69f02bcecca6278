//! The commands for task allowances: list them, answer a request, open one for an agent, raise one at an
//! overage, close one. Each a thin call into `purser::allowances`, errors mapped by `error`.

use purser::allowances::{self, Decision};
use purser::consent::Proof;
use purser::ledger::allowances::{Allowance, AllowanceAsk};
use tauri::State;

use crate::dto::{AllowanceAnswer, AllowanceInput};
use crate::error::Result;
use crate::runtime::AppCore;

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// The open allowances (requested, active, exhausted) and, with `all`, the last 100 of any state.
#[tauri::command]
pub async fn allowances(core: State<'_, AppCore>, all: bool) -> Result<Vec<Allowance>> {
    Ok(core.ledger.allowances(None, !all, 100).await?)
}

#[tauri::command]
pub async fn decide_allowance(core: State<'_, AppCore>, id: i64, answer: AllowanceAnswer) -> Result<Allowance> {
    let decision = Decision {
        approve: answer.approve,
        max: purser::ledger::allowances::new_max(answer.max_sats, answer.max_fiat.as_deref())?,
        duration_ms: answer.time_limit_secs.map(secs_to_ms),
        proof: Proof { passphrase: answer.passphrase, typed_sats: answer.typed_sats },
    };
    Ok(allowances::answer(&core.proxy, id, decision).await?)
}

#[tauri::command]
pub async fn open_allowance(core: State<'_, AppCore>, input: AllowanceInput) -> Result<Allowance> {
    let fiat = input.fiat.map(|f| format!("{} {}", f.amount.trim(), f.currency));
    let (max_sats, per_payment_sats) =
        if fiat.is_some() { (None, None) } else { (Some(input.max_sats), input.per_payment_sats) };
    let (max, per_payment_max, fiat) =
        purser::ledger::allowances::maxima(max_sats, per_payment_sats, fiat.as_deref(), None)?;
    let ask = AllowanceAsk {
        agent: input.agent,
        purpose: input.purpose,
        max,
        per_payment_max,
        apis: input.apis,
        duration_ms: secs_to_ms(input.time_limit_secs),
        plan: None,
        fiat,
    };
    let proof = Proof { passphrase: input.passphrase, typed_sats: input.typed_sats };
    Ok(allowances::open(&core.proxy, &ask, &proof).await?)
}

#[tauri::command]
pub async fn raise_allowance(
    core: State<'_, AppCore>,
    id: i64,
    max_sats: Option<u64>,
    max_fiat: Option<String>,
    passphrase: Option<String>,
) -> Result<Allowance> {
    let proof = Proof { passphrase, typed_sats: None };
    let max = purser::ledger::allowances::new_max(max_sats, max_fiat.as_deref())?
        .ok_or_else(|| crate::error::UiError::new("invalid", "give the new maximum"))?;
    Ok(allowances::raise(&core.proxy, id, max, &proof).await?)
}

#[tauri::command]
pub async fn close_allowance(core: State<'_, AppCore>, id: i64) -> Result<Allowance> {
    Ok(allowances::close(&core.ledger, &core.proxy.events, id).await?)
}
