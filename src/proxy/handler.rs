//! One agent request, start to end: identify the agent, find the upstream, send (with a kept credential if
//! there is one), and on a `402` pay and retry with the proof. Answers stream to the agent as they arrive.

use std::convert::Infallible;
use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use rand::RngCore;

use super::refusal::{self, Failure};
use super::{Proxy, agent_api, auth, control, intercept, upgrade};
use crate::flow::dry_run;
use crate::flow::timing::{Timing, Wait};
use crate::flow::{Flow, Payable};
use crate::http::body::{self, ProxyBody, RequestBody};
use crate::http::headers;
use crate::http::target::{self, Target};
use crate::ledger::agents::Agent;
use crate::ledger::credentials::Credential;
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

/// [`handle_inside`] as the tunnel takes it.
fn inside(
    proxy: Arc<Proxy>,
    credentials: Arc<(String, String)>,
    scheme: &'static str,
    authority: http::uri::Authority,
    req: Request<Incoming>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>> {
    Box::pin(handle_inside(proxy, credentials, scheme, authority, req))
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
        Ok(target) => match auth::check_agent(&proxy, &credentials.0, &credentials.1).await {
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
        // The control endpoint's calls carry its bearer token; an agent's carry its key.
        let bearer = req.headers().get(header::AUTHORIZATION).is_some_and(|v| v.as_bytes().starts_with(b"Bearer "));
        if req.uri().path() == crate::mcp::http::PATH {
            return crate::mcp::http::handle(proxy, req).await;
        }
        if agent_api::is_agent_path(req.uri().path()) && !bearer {
            return agent_api::handle(proxy, req, request_id).await;
        }
        if req.uri().path().starts_with(control::PREFIX) {
            return Ok(control::handle(proxy, req).await);
        }
    }
    let agent = authenticate(proxy, req.headers()).await?;
    if req.method() == Method::CONNECT {
        let credentials = auth::credentials(req.headers()).ok_or(Failure::ProxyAuthRequired)?;
        return intercept::connect(proxy.clone(), agent, credentials, req, inside).await;
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
    host.to_str().is_ok_and(loopback_authority)
}

/// Whether `host[:port]` names a loopback address: `localhost`, `127.x.x.x` or `[::1]`.
pub(crate) fn loopback_authority(text: &str) -> bool {
    let Ok(authority) = text.parse::<http::uri::Authority>() else {
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

/// `Purser-Max-Fiat: 0.25 USD`: the most a payment for this request may be worth in a currency.
fn max_fiat(headers: &HeaderMap) -> Result<Option<crate::rates::Money>, Failure> {
    let Some(value) = headers.get("purser-max-fiat") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default();
    crate::rates::Money::parse(text).map(Some).map_err(|e| Failure::BadRequest {
        reason: "bad_max_fiat",
        detail: format!("Purser-Max-Fiat: {e}, e.g. `Purser-Max-Fiat: 0.25 USD`"),
    })
}

/// `Purser-Allowance: ID`: the task allowance a payment for this request comes from.
fn allowance(headers: &HeaderMap) -> Result<Option<i64>, Failure> {
    let Some(value) = headers.get("purser-allowance") else {
        return Ok(None);
    };
    value.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()).filter(|id| *id > 0).map(Some).ok_or(
        Failure::BadRequest {
            reason: "bad_allowance",
            detail: "Purser-Allowance must be an allowance's id, e.g. `Purser-Allowance: 3`".into(),
        },
    )
}

/// `Purser-Reason: …`: the agent's words on why it needs a payment, shown (at most 300 characters) to a
/// person asked about it.
fn agent_reason(headers: &HeaderMap) -> Option<String> {
    let text = String::from_utf8_lossy(headers.get("purser-reason")?.as_bytes()).trim().to_string();
    (!text.is_empty()).then(|| text.chars().filter(|c| !c.is_control()).take(300).collect())
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
    let (parts, incoming) = req.into_parts();
    let body =
        body::buffer(incoming, proxy.settings.body_buffer_limit_bytes).await.map_err(|e| Failure::BadRequest {
            reason: "request_body_unreadable",
            detail: format!("the request body could not be read: {e}"),
        })?;
    send_and_pay(proxy, agent, target, parts, body, request_id).await
}

/// Sends a request whose body is read (or streaming past the buffer limit) to `target`, paying a `402` on
/// the way if policy allows: proxied requests and the fetch endpoint's alike.
pub(super) async fn send_and_pay(
    proxy: &Proxy,
    agent: &Agent,
    target: Target,
    parts: http::request::Parts,
    body: RequestBody,
    request_id: &str,
) -> Result<Response<ProxyBody>, Failure> {
    let timing = Timing::new();
    let max_msat = max_msat(&parts.headers)?;
    let max_fiat = max_fiat(&parts.headers)?;
    let dry_run = dry_run::asked(&parts.headers);
    let replayable = body.is_replayable();
    // Built again on the rare paths that send once more, rather than copied for every request.
    let upstream_headers = |with: Option<&Credential>| to_upstream(&parts.headers, parts.version, replayable, with);
    let origin = target.origin();
    let kept = kept_proof(proxy, agent, &origin, target.path(), &parts.headers, dry_run).await;
    let (replay, first_body) = match body {
        RequestBody::Replayable(bytes) => (Some(bytes.clone()), body::full(bytes)),
        RequestBody::Streaming(stream) => (None, stream),
    };
    let first = proxy.send(&parts.method, &target.uri, upstream_headers(kept.as_ref()), first_body);
    let sent = timing.wait(Wait::Upstream, first).await;
    if matches!(sent.as_ref().map(|r| r.status().as_u16()), Err(_) | Ok(500..=599)) {
        give_back(proxy, agent, &origin, kept.as_ref(), request_id).await;
    }
    let mut resp = sent?;

    // Whether the kept proof is still among the headers a paid retry starts from, and whether the request
    // that drew the answer carried it.
    let mut kept_sent = kept.is_some();
    let mut resent = false;
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
            resent = true;
        }
    }
    if resp.status() != StatusCode::PAYMENT_REQUIRED {
        let mut resp = headers::response_to_agent(resp);
        if dry_run {
            resp.headers_mut().insert(dry_run::HEADER, HeaderValue::from_static("no-payment-needed"));
        }
        return Ok(resp);
    }

    // A 402: the payment flow takes it from here.
    let payable = Payable {
        request_id,
        agent,
        method: &parts.method,
        target: &target,
        timing: &timing,
        max_msat,
        max_fiat,
        allowance: allowance(&parts.headers)?,
        agent_reason: agent_reason(&parts.headers),
        dry_run,
        replay,
        retry_headers: upstream_headers(if kept_sent { kept.as_ref() } else { None }),
        sent_headers: upstream_headers(if resent { None } else { kept.as_ref() }),
    };
    Flow::new(proxy).after_402(payable, resp).await
}

/// What goes upstream: the agent's headers less hop-by-hop fields, with a kept proof when one is sent.
fn to_upstream(
    agent_headers: &HeaderMap,
    version: http::Version,
    replayable: bool,
    with: Option<&Credential>,
) -> HeaderMap {
    let mut out = headers::to_upstream(agent_headers, version, replayable);
    if let Some((name, value)) = with.and_then(|c| {
        Some((http::HeaderName::from_bytes(c.header.as_bytes()).ok()?, HeaderValue::from_str(&c.authorization).ok()?))
    }) {
        out.insert(name, value);
    }
    out
}

/// A single-use proof taken for this request goes back to be kept when the API did not answer it.
async fn give_back(proxy: &Proxy, agent: &Agent, origin: &str, kept: Option<&Credential>, request_id: &str) {
    if let Some(cred) = kept.filter(|c| c.single_use)
        && let Err(e) = proxy
            .ledger
            .keep_single_use(agent.id, origin, &cred.path, &cred.header, &cred.authorization, cred.payment_id)
            .await
    {
        tracing::warn!(request_id, "cannot keep the proof for a later try: {e}");
    }
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
) -> Option<Credential> {
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

async fn authenticate(proxy: &Proxy, headers: &HeaderMap) -> Result<Agent, Failure> {
    let (name, key) = auth::credentials(headers).ok_or(Failure::ProxyAuthRequired)?;
    auth::check_agent(proxy, &name, &key).await
}

impl crate::flow::Host for Proxy {
    fn settings(&self) -> &crate::config::Settings {
        &self.settings
    }

    fn ledger(&self) -> &crate::ledger::Ledger {
        &self.ledger
    }

    fn events(&self) -> &crate::events::Events {
        &self.events
    }

    fn approvals(&self) -> &crate::approval::Approvals {
        &self.approvals
    }

    fn wallet(&self) -> &crate::wallet::WalletHandle {
        &self.wallet
    }

    fn pricing(&self) -> &crate::pricing::Fetcher {
        &self.pricing
    }

    fn rates(&self) -> &std::sync::Arc<crate::rates::Rates> {
        &self.rates
    }

    fn background(&self) -> Option<&tokio::runtime::Handle> {
        self.background.get()
    }

    fn send<'a>(
        &'a self,
        method: &'a Method,
        uri: &'a Uri,
        headers: HeaderMap,
        body: ProxyBody,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response<Incoming>, Failure>> + Send + 'a>> {
        Box::pin(Proxy::send(self, method, uri, headers, body))
    }
}

impl Proxy {
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
                detail: format!("{} could not be reached: {}", authority(), crate::http::client::error_chain(&e)),
            }),
            // Reached, but what came back is not HTTP Purser can read (a head of megabytes, garbage, a reset).
            Ok(Err(e)) => Err(Failure::BadGateway {
                reason: "upstream_bad_response",
                detail: format!(
                    "{} answered with something that is not a readable HTTP response: {}",
                    authority(),
                    crate::http::client::error_chain(&e)
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
