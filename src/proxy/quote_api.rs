//! Quotes: what a list of planned calls would cost and what today's policy would do with each, before an
//! agent starts a task. `POST /_purser/quote` `{"calls": [{"method"?, "url", "count"?}]}` on the proxy's own
//! port (the agent's own key) answers, per call, the published price (the API's pricing documents; for a
//! formula or dynamic price in its L402 discovery document, what its quote endpoint says now), the usual
//! price (median and highest of the agent's own last 20 settled payments to that endpoint) and the policy's
//! decision for one such call; and a total as a range (lowest, expected, highest) naming its sources and the
//! calls with no known price. Nothing is paid, no payment row is written, no wallet is asked. With
//! `"probe": true`, a GET or HEAD call with no known price is sent once, unpaid, and the price its `402`
//! asks is read (`probed_msat`); only when the agent asks, and never with a body.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Proxy;
use super::agent_api::json_response;
use super::answers::{PolicyView, Quote, QuoteLine, QuoteTotal};
use super::refusal::Failure;
use crate::http::body::ProxyBody;
use crate::ledger::agents::Agent;
use crate::ledger::payments::NewPayment;
use crate::policy::{Decision, Rules};
use crate::pricing::PriceModel;
use crate::units::Msats;

/// The path of the quote endpoint.
pub const PATH: &str = "/_purser/quote";

/// `published_source` of a price the API's quote endpoint gave for the call just now.
const QUOTED: &str = "quote endpoint";

/// The most calls one quote covers.
pub const MAX_CALLS: usize = 100;

/// One planned call.
#[derive(Debug, Clone)]
pub struct PlannedCall {
    pub method: String,
    pub url: String,
    pub count: u64,
    pub target: crate::http::target::Target,
}

/// One planned call in a quote or an allowance request.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PlannedCallAsk {
    /// GET when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The full URL of the call.
    pub url: String,
    /// How many such calls are planned (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// What an agent asks a quote for: `POST /_purser/quote` and the MCP `quote` tool.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteAsk {
    /// The calls the task plans to make.
    pub calls: Vec<PlannedCallAsk>,
    /// For a GET call with no known price, send one unpaid request and read the price its 402 asks.
    #[serde(default)]
    pub probe: bool,
}

/// The planned calls in an agent's list, or what is wrong with it.
pub fn planned_calls(items: &[PlannedCallAsk]) -> Result<Vec<PlannedCall>, String> {
    if items.len() > MAX_CALLS {
        return Err(format!("a quote covers at most {MAX_CALLS} different calls"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let url = item.url.as_str();
            let uri: http::Uri = url.parse().map_err(|_| format!("call {}: `{url}` is not a URL", i + 1))?;
            let target = crate::http::target::resolve(&uri)
                .ok()
                .filter(|t| matches!(t.scheme.as_str(), "http" | "https"))
                .ok_or_else(|| format!("call {}: `{url}` is not an http(s) URL", i + 1))?;
            let method = item.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
            let count = item.count.unwrap_or(1).clamp(1, 1_000_000);
            Ok(PlannedCall { method, url: url.to_string(), count, target })
        })
        .collect()
}

pub async fn handle(proxy: &Proxy, agent: &Agent, req: Request<Incoming>) -> Result<Response<ProxyBody>, Failure> {
    let bad = |detail: String| Failure::BadRequest { reason: "bad_quote_call", detail };
    if req.method() != http::Method::POST {
        return Err(bad(format!("send POST {PATH} with {{\"calls\": [{{\"url\": \"…\", \"count\": 20}}]}}")));
    }
    let body = super::allowance_api::read_body(req).await?;
    let example = "{\"calls\": [{\"url\": \"…\", \"count\": 20}]}";
    let asked: QuoteAsk = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("the body is not a quote request ({e}); send {example}")))?;
    let calls = planned_calls(&asked.calls).map_err(bad)?;
    if calls.is_empty() {
        return Err(bad(format!("name the calls to quote: {example}")));
    }
    let quote = quote(proxy, agent, &calls, asked.probe).await.map_err(|e| Failure::Unavailable {
        reason: "ledger_unavailable".into(),
        detail: format!("Purser could not read its ledger: {e}"),
        retry_after_secs: 5,
    })?;
    Ok(json_response(StatusCode::OK, json!(quote)))
}

/// The quote for `calls` by `agent`.
pub async fn quote(proxy: &Proxy, agent: &Agent, calls: &[PlannedCall], probe: bool) -> crate::ledger::Result<Quote> {
    // All at once: a call may wait on its API's documents or quote endpoint.
    let lines =
        futures_util::future::try_join_all(calls.iter().map(|call| quote_one(proxy, agent, call, probe))).await?;
    let mut total = QuoteTotal::default();
    let mut sources = std::collections::BTreeSet::new();
    for (call, line) in calls.iter().zip(&lines) {
        match (line.lowest_msat, line.expected_msat, line.highest_msat) {
            (Some(lo), Some(ex), Some(hi)) => {
                total.lowest_msat = total.lowest_msat.saturating_add(lo.saturating_mul(call.count));
                total.expected_msat = total.expected_msat.saturating_add(ex.saturating_mul(call.count));
                total.highest_msat = total.highest_msat.saturating_add(hi.saturating_mul(call.count));
            }
            _ => total.unpriced.push(format!("{} {}", call.method, call.url)),
        }
        match line.published_source.as_deref() {
            Some(QUOTED) => sources.insert("the APIs' quotes"),
            Some(_) => sources.insert("published prices"),
            None => false,
        };
        if line.usual.is_some() {
            sources.insert("the ledger's recent payments");
        }
    }
    total.sources = sources.into_iter().map(String::from).collect();
    Ok(Quote { calls: lines, total, paid: false })
}

async fn quote_one(proxy: &Proxy, agent: &Agent, call: &PlannedCall, probe: bool) -> crate::ledger::Result<QuoteLine> {
    let host = crate::policy::scope::normalize_host(&call.target.authority);
    let path = call.target.path().to_string();
    let list = proxy.pricing.get(&call.target.origin()).await;
    let published = list.price_for(&call.method, &path).cloned();
    let usual = proxy.ledger.recent_prices(agent.id, &host, &path).await?;
    // A fixed price is the price; a formula or dynamic one is what the API's quote endpoint says now.
    let (published_msat, published_source) = match published {
        Some(p) if p.model == PriceModel::Fixed => (Some(p.price_msat), Some(p.source)),
        Some(p) => {
            let now_s = proxy.ledger.now_ms() / 1000;
            match proxy.pricing.quote(&call.target.origin(), &p, now_s).await {
                Ok(quote) => (Some(quote.0), Some(QUOTED.to_string())),
                Err(e) => {
                    tracing::info!(url = %call.url, "no quote for a planned call: {e}");
                    (None, None)
                }
            }
        }
        None => (None, None),
    };
    let probed = match (published_msat, &usual, probe) {
        (None, None, true) => Some(probe_price(proxy, call).await),
        _ => None,
    };
    let probed_msat = probed.as_ref().and_then(|p| p.as_ref().ok().copied());
    let expected = published_msat.or(usual.as_ref().map(|u| u.median_msat)).or(probed_msat);
    let known =
        [published_msat, usual.as_ref().map(|u| u.median_msat), usual.as_ref().map(|u| u.highest_msat), probed_msat];
    let policy = match expected {
        Some(amount) => {
            let mut p = NewPayment {
                request_id: String::new(),
                agent_id: agent.id,
                agent: agent.name.clone(),
                method: call.method.clone(),
                scheme: call.target.scheme.clone(),
                host: host.clone(),
                path: path.clone(),
                challenge_kind: String::new(),
                amount: Some(Msats(amount)),
                payment_hash: None,
                invoice: None,
                advertised: published_msat.map(Msats),
                proof_prefix: None,
                allowance: None,
                agent_reason: None,
                rates: Default::default(),
            };
            p.rates = crate::flow::Flow::new(proxy).rates_for(&p, None).await;
            policy_view(proxy.ledger.evaluate(&p, &Rules).await?)
        }
        None => PolicyView {
            decision: "unknown".into(),
            reason: None,
            explanation: "no published or usual price: Purser cannot tell".into(),
        },
    };
    Ok(QuoteLine {
        method: call.method.clone(),
        url: call.url.clone(),
        count: call.count,
        api: host,
        path,
        published_msat,
        published_source,
        usual,
        probed_msat,
        probe: probed.map(|p| p.err().unwrap_or_else(|| "one unpaid request: its 402 asked this".into())),
        lowest_msat: known.iter().flatten().min().copied(),
        expected_msat: expected,
        highest_msat: known.iter().flatten().max().copied(),
        policy,
    })
}

/// The price one unpaid request to `call` is asked (`0` when it is answered without a `402`), or why not.
async fn probe_price(proxy: &Proxy, call: &PlannedCall) -> Result<u64, String> {
    if !matches!(call.method.as_str(), "GET" | "HEAD") {
        return Err("not probed: only GET and HEAD calls are sent unpaid".into());
    }
    let req = Request::builder()
        .method(call.method.as_str())
        .uri(&call.target.uri)
        .body(crate::http::body::empty())
        .map_err(|e| format!("not probed: {e}"))?;
    let sent = tokio::time::timeout(proxy.settings.upstream_timeout, proxy.client().request(req)).await;
    let resp = match sent {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => return Err(format!("the probe could not reach the API: {e}")),
        Err(_) => return Err("the probe timed out".into()),
    };
    if resp.status() != StatusCode::PAYMENT_REQUIRED {
        return if resp.status().is_success() {
            Ok(0)
        } else {
            Err(format!("the probe was answered {}", resp.status()))
        };
    }
    let (parts, body) = resp.into_parts();
    let limit = proxy.settings.challenge_body_limit_bytes;
    let (head, _) = crate::http::body::read_bounded(body, limit).await.map_err(|e| format!("the probe's 402: {e}"))?;
    let ch = crate::challenge::parse(&parts.headers, &head).map_err(|e| format!("the probe's 402: {e}"))?;
    let invoice = crate::invoice::reader::read(&ch.invoice).map_err(|e| format!("the probe's invoice: {e:?}"))?;
    invoice.amount.map(|a| a.0).ok_or_else(|| "the probe's invoice names no amount".into())
}

/// What the policy would do with one call, as the quote says it.
fn policy_view(d: Decision) -> PolicyView {
    let (decision, reason, explanation) = match d {
        Decision::Allow(why) => ("pay", None, why),
        Decision::Ask { why, confirm: false } => ("ask", None, why),
        Decision::Ask { why, confirm: true } => ("confirm", None, why),
        Decision::Refuse { reason, explanation, .. } => ("refuse", Some(reason.to_string()), explanation),
    };
    PolicyView { decision: decision.into(), reason, explanation }
}
