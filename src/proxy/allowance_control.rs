//! Task allowances on the control endpoint, for the CLI (`purser allowances`, `purser allowance …`):
//!
//! - `GET /_purser/allowances[?all=1]`: the open ones (or the last 100);
//! - `POST /_purser/allowances` `{"agent", "purpose", "max_sats" | "max_fiat", "max_sats_per_payment"? |
//!   "max_fiat_per_payment"?, "apis"?,
//!   "time_limit_secs"?, "passphrase"?}`: opens one for an agent, active at once;
//! - `POST /_purser/allowances/<id>/approve` `{"max_sats"? | "max_fiat"?, "time_limit_secs"?, "passphrase"? |
//!   "typed_sats"?}`, `…/deny`, `…/raise` `{"max_sats" | "max_fiat", "passphrase"?}`, `…/close` (a maximum
//!   in the allowance's own denomination: `"max_fiat": "1.50 USD"` for one set in dollars).

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use super::Proxy;
use super::control::{ControlError, json_response};
use crate::allowances::{self, AllowanceError, Decision};
use crate::consent::Proof;
use crate::http::body::ProxyBody;
use crate::ledger::allowances::{self as allowances_ledger, AllowanceAsk};

#[derive(Debug, Default, Deserialize)]
struct Body {
    agent: Option<String>,
    purpose: Option<String>,
    max_sats: Option<u64>,
    max_sats_per_payment: Option<u64>,
    /// Instead of the sats: "2.50 USD".
    max_fiat: Option<String>,
    max_fiat_per_payment: Option<String>,
    #[serde(default)]
    apis: Vec<String>,
    time_limit_secs: Option<u64>,
    #[serde(flatten)]
    proof: Proof,
}

fn failed(e: AllowanceError) -> ControlError {
    match e {
        AllowanceError::Consent(c) => ControlError::Consent(c),
        AllowanceError::Ledger(crate::ledger::Error::NotFound(what, id)) => {
            ControlError::NotFound(format!("no {what} #{id}"))
        }
        AllowanceError::Ledger(e) => ControlError::BadRequest(e.to_string()),
    }
}

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

pub(super) async fn route(
    proxy: &Proxy,
    req: Request<Incoming>,
    rest: &[&str],
) -> Result<Response<ProxyBody>, ControlError> {
    let method = req.method().clone();
    let all = req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "all=1"));
    let raw: Bytes = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body: Body = if raw.is_empty() {
        Body::default()
    } else {
        serde_json::from_slice(&raw).map_err(|e| ControlError::BadRequest(format!("the body is not valid: {e}")))?
    };
    let (ledger, events) = (&proxy.ledger, &proxy.events);
    let id = |s: &str| s.parse::<i64>().map_err(|_| ControlError::BadRequest(format!("`{s}` is not an allowance id")));
    let done = match (method, rest) {
        (Method::GET, []) => {
            let list = ledger.allowances(None, !all, 100).await.map_err(|e| failed(e.into()))?;
            return Ok(json_response(StatusCode::OK, json!(list)));
        }
        (Method::POST, []) => {
            let (max, per_payment_max, fiat) = allowances_ledger::maxima(
                body.max_sats,
                body.max_sats_per_payment,
                body.max_fiat.as_deref(),
                body.max_fiat_per_payment.as_deref(),
            )
            .map_err(|e| failed(e.into()))?;
            let ask = AllowanceAsk {
                agent: body.agent.ok_or_else(|| ControlError::BadRequest("name the agent".into()))?,
                purpose: body.purpose.unwrap_or_default(),
                max,
                per_payment_max,
                apis: body.apis,
                duration_ms: secs_to_ms(body.time_limit_secs.unwrap_or(super::allowance_api::DEFAULT_TIME_LIMIT_SECS)),
                plan: None,
                fiat,
            };
            allowances::open(proxy, &ask, &body.proof).await
        }
        (Method::POST, [n, action @ ("approve" | "deny")]) => {
            let decision = Decision {
                approve: *action == "approve",
                max: allowances_ledger::new_max(body.max_sats, body.max_fiat.as_deref())
                    .map_err(|e| failed(e.into()))?,
                duration_ms: body.time_limit_secs.map(secs_to_ms),
                proof: body.proof,
            };
            allowances::answer(proxy, id(n)?, decision).await
        }
        (Method::POST, [n, "raise"]) => {
            let max = allowances_ledger::new_max(body.max_sats, body.max_fiat.as_deref())
                .map_err(|e| failed(e.into()))?
                .ok_or_else(|| ControlError::BadRequest("say the new maximum: max_sats, or max_fiat".into()))?;
            allowances::raise(proxy, id(n)?, max, &body.proof).await
        }
        (Method::POST, [n, "close"]) => allowances::close(ledger, events, id(n)?).await,
        (m, _) => return Err(ControlError::NotFound(format!("{m} /_purser/allowances/{}", rest.join("/")))),
    };
    Ok(json_response(StatusCode::OK, json!(done.map_err(failed)?)))
}
