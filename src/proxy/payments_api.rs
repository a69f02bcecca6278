//! An agent's own payments, on the proxy's own port: `GET /_purser/payments[?api=HOST&status=S&since=T&limit=N]`
//! (the agent's own key) answers its payments newest first ([`PaymentList`]): `api` a host as the ledger
//! names it, `status` one of the payment statuses, `since` RFC 3339 or ms since the epoch, `limit` at most
//! 200 (default 20). Other agents' payments are never listed.

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::Proxy;
use super::agent_api::json_response;
use super::answers::{AgentPayment, PaymentList};
use super::refusal::Failure;
use crate::http::body::ProxyBody;
use crate::ledger::agents::Agent;
use crate::ledger::queries::PaymentFilter;
use crate::ledger::status::PaymentStatus;

/// The path of the payments endpoint.
pub const PATH: &str = "/_purser/payments";

/// The most payments one answer lists.
pub const MAX_LIMIT: i64 = 200;

/// The filters an agent may set, as strings (from a query or a tool's arguments).
#[derive(Debug, Clone, Default)]
pub struct Asked {
    pub api: Option<String>,
    pub status: Option<String>,
    pub since: Option<String>,
    pub limit: Option<i64>,
}

fn bad(detail: impl Into<String>) -> Failure {
    Failure::BadRequest { reason: "bad_payments_call", detail: detail.into() }
}

pub async fn handle(proxy: &Proxy, agent: &Agent, req: Request<Incoming>) -> Result<Response<ProxyBody>, Failure> {
    if req.method() != Method::GET {
        return Err(bad(format!("send GET {PATH}[?api=HOST&status=settled&since=2026-12-01T00:00:00Z&limit=20]")));
    }
    let mut asked = Asked::default();
    for (k, v) in url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "api" => asked.api = Some(v.into_owned()),
            "status" => asked.status = Some(v.into_owned()),
            "since" => asked.since = Some(v.into_owned()),
            "limit" => asked.limit = Some(v.parse().map_err(|_| bad(format!("limit `{v}` is not a number")))?),
            other => return Err(bad(format!("no such filter `{other}`: use api, status, since or limit"))),
        }
    }
    let (filter, limit) = filter(agent, &asked)?;
    let rows = proxy.ledger.payments_matching(&filter, limit).await.map_err(|e| Failure::Unavailable {
        reason: "ledger_unavailable".into(),
        detail: format!("Purser could not read its ledger: {e}"),
        retry_after_secs: 5,
    })?;
    let list = PaymentList { payments: rows.into_iter().map(AgentPayment::from).collect() };
    Ok(json_response(StatusCode::OK, json!(list)))
}

/// The ledger's name for an API named by host (`api.example.com:8443`) or by URL (`https://api.example.com/x`).
fn api_host(api: &str) -> String {
    let authority = api.split_once("://").map_or(api, |(_, rest)| rest);
    crate::policy::scope::normalize_host(authority.split('/').next().unwrap_or_default())
}

/// The ledger filter for `asked`, always limited to `agent`'s own payments, and the row limit.
fn filter(agent: &Agent, asked: &Asked) -> Result<(PaymentFilter, i64), Failure> {
    let status = match asked.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(PaymentStatus::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = PaymentStatus::ALL.iter().map(|s| s.as_str()).collect();
            bad(format!("status `{s}` is not one of {}", names.join(", ")))
        })?),
    };
    let from_ms = match asked.since.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<jiff::Timestamp>().ok().map(|t| t.as_millisecond()))
                .ok_or_else(|| {
                    bad(format!("since `{s}` is neither RFC 3339 (2026-12-01T00:00:00Z) nor ms since the epoch"))
                })?,
        ),
    };
    let limit = asked.limit.unwrap_or(20);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let filter = PaymentFilter {
        agent: Some(agent.name.clone()),
        host: asked.api.as_deref().filter(|a| !a.is_empty()).map(api_host),
        status,
        from_ms,
        ..PaymentFilter::default()
    };
    Ok((filter, limit))
}
