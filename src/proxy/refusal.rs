//! The one place where a failure becomes an HTTP answer to the agent. Refused payments are `402` with the
//! upstream's challenge headers kept, `Purser-Refused: <reason>` and an `application/problem+json` body;
//! a wallet or relay that is down is `503` with `Retry-After`; an unreachable upstream is `502`. Never a bare
//! 500.

use http::header::{self, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use serde_json::json;

use super::body::{ProxyBody, full};

/// Everything that ends a proxied request without an upstream answer.
#[derive(Debug, Clone)]
pub enum Failure {
    /// No valid agent key: `407`.
    ProxyAuthRequired,
    /// The request is not for an upstream Purser can reach: `400`.
    BadRequest { reason: &'static str, detail: String },
    /// Purser decided not to pay, or could not read what to pay: `402`. `details` (an object, or null)
    /// carries the deciding budget or threshold in machine-readable form.
    Refused { reason: String, detail: String, challenge: Box<HeaderMap>, details: serde_json::Value },
    /// Try again later (wallet or relay down, payment in flight, ledger busy): `503` + `Retry-After`.
    Unavailable { reason: String, detail: String, retry_after_secs: u64 },
    /// The upstream could not be reached or answered wrongly: `502`.
    BadGateway { reason: &'static str, detail: String },
    /// The upstream did not answer in time: `504`.
    GatewayTimeout { detail: String },
}

impl Failure {
    pub fn reason(&self) -> &str {
        match self {
            Failure::ProxyAuthRequired => "proxy_auth_required",
            Failure::BadRequest { reason, .. } | Failure::BadGateway { reason, .. } => reason,
            Failure::Refused { reason, .. } | Failure::Unavailable { reason, .. } => reason,
            Failure::GatewayTimeout { .. } => "upstream_timeout",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Failure::ProxyAuthRequired => StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            Failure::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Failure::Refused { .. } => StatusCode::PAYMENT_REQUIRED,
            Failure::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Failure::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Failure::GatewayTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    fn detail(&self) -> &str {
        match self {
            Failure::ProxyAuthRequired => {
                "Purser needs the agent's name and key: Proxy-Authorization: Basic base64(name:key), \
                 e.g. HTTP_PROXY=http://NAME:KEY@127.0.0.1:8402. Create one with `purser agent add NAME`."
            }
            Failure::BadRequest { detail, .. }
            | Failure::Refused { detail, .. }
            | Failure::Unavailable { detail, .. }
            | Failure::BadGateway { detail, .. }
            | Failure::GatewayTimeout { detail } => detail,
        }
    }
}

/// The answer for `failure`; `request_id` is repeated in the body so a pasted body is enough to trace it.
pub fn response(failure: &Failure, request_id: &str) -> Response<ProxyBody> {
    let status = failure.status();
    let mut body = json!({
        "type": format!("https://purser.dev/problems/{}", failure.reason()),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "reason": failure.reason(),
        "detail": failure.detail(),
        "request_id": request_id,
    });
    if let (Failure::Refused { details: serde_json::Value::Object(extra), .. }, Some(body)) =
        (failure, body.as_object_mut())
    {
        for (k, v) in extra {
            body.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let mut resp = Response::new(full(body.to_string()));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    match failure {
        Failure::ProxyAuthRequired => {
            headers.insert(header::PROXY_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Purser\""));
        }
        Failure::Refused { reason, challenge, .. } => {
            for value in challenge.get_all(header::WWW_AUTHENTICATE) {
                headers.append(header::WWW_AUTHENTICATE, value.clone());
            }
            if let Ok(v) = HeaderValue::from_str(reason) {
                headers.insert("purser-refused", v);
            }
        }
        Failure::Unavailable { retry_after_secs, .. } => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        _ => {}
    }
    resp
}
