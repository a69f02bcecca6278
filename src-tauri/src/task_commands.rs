//! The commands for task allowances: list them, answer a request, open one for an agent, raise one at an
//! overage, close one. Each a thin call into `purser::allowances`, errors mapped by `error`.

use purser::allowances::{self, Decision};
use purser::consent::Proof;
use purser::ledger::allowances::{Allowance, AllowanceAsk};
use purser::units::Msats;
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
        max: answer.max_sats.map(Msats::from_sats),
        duration_ms: answer.time_limit_secs.map(secs_to_ms),
        proof: Proof { passphrase: answer.passphrase, typed_sats: answer.typed_sats },
    };
    Ok(allowances::answer(&core.proxy, id, decision).await?)
}

#[tauri::command]
pub async fn open_allowance(core: State<'_, AppCore>, input: AllowanceInput) -> Result<Allowance> {
    let ask = AllowanceAsk {
        agent: input.agent,
        purpose: input.purpose,
        max: Msats::from_sats(input.max_sats),
        per_payment_max: input.per_payment_sats.map(Msats::from_sats),
        apis: input.apis,
        duration_ms: secs_to_ms(input.time_limit_secs),
        plan: None,
    };
    let proof = Proof { passphrase: input.passphrase, typed_sats: input.typed_sats };
    Ok(allowances::open(&core.proxy, &ask, &proof).await?)
}

#[tauri::command]
pub async fn raise_allowance(
    core: State<'_, AppCore>,
    id: i64,
    max_sats: u64,
    passphrase: Option<String>,
) -> Result<Allowance> {
    let proof = Proof { passphrase, typed_sats: None };
    Ok(allowances::raise(&core.proxy, id, Msats::from_sats(max_sats), &proof).await?)
}

#[tauri::command]
pub async fn close_allowance(core: State<'_, AppCore>, id: i64) -> Result<Allowance> {
    Ok(allowances::close(&core.ledger, &core.proxy.events, id).await?)
}
