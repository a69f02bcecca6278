//! Task allowances as an agent asks for and follows them, on the proxy's own port under `/_purser/allowances`
//! (authenticated as the agent endpoint is: the agent's own name and key):
//!
//! - `POST /_purser/allowances` `{"purpose", "max_sats" | "max_fiat": "2.50 USD", "max_sats_per_payment"? |
//!   "max_fiat_per_payment"?, "apis"?: [..],
//!   "time_limit_secs"?, "calls"?: [{"method"?, "url", "count"?}], "wait_secs"?}`: asks the person; `201`
//!   with the allowance, `"state": "requested"` (with `wait_secs`, once the person answered or after at most
//!   60 s).
//! - `GET /_purser/allowances`: this agent's allowances, newest first.
//! - `GET /_purser/allowances/<id>[?wait=SECS]`: one of them; with `wait`, answered once the person decided
//!   (or after at most 60 s).
//! - `POST /_purser/allowances/<id>/close`: the task is done; the rest is released and the summary returned.
//!
//! An agent never sees, uses or closes another agent's allowance: those ids answer `404`.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Proxy;
use super::agent_api::json_response;
use super::refusal::Failure;
use crate::events::Event;
use crate::http::body::ProxyBody;
use crate::ledger::agents::Agent;
use crate::ledger::allowances::{Allowance, AllowanceAsk, OpenedBy};
use crate::policy::allowance::AllowanceState;
use crate::units::Msats;

/// Paths under this prefix are the allowance endpoint.
pub const PREFIX: &str = "/_purser/allowances";

/// The time limit when the agent names none.
pub const DEFAULT_TIME_LIMIT_SECS: u64 = 3_600;

/// The longest an agent's `wait` holds its request.
pub const MAX_WAIT_SECS: u64 = 60;

/// The largest request body this endpoint reads.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What an agent asks for.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowanceRequest {
    /// The task, in a sentence the person reads when asked (e.g. "Summarise 40 papers on X").
    pub purpose: String,
    /// The most the whole task may spend, in sats, routing fees included (or give `max_fiat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sats: Option<u64>,
    /// The most one payment may be, in sats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sats_per_payment: Option<u64>,
    /// Instead of `max_sats`: the most in a currency, e.g. "2.50 USD", converted at the rate of each payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fiat: Option<String>,
    /// With `max_fiat`: the most one payment may be, in the same currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fiat_per_payment: Option<String>,
    /// The APIs it may pay (`https://api.example.com`, `api.example.com`); empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apis: Vec<String>,
    /// How long the task may take, in seconds (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_secs: Option<u64>,
    /// The planned calls, quoted for the person to see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<super::quote_api::PlannedCallAsk>,
    /// Wait up to this many seconds (at most 60) for the person's answer before answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_secs: Option<u64>,
}

fn bad(detail: impl Into<String>) -> Failure {
    Failure::BadRequest { reason: "bad_allowance_call", detail: detail.into() }
}

fn unavailable(e: crate::ledger::Error) -> Failure {
    match e {
        crate::ledger::Error::Invalid(detail) => bad(detail),
        e => Failure::Unavailable {
            reason: "ledger_unavailable".into(),
            detail: format!("Purser could not read its ledger: {e}"),
            retry_after_secs: 5,
        },
    }
}

pub async fn handle(proxy: &Proxy, agent: &Agent, req: Request<Incoming>) -> Result<Response<ProxyBody>, Failure> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    let query = req.uri().query().unwrap_or_default().to_string();
    let method = req.method().clone();
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (&method, segments.as_slice()) {
        (&Method::POST, []) => {
            let body = read_body(req).await?;
            ask(proxy, agent, &body).await
        }
        (&Method::GET, []) => {
            let list = proxy.ledger.allowances(Some(&agent.name), false, 100).await.map_err(unavailable)?;
            Ok(json_response(StatusCode::OK, json!({ "allowances": list })))
        }
        (&Method::GET, [id]) => {
            let id = own(proxy, agent, id).await?.id;
            let wait = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "wait")
                .and_then(|(_, v)| v.parse::<u64>().ok())
                .unwrap_or(0)
                .min(MAX_WAIT_SECS);
            let allowance = wait_for_answer(proxy, id, Duration::from_secs(wait)).await?;
            Ok(json_response(StatusCode::OK, json!(allowance)))
        }
        (&Method::POST, [id, "close"]) => {
            let id = own(proxy, agent, id).await?.id;
            let closed = proxy.ledger.close_allowance(id, "agent").await.map_err(unavailable)?;
            proxy.events.emit(Event::AllowanceChanged { allowance: closed.clone() });
            Ok(json_response(StatusCode::OK, json!(closed)))
        }
        _ => Err(bad(format!(
            "no such allowance call: {method} {path}; try POST {PREFIX}, GET {PREFIX}/ID[?wait=30] or POST {PREFIX}/ID/close"
        ))),
    }
}

pub(super) async fn read_body(req: Request<Incoming>) -> Result<Bytes, Failure> {
    read_body_up_to(req, MAX_BODY_BYTES).await
}

/// The request's body, at most `limit` bytes.
pub(super) async fn read_body_up_to(req: Request<Incoming>, limit: usize) -> Result<Bytes, Failure> {
    let limited = http_body_util::Limited::new(req.into_body(), limit);
    limited.collect().await.map(|c| c.to_bytes()).map_err(|e| Failure::BadRequest {
        reason: "request_body_unreadable",
        detail: format!("the request body could not be read (at most {limit} bytes): {e}"),
    })
}

async fn ask(proxy: &Proxy, agent: &Agent, body: &[u8]) -> Result<Response<ProxyBody>, Failure> {
    let ask: AllowanceRequest = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "the body is not an allowance request ({e}); send {{\"purpose\": \"…\", \"max_sats\": 300, \
             \"time_limit_secs\": 3600}}"
        ))
    })?;
    let calls = super::quote_api::planned_calls(&ask.calls).map_err(bad)?;
    let (max, per_payment_max, fiat) = crate::ledger::allowances::maxima(
        ask.max_sats,
        ask.max_sats_per_payment,
        ask.max_fiat.as_deref(),
        ask.max_fiat_per_payment.as_deref(),
    )
    .map_err(unavailable)?;
    if let Some(f) = &fiat {
        // Only in a currency the person uses: an agent does not make Purser ask for others' prices.
        let used = proxy.ledger.person_currencies(proxy.settings.currency.as_deref()).await.map_err(unavailable)?;
        if !used.contains(&f.currency) {
            let named = if used.is_empty() { "none: give max_sats".to_string() } else { used.join(", ") };
            return Err(bad(format!("{} is not a currency the person uses here ({named})", f.currency)));
        }
    }
    let mut asked = AllowanceAsk {
        agent: agent.name.clone(),
        purpose: ask.purpose,
        max,
        per_payment_max,
        apis: ask.apis,
        duration_ms: i64::try_from(ask.time_limit_secs.unwrap_or(DEFAULT_TIME_LIMIT_SECS).saturating_mul(1000))
            .unwrap_or(i64::MAX),
        plan: None,
        fiat,
    };
    // What is wrong with the request is said before any price is fetched for its quote.
    crate::ledger::allowances::validate(&asked).map_err(unavailable)?;
    if !calls.is_empty() {
        let quote = super::quote_api::quote(proxy, agent, &calls, false).await.map_err(unavailable)?;
        asked.plan = Some(json!({ "calls": ask.calls, "quote": quote }));
    }
    let allowance = proxy.ledger.open_allowance(&asked, OpenedBy::Agent).await.map_err(unavailable)?;
    tracing::info!(agent = %agent.name, id = allowance.id, max = %Msats(allowance.max_msat), "an allowance is asked for");
    proxy.events.emit(Event::AllowanceRequested { allowance: allowance.clone() });
    let wait = Duration::from_secs(ask.wait_secs.unwrap_or(0).min(MAX_WAIT_SECS));
    let allowance = if wait.is_zero() { allowance } else { wait_for_answer(proxy, allowance.id, wait).await? };
    Ok(json_response(StatusCode::CREATED, json!(allowance)))
}

/// The allowance `id` when it is this agent's; any other id is "not found", whoever it belongs to.
async fn own(proxy: &Proxy, agent: &Agent, id: &str) -> Result<Allowance, Failure> {
    let not_found =
        || Failure::NotFound { reason: "no_such_allowance", detail: format!("you have no allowance #{id}") };
    let n: i64 = id.parse().map_err(|_| not_found())?;
    match proxy.ledger.allowance(n).await {
        Ok(a) if a.agent == agent.name => Ok(a),
        Ok(_) | Err(crate::ledger::Error::NotFound(..)) => Err(not_found()),
        Err(e) => Err(unavailable(e)),
    }
}

/// The allowance once it is no longer waiting for the person, or as it is after `wait`.
async fn wait_for_answer(proxy: &Proxy, id: i64, wait: Duration) -> Result<Allowance, Failure> {
    let mut events = proxy.events.subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let now = proxy.ledger.allowance(id).await.map_err(unavailable)?;
        if now.state != AllowanceState::Requested || tokio::time::Instant::now() >= deadline {
            return Ok(now);
        }
        // Woken by any allowance news (then read again), or at the deadline, or when a request lapses.
        let lapse = Duration::from_millis(u64::try_from(now.expires_at_ms - proxy.ledger.now_ms()).unwrap_or(0));
        let until = deadline.min(tokio::time::Instant::now() + lapse);
        let news = async {
            loop {
                match events.recv().await {
                    Ok(Event::AllowanceChanged { allowance }) if allowance.id == id => return,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => std::future::pending::<()>().await,
                }
            }
        };
        let _ = tokio::time::timeout_at(until, news).await;
    }
}
