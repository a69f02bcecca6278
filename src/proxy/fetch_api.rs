//! A paid fetch on an agent's behalf, for agents that cannot set a proxy and for the MCP `fetch` tool:
//! `POST /_purser/fetch` [`FetchAsk`] on the proxy's own port (the agent's own key) sends the request through
//! the same flow as a proxied one — kept proofs, policy, approvals, the ledger row before the wallet — and
//! answers the API's response as JSON with the payment it made or was refused ([`FetchAnswer`]).
//!
//! The whole response is read (so a paid answer counts as delivered); the body handed back is cut at
//! `max_body_bytes` with a note.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Proxy;
use super::agent_api::json_response;
use super::answers::{AgentPayment, BodyEncoding, FetchAnswer, Problem};
use super::refusal::{self, Failure};
use crate::http::body::{ProxyBody, RequestBody};
use crate::ledger::agents::Agent;

/// The path of the fetch endpoint.
pub const PATH: &str = "/_purser/fetch";

/// The body handed back when the agent names no size.
pub const DEFAULT_BODY_BYTES: usize = 64 * 1024;

/// The most body one answer holds.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Past this much, the rest of a response is not read.
const READ_AT_MOST_BYTES: usize = 64 * 1024 * 1024;

/// One request an agent asks Purser to send.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchAsk {
    /// The HTTP method; GET when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The full http:// or https:// URL to request.
    pub url: String,
    /// Request headers to send, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A text request body (UTF-8), e.g. JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A binary request body, base64-encoded (instead of `body`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// The most this request may pay, in sats (the invoice's amount, the routing fee apart). A higher price
    /// is refused without asking anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sats: Option<u64>,
    /// The id of an active task allowance to pay from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowance: Option<i64>,
    /// Why this call is worth paying for, in a sentence: shown to the person when they are asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Cut the response body handed back after this many bytes (default 65536, at most 1048576).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
}

fn bad(detail: impl Into<String>) -> Failure {
    Failure::BadRequest { reason: "bad_fetch_call", detail: detail.into() }
}

pub async fn handle(
    proxy: &Proxy,
    agent: &Agent,
    req: Request<Incoming>,
    request_id: &str,
) -> Result<Response<ProxyBody>, Failure> {
    if req.method() != Method::POST {
        return Err(bad(format!("send POST {PATH} with {{\"url\": \"https://…\", \"max_sats\": 10}}")));
    }
    let body = super::allowance_api::read_body_up_to(req, MAX_BODY_BYTES + 64 * 1024).await?;
    let ask: FetchAsk = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("the body is not a fetch request ({e}); send {{\"url\": \"https://…\"}}")))?;
    let answer = fetch(proxy, agent, ask, request_id).await?;
    Ok(json_response(StatusCode::OK, json!(answer)))
}

/// Sends `ask` as `agent` and reads the answer; `Err` only for a request that cannot be sent as asked.
pub async fn fetch(proxy: &Proxy, agent: &Agent, ask: FetchAsk, request_id: &str) -> Result<FetchAnswer, Failure> {
    let keep = ask.max_body_bytes.unwrap_or(DEFAULT_BODY_BYTES).min(MAX_BODY_BYTES);
    let (target, parts, body) = request(&ask)?;
    let (resp, problem) = match super::handler::send_and_pay(proxy, agent, target, parts, body, request_id).await {
        Ok(resp) => (resp, None),
        Err(failure @ Failure::BadRequest { .. }) => return Err(failure),
        Err(failure) => {
            let problem = Problem { reason: failure.reason().to_string(), detail: failure.detail().to_string() };
            (refusal::response(&failure, request_id), Some(problem))
        }
    };
    let (parts, body) = resp.into_parts();
    let (kept, total, ended) = read_body(body, keep, proxy.settings.upstream_timeout).await;
    let payment = proxy
        .ledger
        .payments_of_request(agent.id, request_id)
        .await
        .ok()
        .and_then(|rows| rows.into_iter().last())
        .map(AgentPayment::from);
    let (text, encoding, kept_len) = encode(kept);
    let truncated = total > kept_len || ended != BodyEnd::Complete;
    let idle_secs = proxy.settings.upstream_timeout.as_secs();
    let note = match ended {
        BodyEnd::Complete if truncated => Some(format!(
            "the body ({total} bytes) is cut at {kept_len} bytes; ask with a larger max_body_bytes (up to {MAX_BODY_BYTES})"
        )),
        BodyEnd::Complete => None,
        BodyEnd::Broken => Some(format!("the API broke off the body after {total} bytes")),
        BodyEnd::Stalled => Some(format!("the API sent nothing more for {idle_secs} s after {total} bytes")),
        BodyEnd::TooLong => Some(format!("Purser stopped reading the body after {total} bytes")),
    };
    Ok(FetchAnswer {
        request_id: request_id.to_string(),
        status: parts.status.as_u16(),
        headers: header_map(&parts.headers),
        body: text,
        body_encoding: encoding,
        body_bytes: kept_len,
        truncated,
        note,
        payment,
        problem,
    })
}

/// The request `ask` describes, or what is wrong with it.
fn request(ask: &FetchAsk) -> Result<(crate::http::target::Target, http::request::Parts, RequestBody), Failure> {
    let uri: http::Uri = ask.url.parse().map_err(|_| bad(format!("`{}` is not a URL", ask.url)))?;
    let target = crate::http::target::resolve(&uri)
        .ok()
        .filter(|t| matches!(t.scheme.as_str(), "http" | "https"))
        .ok_or_else(|| bad(format!("`{}` is not an http:// or https:// URL", ask.url)))?;
    let method = Method::from_bytes(ask.method.as_deref().unwrap_or("GET").to_ascii_uppercase().as_bytes())
        .map_err(|_| bad(format!("`{}` is not an HTTP method", ask.method.as_deref().unwrap_or_default())))?;
    let body = match (&ask.body, &ask.body_base64) {
        (Some(_), Some(_)) => return Err(bad("send either body or body_base64, not both")),
        (Some(text), None) => Bytes::from(text.clone()),
        (None, Some(b64)) => Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| bad(format!("body_base64 is not base64: {e}")))?,
        ),
        (None, None) => Bytes::new(),
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &ask.headers {
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad(format!("`{name}` is not a header name")))?;
        let value =
            HeaderValue::from_str(value).map_err(|_| bad(format!("the value of `{name}` is not a header value")))?;
        headers.append(name, value);
    }
    if ask.allowance.is_some_and(|id| id <= 0) {
        return Err(bad("allowance must be an allowance's id, e.g. 3"));
    }
    // The reason goes as UTF-8 bytes (any language, dashes and quotes), control characters dropped.
    let reason = ask.reason.as_ref().map(|r| r.chars().filter(|c| !c.is_control()).collect::<String>());
    let own = [
        ("purser-max-sats", ask.max_sats.map(|s| s.to_string())),
        ("purser-allowance", ask.allowance.map(|id| id.to_string())),
        ("purser-reason", reason),
    ];
    for (name, value) in own {
        if let Some(value) = value {
            let value = HeaderValue::from_bytes(value.as_bytes())
                .map_err(|_| bad(format!("`{value}` cannot be sent as {name}")))?;
            headers.insert(name, value);
        }
    }
    if !body.is_empty() && !headers.contains_key(http::header::CONTENT_LENGTH) {
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let mut req = Request::new(());
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    Ok((target, req.into_parts().0, RequestBody::Replayable(body)))
}

/// How reading a response body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyEnd {
    Complete,
    /// The API closed or reset the connection mid-body.
    Broken,
    /// Nothing came for the idle limit.
    Stalled,
    /// Past [`READ_AT_MOST_BYTES`].
    TooLong,
}

/// The first `keep` bytes of `body`, how many bytes were read in all, and how reading ended; a body that
/// sends nothing for `idle` is given up on.
async fn read_body(mut body: ProxyBody, keep: usize, idle: std::time::Duration) -> (Vec<u8>, usize, BodyEnd) {
    let mut kept = Vec::new();
    let mut total = 0usize;
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return (kept, total, BodyEnd::Stalled),
            Ok(None) => return (kept, total, BodyEnd::Complete),
            Ok(Some(Err(_))) => return (kept, total, BodyEnd::Broken),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            let room = keep.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..room.min(data.len())]);
            total += data.len();
            if total > READ_AT_MOST_BYTES {
                return (kept, total, BodyEnd::TooLong);
            }
        }
    }
}

/// `bytes` as text when it is UTF-8 (a character cut at the end is dropped), else base64; with its length.
fn encode(mut bytes: Vec<u8>) -> (String, BodyEncoding, usize) {
    match std::str::from_utf8(&bytes) {
        Ok(_) => {}
        Err(e) if e.error_len().is_none() && bytes.len() - e.valid_up_to() < 4 => bytes.truncate(e.valid_up_to()),
        Err(_) => {
            let len = bytes.len();
            return (base64::engine::general_purpose::STANDARD.encode(&bytes), BodyEncoding::Base64, len);
        }
    }
    let len = bytes.len();
    (String::from_utf8(bytes).unwrap_or_default(), BodyEncoding::Text, len)
}

fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(name.as_str().to_string()).and_modify(|v| *v = format!("{v}, {value}")).or_insert(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_text_unless_they_are_not_utf8() {
        assert_eq!(encode(b"hello".to_vec()), ("hello".into(), BodyEncoding::Text, 5));
        // "é" is two bytes; cut after the first, the half character is dropped rather than turning the body
        // into base64.
        assert_eq!(encode(vec![b'a', 0xC3]), ("a".into(), BodyEncoding::Text, 1));
        assert_eq!(encode(vec![0xFF, 0x00, 0x01]), ("/wAB".into(), BodyEncoding::Base64, 3));
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let ask = |url: &str| FetchAsk {
            method: None,
            url: url.into(),
            headers: BTreeMap::new(),
            body: None,
            body_base64: None,
            max_sats: None,
            allowance: None,
            reason: None,
            max_body_bytes: None,
        };
        let detail = |a: &FetchAsk| request(a).err().map(|f| f.detail().to_string()).unwrap_or_default();
        assert!(detail(&ask("ftp://example.com/x")).contains("not an http"));
        assert!(detail(&ask("not a url")).contains("not a URL") || detail(&ask("not a url")).contains("not an http"));
        let mut both = ask("http://example.com/");
        both.body = Some("a".into());
        both.body_base64 = Some("YQ==".into());
        assert!(detail(&both).contains("not both"));
        let mut header = ask("http://example.com/");
        header.headers.insert("bad header".into(), "x".into());
        assert!(detail(&header).contains("not a header name"));
        let mut zero = ask("http://example.com/");
        zero.allowance = Some(0);
        assert!(detail(&zero).contains("allowance must be"));
        let mut ok = ask("http://example.com/paid");
        ok.max_sats = Some(5);
        ok.reason = Some("un résumé — «vite»\n".into());
        let (_, parts, _) = request(&ok).unwrap();
        assert_eq!(parts.method, Method::GET);
        assert_eq!(parts.headers["purser-max-sats"], "5");
        assert_eq!(parts.headers["purser-reason"].as_bytes(), "un résumé — «vite»".as_bytes());
    }
}
