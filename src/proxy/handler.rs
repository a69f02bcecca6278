//! One agent request, start to end: identify the agent, find the upstream, send (with a kept credential if
//! there is one), and on a `402` pay and retry with the proof. Answers stream to the agent as they arrive.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use rand::RngCore;

use super::body::{self, ProxyBody, RequestBody};
use super::payer::PayContext;
use super::refusal::{self, Failure};
use super::target::{self, Target};
use super::timing::{Timing, Wait};
use super::{Proxy, agent_api, auth, control, dry_run, headers, intercept, proof, upgrade};
use crate::challenge;
use crate::ledger::agents::Agent;
use crate::policy::clock::Clock;

/// A new request id: time-ordered, unique enough to find one request in the ledger.
pub fn new_request_id() -> String {
    let now_ms = crate::policy::clock::SystemClock.now_ms();
    format!("req_{now_ms:011x}{:08x}", rand::thread_rng().next_u32())
}

/// The service function: every request gets an answer and a `Purser-Request-Id`.
pub async fn handle(proxy: Arc<Proxy>, req: Request<Incoming>) -> Result<Response<ProxyBody>, Infallible> {
    let request_id = new_request_id();
    let result = serve(&proxy, req, &request_id).await;
    Ok(answer(result, &request_id))
}

/// The service function for a request inside a `CONNECT` tunnel to `authority`. The agent's name and key
/// from the `CONNECT` are checked again for every request, so a rotated key stops an open tunnel too.
pub async fn handle_inside(
    proxy: Arc<Proxy>,
    credentials: Arc<(String, String)>,
    scheme: &'static str,
    authority: http::uri::Authority,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let request_id = new_request_id();
    let result = match target::inside_tunnel(scheme, &authority, req.uri()) {
        Ok(target) => match check_agent(&proxy, &credentials.0, &credentials.1).await {
            Ok(agent) => forward(&proxy, &agent, target, req, &request_id).await,
            Err(failure) => Err(failure),
        },
        Err(e) => Err(Failure::BadRequest { reason: "not_proxied", detail: e.to_string() }),
    };
    Ok(answer(result, &request_id))
}

fn answer(result: Result<Response<ProxyBody>, Failure>, request_id: &str) -> Response<ProxyBody> {
    let mut resp = match result {
        Ok(resp) => resp,
        Err(failure) => {
            tracing::info!(request_id, reason = failure.reason(), "request ended by Purser");
            refusal::response(&failure, request_id)
        }
    };
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("purser-request-id", v);
    }
    resp
}

async fn serve(proxy: &Arc<Proxy>, req: Request<Incoming>, request_id: &str) -> Result<Response<ProxyBody>, Failure> {
    if req.uri().authority().is_none() && !loopback_host(req.headers()) {
        // A web page that rebinds its own name to 127.0.0.1 reaches the gateway, control and agent endpoints
        // with its own name in `Host`: such requests are not answered.
        return Err(Failure::BadRequest {
            reason: "host_not_allowed",
            detail: "Purser answers requests addressed to its loopback address only (Host: 127.0.0.1, [::1] or \
                     localhost)"
                .into(),
        });
    }
    if is_own(proxy, req.uri()) {
        if req.uri().path().starts_with(agent_api::PREFIX) {
            return agent_api::handle(proxy, req).await;
        }
        if req.uri().path().starts_with(control::PREFIX) {
            return Ok(control::handle(proxy, req).await);
        }
    }
    let agent = authenticate(proxy, req.headers()).await?;
    if req.method() == Method::CONNECT {
        let credentials = auth::credentials(req.headers()).ok_or(Failure::ProxyAuthRequired)?;
        return intercept::connect(proxy.clone(), agent, credentials, req).await;
    }
    let target =
        target::resolve(req.uri()).map_err(|e| Failure::BadRequest { reason: "not_proxied", detail: e.to_string() })?;
    forward(proxy, &agent, target, req, request_id).await
}

/// Whether `uri` is for Purser itself: origin-form, or absolute-form naming this proxy's own address (an
/// agent whose `HTTP_PROXY` sends every request through Purser).
fn is_own(proxy: &Proxy, uri: &Uri) -> bool {
    let Some(authority) = uri.authority() else {
        return true;
    };
    let Some(own) = proxy.local_addr.get() else {
        return false;
    };
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    let ours =
        host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback() || ip == own.ip());
    ours && authority.port_u16() == Some(own.port())
}

/// Whether the `Host` header (absent in HTTP/1.0) names a loopback address.
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let Some(authority) = host.to_str().ok().and_then(|h| h.parse::<http::uri::Authority>().ok()) else {
        return false;
    };
    let name = authority.host().trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `Purser-Max-Sats: N`, in msat; a value that is not a whole number of sats is the agent's mistake.
fn max_msat(headers: &HeaderMap) -> Result<Option<u64>, Failure> {
    let Some(value) = headers.get("purser-max-sats") else {
        return Ok(None);
    };
    value.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()).map(|sats| Some(sats.saturating_mul(1000))).ok_or(
        Failure::BadRequest {
            reason: "bad_max_sats",
            detail: "Purser-Max-Sats must be a whole number of sats, e.g. `Purser-Max-Sats: 50`".into(),
        },
    )
}

/// What the server said after a paid retry: MPP `Payment-Receipt` (base64url JSON) or x402
/// `PAYMENT-RESPONSE` (base64 JSON), decoded when it decodes, kept as sent (bounded) otherwise.
fn receipt(headers: &HeaderMap) -> Option<String> {
    let raw = ["payment-receipt", "payment-response", "x-payment-response"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|v| v.to_str().ok())?;
    let decoded = crate::challenge::decode_base64(raw)
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .map(|v| v.to_string());
    Some(decoded.unwrap_or_else(|| raw.chars().take(2048).collect()))
}

/// Sends one agent request to `target`, paying a `402` on the way if policy allows.
async fn forward(
    proxy: &Proxy,
    agent: &Agent,
    target: Target,
    req: Request<Incoming>,
    request_id: &str,
) -> Result<Response<ProxyBody>, Failure> {
    if upgrade::is_upgrade(req.headers()) {
        return upgrade::forward(proxy, &target, req).await;
    }
    let timing = Timing::new();
    let (parts, incoming) = req.into_parts();
    let max_msat = max_msat(&parts.headers)?;
    let dry_run = dry_run::asked(&parts.headers);
    let body =
        body::buffer(incoming, proxy.settings.body_buffer_limit_bytes).await.map_err(|e| Failure::BadRequest {
            reason: "request_body_unreadable",
            detail: format!("the request body could not be read: {e}"),
        })?;
    let replayable = body.is_replayable();
    // What goes upstream: the agent's headers less hop-by-hop fields, with a kept proof when one is sent. Built
    // again on the rare paths that send once more, rather than copied for every request.
    let upstream_headers = |with: Option<&crate::ledger::credentials::Credential>| {
        let mut out = headers::to_upstream(&parts.headers, parts.version, replayable);
        if let Some((name, value)) = with.and_then(|c| {
            Some((
                http::HeaderName::from_bytes(c.header.as_bytes()).ok()?,
                HeaderValue::from_str(&c.authorization).ok()?,
            ))
        }) {
            out.insert(name, value);
        }
        out
    };
    let origin = target.origin();
    let kept = kept_proof(proxy, agent, &origin, target.path(), &parts.headers, dry_run).await;
    let (replay, first_body) = match body {
        RequestBody::Replayable(bytes) => (Some(bytes.clone()), body::full(bytes)),
        RequestBody::Streaming(stream) => (None, stream),
    };
    let first = proxy.send(&parts.method, &target.uri, upstream_headers(kept.as_ref()), first_body);
    let sent = timing.wait(Wait::Upstream, first).await;
    // A single-use proof taken for this request goes back if the API did not answer it.
    if let Some(cred) = kept.as_ref().filter(|c| c.single_use)
        && matches!(sent.as_ref().map(|r| r.status().as_u16()), Err(_) | Ok(500..=599))
        && let Err(e) = proxy
            .ledger
            .keep_single_use(agent.id, &origin, &cred.path, &cred.header, &cred.authorization, cred.payment_id)
            .await
    {
        tracing::warn!(request_id, "cannot keep the proof for a later try: {e}");
    }
    let mut resp = sent?;

    // Whether the kept proof is still among the headers a paid retry starts from.
    let mut kept_sent = kept.is_some();
    if let Some(cred) = &kept
        && matches!(resp.status().as_u16(), 401..=403)
    {
        // The server does not take the kept proof here. Earned on this path, it is spent or revoked: forget
        // it. Earned elsewhere, it may still be good there. Either way, handle what the server says now.
        if cred.path == target.path() {
            tracing::info!(request_id, origin, "kept credential rejected; dropping it");
            let _ = proxy.ledger.drop_credential(agent.id, &origin, &cred.authorization).await;
        }
        kept_sent = false;
        if resp.status() != StatusCode::PAYMENT_REQUIRED
            && let Some(bytes) = &replay
        {
            let resend = proxy.send(&parts.method, &target.uri, upstream_headers(None), body::full(bytes.clone()));
            resp = timing.wait(Wait::Upstream, resend).await?;
        }
    }
    if resp.status() != StatusCode::PAYMENT_REQUIRED {
        let mut resp = to_agent(resp);
        if dry_run {
            resp.headers_mut().insert(dry_run::HEADER, HeaderValue::from_static("no-payment-needed"));
        }
        return Ok(resp);
    }

    // A 402: read its challenge (bounded), then pay and retry, or answer why not.
    let (resp_parts, resp_body) = resp.into_parts();
    let limit = proxy.settings.challenge_body_limit_bytes;
    let read = tokio::time::timeout(proxy.settings.upstream_timeout, body::read_bounded(resp_body, limit));
    let (head, rest) = match timing.wait(Wait::Upstream, read).await {
        Ok(Ok(read)) => read,
        Ok(Err(e)) => {
            return Err(Failure::BadGateway {
                reason: "upstream_body_unreadable",
                detail: format!("the 402 response body could not be read: {e}"),
            });
        }
        Err(_) => {
            return Err(Failure::GatewayTimeout {
                detail: format!(
                    "the 402 response body did not arrive within {} s",
                    proxy.settings.upstream_timeout.as_secs()
                ),
            });
        }
    };
    let passthrough = |head: Bytes, rest: Option<Incoming>| {
        let body = match rest {
            None => body::full(head),
            Some(rest) => body::chain(head, rest),
        };
        let mut resp = Response::from_parts(resp_parts.clone(), body);
        headers::to_agent(resp.headers_mut(), resp_parts.version);
        resp
    };
    let parsed = match rest {
        Some(_) => challenge::parse(&resp_parts.headers, b""),
        None => challenge::parse(&resp_parts.headers, &head),
    };
    let mut ctx = pay_context(request_id, agent, &parts.method, &target, &resp_parts.headers, &timing);
    ctx.max_msat = max_msat;
    let ch = match parsed {
        Ok(ch) => ch,
        // Not a Lightning challenge Purser knows: the agent sees the 402 as the server sent it.
        Err(challenge::Error::NoChallenge) => return Ok(passthrough(head, rest)),
        // A dry run writes nothing: it says why Purser would not pay.
        Err(e) if dry_run => return Ok(dry_run::unpayable(&ctx, e.kind_label(), e.reason(), &e.to_string())),
        // Offers Purser cannot pay (another chain or method): recorded, and passed on untouched.
        Err(e @ challenge::Error::UnsupportedScheme(_)) => {
            proxy.record_unpayable(&ctx, e.kind_label(), e.reason(), &e.to_string()).await;
            return Ok(passthrough(head, rest));
        }
        Err(e) => {
            return Err(proxy.refuse_unpaid(&ctx, None, None, e.reason(), e.to_string()).await);
        }
    };
    if dry_run {
        return Ok(proxy.dry_run(&ctx, &ch).await);
    }
    let Some(replay) = replay else {
        let detail = format!(
            "the request body is larger than the {} bytes Purser keeps to replay a request after paying",
            proxy.settings.body_buffer_limit_bytes
        );
        return Err(proxy.refuse_unpaid(&ctx, Some(&ch), None, "body_too_large", detail).await);
    };
    let proven = proxy.pay(&ctx, &ch).await?;

    let retry = proof::apply(
        &ch,
        &proven.payment_hash,
        &proven.preimage,
        proof::Retry {
            uri: target.uri.clone(),
            headers: upstream_headers(if kept_sent { kept.as_ref() } else { None }),
            body: replay,
            authorization: None,
            single_use: None,
        },
    );
    // The proof is kept as soon as it exists: if the retry fails, the agent's next try reuses it instead of
    // paying again.
    if let (Some(auth), Some(payment_id)) = (&retry.authorization, proven.payment_id)
        && let Err(e) = proxy.ledger.keep_credential(agent.id, &origin, target.path(), auth, payment_id).await
    {
        tracing::warn!(request_id, "cannot keep the credential: {e}");
    }
    // A proof for one challenge is kept before it is sent: if the request is not delivered (or the agent hangs
    // up meanwhile), the agent's next request for this path sends it once more instead of paying again.
    if let (Some((name, value)), Some(payment_id)) = (&retry.single_use, proven.payment_id)
        && let Err(e) = proxy.ledger.keep_single_use(agent.id, &origin, target.path(), name, value, payment_id).await
    {
        tracing::warn!(request_id, "cannot keep the proof for a later try: {e}");
    }
    let answer = timing.wait(Wait::Upstream, proxy.send_proven(&parts.method, &retry, request_id)).await;
    let status = answer.as_ref().ok().map(|r| r.status().as_u16());
    let receipt = answer.as_ref().ok().and_then(|r| receipt(r.headers()));
    if let Some(payment_id) = proven.payment_id {
        match proxy.ledger.record_delivery(payment_id, status, receipt.as_deref()).await {
            Ok(alerts) => proxy.emit_alerts(alerts),
            Err(e) => tracing::error!(request_id, "cannot record delivery: {e}"),
        }
    }
    if let (Some(auth), Some(401..=403)) = (&retry.authorization, status) {
        let _ = proxy.ledger.drop_credential(agent.id, &origin, auth).await;
    }
    // Answered (delivered, or refused by the API): the proof was used and is forgotten. Not answered (no
    // answer, or a gateway error after the re-sends): it stays kept for the next request.
    if let Some((_, value)) = &retry.single_use
        && !matches!(status, None | Some(500..=599))
    {
        let _ = proxy.ledger.drop_credential(agent.id, &origin, value).await;
    }
    let mut resp = to_agent(answer?);
    // The API's own `Server-Timing` entries, if any, stay; Purser's come after them.
    resp.headers_mut().append("server-timing", timing.header());
    Ok(resp)
}

/// The kept proof to send with this request, if the agent did not bring its own: a single-use one is taken
/// (removed) as it is sent, so two requests never send it both.
async fn kept_proof(
    proxy: &Proxy,
    agent: &Agent,
    origin: &str,
    path: &str,
    headers: &HeaderMap,
    dry_run: bool,
) -> Option<crate::ledger::credentials::Credential> {
    let cred = proxy.ledger.credential(agent.id, origin, path).await.ok().flatten()?;
    // A dry run never spends a proof that answers one challenge.
    if headers.contains_key(cred.header.as_str()) || (dry_run && cred.single_use) {
        return None;
    }
    if cred.single_use && !proxy.ledger.take_single_use(cred.id).await.unwrap_or(false) {
        return None;
    }
    Some(cred)
}

fn pay_context<'a>(
    request_id: &'a str,
    agent: &'a Agent,
    method: &'a Method,
    target: &'a Target,
    challenge_headers: &'a HeaderMap,
    timing: &'a Timing,
) -> PayContext<'a> {
    PayContext { request_id, agent, method: method.as_str(), target, challenge_headers, max_msat: None, timing }
}

async fn authenticate(proxy: &Proxy, headers: &HeaderMap) -> Result<Agent, Failure> {
    let (name, key) = auth::credentials(headers).ok_or(Failure::ProxyAuthRequired)?;
    check_agent(proxy, &name, &key).await
}

pub(super) async fn check_agent(proxy: &Proxy, name: &str, key: &str) -> Result<Agent, Failure> {
    match proxy.ledger.authenticate(name, key).await {
        Ok(Some(agent)) => Ok(agent),
        Ok(None) => Err(Failure::ProxyAuthRequired),
        Err(e) => Err(Failure::Unavailable {
            reason: "ledger_unavailable".into(),
            detail: format!("Purser could not read its ledger: {e}"),
            retry_after_secs: 5,
        }),
    }
}

fn to_agent(resp: Response<Incoming>) -> Response<ProxyBody> {
    let (mut parts, incoming) = resp.into_parts();
    headers::to_agent(&mut parts.headers, parts.version);
    Response::from_parts(parts, body::stream(incoming))
}

/// Pauses before each further try of a paid retry whose answer did not come, or came as 502/503/504.
const PAID_RETRY_BACKOFF: [std::time::Duration; 2] =
    [std::time::Duration::from_millis(250), std::time::Duration::from_millis(1000)];

impl Proxy {
    /// Sends the retry that carries a proof of payment. The payment is made: when the answer does not come, or
    /// comes as a gateway error, the same proof is sent again (a few times, with pauses) rather than losing it.
    async fn send_proven(
        &self,
        method: &Method,
        retry: &proof::Retry,
        request_id: &str,
    ) -> Result<Response<Incoming>, Failure> {
        let mut answer = self.send(method, &retry.uri, retry.headers.clone(), body::full(retry.body.clone())).await;
        for pause in PAID_RETRY_BACKOFF {
            // Not after a timeout: the API had its full time already.
            let transient = match &answer {
                Ok(resp) => matches!(resp.status().as_u16(), 502..=504),
                Err(f) => matches!(f.reason(), "upstream_unreachable" | "upstream_bad_response"),
            };
            if !transient {
                break;
            }
            tracing::warn!(request_id, "the paid retry was not answered; sending the same proof again");
            tokio::time::sleep(pause).await;
            answer = self.send(method, &retry.uri, retry.headers.clone(), body::full(retry.body.clone())).await;
        }
        answer
    }

    /// Sends one request upstream and waits for its response headers.
    async fn send(
        &self,
        method: &Method,
        uri: &Uri,
        headers: HeaderMap,
        body: ProxyBody,
    ) -> Result<Response<Incoming>, Failure> {
        let mut req = Request::new(body);
        *req.method_mut() = method.clone();
        *req.uri_mut() = uri.clone();
        *req.headers_mut() = headers;
        let authority = || uri.authority().map(|a| a.to_string()).unwrap_or_default();
        match tokio::time::timeout(self.settings.upstream_timeout, self.client().request(req)).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) if e.is_connect() => Err(Failure::BadGateway {
                reason: "upstream_unreachable",
                detail: format!("{} could not be reached: {}", authority(), error_chain(&e)),
            }),
            // Reached, but what came back is not HTTP Purser can read (a head of megabytes, garbage, a reset).
            Ok(Err(e)) => Err(Failure::BadGateway {
                reason: "upstream_bad_response",
                detail: format!(
                    "{} answered with something that is not a readable HTTP response: {}",
                    authority(),
                    error_chain(&e)
                ),
            }),
            Err(_) => Err(Failure::GatewayTimeout {
                detail: format!(
                    "{} sent no response within {} s",
                    authority(),
                    self.settings.upstream_timeout.as_secs()
                ),
            }),
        }
    }
}

/// An error with its causes: "client error (Connect): tcp connect error: Connection refused".
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
