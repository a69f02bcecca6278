//! The one place where a failure becomes an HTTP answer to the agent. Refused payments are `402` with the
//! upstream's challenge headers kept, `Purser-Refused: <reason>` and an `application/problem+json` body;
//! a wallet or relay that is down is `503` with `Retry-After`; an unreachable upstream is `502`. Never a bare
//! 500.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use serde_json::json;

use crate::http::body::{ProxyBody, full};
pub use crate::http::failure::Failure;

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::ProxyAuthRequired => StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            Failure::AuthRequired => StatusCode::UNAUTHORIZED,
            Failure::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Failure::NotFound { .. } => StatusCode::NOT_FOUND,
            Failure::Forbidden { .. } => StatusCode::FORBIDDEN,
            Failure::Refused { .. } => StatusCode::PAYMENT_REQUIRED,
            Failure::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Failure::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Failure::GatewayTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
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
        Failure::AuthRequired => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Purser\""));
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
