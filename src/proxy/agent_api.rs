//! The read-only endpoint agents ask before they spend, on the proxy's own port under `/_purser/agent`,
//! authenticated with the agent's own name and key (`Proxy-Authorization` as for proxied requests, or
//! `Authorization: Basic`):
//!
//! - `GET /_purser/agent`: the agent, whether its payments are paused, and each budget that applies to it
//!   with what is used and left (for a budget shared with other agents, such as the whole wallet's, that is
//!   everyone's use: the room left is what the agent needs to know);
//! - `GET /_purser/agent/prices?api=<URL>`: the prices that API publishes (fetched and cached as for payments).
//!
//! Nothing here pays, approves or changes a setting; other agents are never named. Task allowances
//! ([`super::allowance_api`]), quotes ([`super::quote_api`]), paid fetches ([`super::fetch_api`]) and the
//! agent's own payments ([`super::payments_api`]) are reached the same way, with the same key.

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::Proxy;
use super::answers::{BudgetLeft, Overview, ThresholdView};
use super::refusal::Failure;
use crate::http::body::{ProxyBody, full};
use crate::ledger::agents::Agent;
use crate::policy::allowance::AllowanceState;

/// Paths under this prefix are the agent endpoint.
pub const PREFIX: &str = "/_purser/agent";

pub(super) fn json_response(status: StatusCode, value: serde_json::Value) -> Response<ProxyBody> {
    let mut resp = Response::new(full(value.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The agent's name and key from `Proxy-Authorization`, or from `Authorization: Basic` for clients that
/// call the endpoint directly.
pub fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    super::auth::credentials(headers)
        .or_else(|| super::auth::basic_credentials(headers.get(header::AUTHORIZATION)?.to_str().ok()?))
}

/// Whether `path` is one of the endpoints agents call with their own key: this one, allowances, quotes.
pub fn is_agent_path(path: &str) -> bool {
    path.starts_with(PREFIX)
        || path.starts_with(super::allowance_api::PREFIX)
        || [super::quote_api::PATH, super::fetch_api::PATH, super::payments_api::PATH].contains(&path)
}

pub async fn handle(proxy: &Proxy, req: Request<Incoming>, request_id: &str) -> Result<Response<ProxyBody>, Failure> {
    let (name, key) = credentials(req.headers()).ok_or(Failure::ProxyAuthRequired)?;
    let agent = super::auth::check_agent(proxy, &name, &key).await?;
    match req.uri().path() {
        p if p.starts_with(super::allowance_api::PREFIX) => {
            return super::allowance_api::handle(proxy, &agent, req).await;
        }
        super::quote_api::PATH => return super::quote_api::handle(proxy, &agent, req).await,
        super::fetch_api::PATH => return super::fetch_api::handle(proxy, &agent, req, request_id).await,
        super::payments_api::PATH => return super::payments_api::handle(proxy, &agent, req).await,
        _ => {}
    }
    let path = req.uri().path().trim_end_matches('/');
    match (req.method(), path.strip_prefix(PREFIX).unwrap_or(path)) {
        (&Method::GET, "") => overview(proxy, &agent).await,
        (&Method::GET, "/prices") => {
            let query = req.uri().query().unwrap_or_default();
            let api = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "api").map(|(_, v)| v);
            let api = api.ok_or(Failure::BadRequest {
                reason: "bad_agent_call",
                detail: "say which API: /_purser/agent/prices?api=https://api.example.com".into(),
            })?;
            let origin = crate::pricing::fetch::origin_of(&api).ok_or_else(|| Failure::BadRequest {
                reason: "bad_agent_call",
                detail: format!("`{api}` is not an http(s) URL"),
            })?;
            let list = proxy.pricing.get(&origin).await;
            Ok(json_response(
                StatusCode::OK,
                json!({
                    "origin": origin,
                    "published": !list.is_empty(),
                    "prices": list.prices,
                    "free_tier": list.free_tier,
                    "payment_hints": list.payment_hints,
                    "read_at_ms": list.read_at_ms,
                    "tried": list.tried,
                }),
            ))
        }
        _ => Err(Failure::BadRequest {
            reason: "bad_agent_call",
            detail: format!(
                "no such agent call: {} {path}; try GET {PREFIX} or GET {PREFIX}/prices?api=URL",
                req.method()
            ),
        }),
    }
}

async fn overview(proxy: &Proxy, agent: &Agent) -> Result<Response<ProxyBody>, Failure> {
    let overview = agent_overview(proxy, agent).await.map_err(|e| Failure::Unavailable {
        reason: "ledger_unavailable".into(),
        detail: format!("Purser could not read its ledger: {e}"),
        retry_after_secs: 5,
    })?;
    Ok(json_response(StatusCode::OK, json!(overview)))
}

/// The budgets, thresholds and allowances that apply to `agent`, and whether it is paused.
pub async fn agent_overview(proxy: &Proxy, agent: &Agent) -> crate::ledger::Result<Overview> {
    let uses = proxy.budget_uses().await?;
    let paused_all = proxy.ledger.paused_all().await?;
    let now_ms = proxy.ledger.now_ms();
    let tz = proxy.ledger.policy().time_zone.clone();
    let budgets = uses
        .iter()
        .filter(|u| u.budget.scope.agent_id.is_none_or(|id| id == agent.id))
        .map(|u| {
            let resets_at_ms = u.budget.period.window_end_ms(now_ms, &tz);
            BudgetLeft {
                id: u.budget.id,
                applies_to: u.budget.scope.describe(),
                api: u.budget.scope.host.clone(),
                period: u.budget.period.kind().as_str().to_string(),
                rolling_hours: match u.budget.period {
                    crate::policy::Period::Rolling { hours } => Some(hours),
                    _ => None,
                },
                limit_msat: u.budget.limit.0,
                limit_fiat: u.budget.limit_fiat.clone(),
                used_fiat: u.used_fiat.clone(),
                used_msat: u.used.0,
                remaining_msat: u.remaining().0,
                resets_at_ms,
                resets_at: resets_at_ms
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                    .map(|t| t.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()),
                expires_at_ms: u.budget.expires_at_ms,
            }
        })
        .collect();
    let thresholds = proxy
        .thresholds_now()
        .await?
        .into_iter()
        .filter(|t| t.scope.agent_id.is_none_or(|id| id == agent.id))
        .map(|t| ThresholdView {
            applies_to: t.scope.describe(),
            api: t.scope.host.clone(),
            auto_approve_up_to_msat: t.auto_max.0,
            ask_up_to_msat: t.ask_max.0,
            confirm_above_msat: t.confirm_above.map(|m| m.0),
            set_in: t.fiat,
        })
        .collect();
    let allowances = proxy
        .ledger
        .allowances(Some(&agent.name), true, 100)
        .await?
        .into_iter()
        .filter(|a| matches!(a.state, AllowanceState::Requested | AllowanceState::Active | AllowanceState::Exhausted))
        .collect();
    Ok(Overview {
        agent: agent.name.clone(),
        paused: agent.paused || paused_all,
        budgets,
        thresholds,
        allowances,
        prices: format!("{PREFIX}/prices?api=URL"),
    })
}
