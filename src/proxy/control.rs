//! The local control endpoint under `/_purser/`, for the CLI: list the payments waiting for a person, and
//! approve or deny them; task allowances ([`super::allowance_control`]). The CLI reaches it through a Unix socket in the owner-only data directory
//! (`control.sock`), so another local user who listens on the proxy's port while Purser is down never sees
//! the token; it is also on the proxy's own listener. Every call needs `Authorization: Bearer <token>`; the
//! token, the socket and the address are written to `control.json` in the data directory, readable by the
//! user only, so agents that hold only their own key cannot approve payments.

use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Proxy;
use crate::approval::{Answer, AnswerError, Verdict};
use crate::consent::ConsentError;
use crate::http::body::{ProxyBody, full};

/// Paths under this prefix are Purser's own, not agent traffic.
pub const PREFIX: &str = "/_purser/";

pub fn new_token() -> String {
    let mut raw = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// How the CLI finds a running proxy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlFile {
    pub url: String,
    /// The Unix socket the endpoint answers on; absent when it could not be made (a data directory path too
    /// long for a socket), and then the CLI uses `url`.
    #[serde(default)]
    pub socket: Option<String>,
    pub token: String,
    /// Variables `purser env` adds for agents of this proxy (the sandbox's demo API addresses).
    #[serde(default)]
    pub agent_env: Vec<(String, String)>,
}

/// Writes `control.json` (owner-only) for a proxy listening on `addr` and, when it has one, `socket`.
pub fn write_control_file(
    path: &Path,
    addr: SocketAddr,
    socket: Option<&Path>,
    token: &str,
    agent_env: &[(String, String)],
) -> std::io::Result<()> {
    let body = ControlFile {
        url: format!("http://{addr}"),
        socket: socket.map(|s| s.display().to_string()),
        token: token.to_string(),
        agent_env: agent_env.to_vec(),
    };
    crate::private_fs::write_atomic(path, serde_json::to_string_pretty(&body).unwrap_or_default().as_bytes(), true)
}

/// What the control endpoint answers with when a call fails.
#[derive(Debug, thiserror::Error)]
pub(super) enum ControlError {
    #[error("the control endpoint needs `Authorization: Bearer <token>` from control.json")]
    Unauthorized,
    #[error("no such control call: {0}")]
    NotFound(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Consent(crate::consent::ConsentError),
}

pub(super) fn json_response(status: StatusCode, value: serde_json::Value) -> Response<ProxyBody> {
    let mut resp = Response::new(full(value.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// The one mapping from control errors to answers.
fn error_response(e: &ControlError) -> Response<ProxyBody> {
    let (status, kind) = match e {
        ControlError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
        ControlError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        ControlError::Gone(_) => (StatusCode::GONE, "not_waiting"),
        ControlError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
        ControlError::Consent(c) => {
            let status = match c {
                ConsentError::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
                ConsentError::Ledger(_) | ConsentError::Hash(_) => StatusCode::SERVICE_UNAVAILABLE,
                ConsentError::TooShort => StatusCode::BAD_REQUEST,
                _ => StatusCode::FORBIDDEN,
            };
            (status, c.code())
        }
    };
    json_response(status, json!({"kind": kind, "message": e.to_string()}))
}

#[derive(Debug, Default, Deserialize)]
struct AnswerBody {
    /// Remember the decision as a rule: approve this agent on this API up to this many sats a day.
    remember_max_sats_per_day: Option<u64>,
    /// How many of the approval's requests the person was shown (the `count` listed); at most these are
    /// answered. Without it, one.
    count: Option<u32>,
    /// The passphrase, or the total typed in sats, for an approval that needs confirming.
    #[serde(flatten)]
    proof: crate::consent::Proof,
}

pub async fn handle(proxy: &Proxy, req: Request<Incoming>) -> Response<ProxyBody> {
    match route(proxy, req).await {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    }
}

async fn route(proxy: &Proxy, req: Request<Incoming>) -> Result<Response<ProxyBody>, ControlError> {
    let bearer =
        req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let token_ok = bearer.is_some_and(|t| {
        t.len() == proxy.control_token.len()
            && t.bytes().zip(proxy.control_token.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0
    });
    if !token_ok {
        return Err(ControlError::Unauthorized);
    }
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_start_matches(PREFIX).split('/').filter(|s| !s.is_empty()).collect();
    match (req.method().clone(), parts.as_slice()) {
        (Method::GET, ["approvals"]) => Ok(json_response(StatusCode::OK, json!(proxy.approvals.list()))),
        // The rate the running proxy uses (its sources, its cache), for the CLI's figures in a currency.
        (Method::GET, ["rates", currency]) => {
            let code =
                crate::rates::money::currency_code(currency).map_err(|e| ControlError::BadRequest(e.to_string()))?;
            let answer = match proxy.rates.get(&code, proxy.settings.rate_max_age).await {
                Ok(rate) => json!({"currency": code, "rate": rate, "error": null}),
                Err(e) => json!({"currency": code, "rate": null, "error": e.to_string()}),
            };
            Ok(json_response(StatusCode::OK, answer))
        }
        (Method::POST, ["approvals", id, action @ ("approve" | "deny")]) => {
            let id: u64 = id.parse().map_err(|_| ControlError::BadRequest(format!("`{id}` is not an approval id")))?;
            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let ask: AnswerBody = if body.is_empty() {
                AnswerBody::default()
            } else {
                serde_json::from_slice(&body)
                    .map_err(|e| ControlError::BadRequest(format!("the body is not valid: {e}")))?
            };
            let verdict = if *action == "approve" { Verdict::Approve } else { Verdict::Deny };
            // A remembered rule is a change to what guards money: like `purser rule add`, it takes the
            // passphrase once one is set.
            if verdict == Verdict::Approve && ask.remember_max_sats_per_day.is_some() {
                crate::consent::authorize_change(&proxy.ledger, ask.proof.passphrase.as_deref()).await.map_err(
                    |mut e| {
                        if let Some(alert) = e.take_alert() {
                            proxy.events.emit(crate::events::Event::Alert { alert });
                        }
                        ControlError::Consent(e)
                    },
                )?;
            }
            let answer = Answer {
                verdict,
                seen: ask.count.unwrap_or(1),
                remember_sats_per_day: ask.remember_max_sats_per_day,
                proof: ask.proof,
            };
            let (view, rule) =
                crate::approval::answer(&proxy.approvals, &proxy.ledger, id, answer).await.map_err(|e| match e {
                    AnswerError::NotWaiting(gone) => ControlError::Gone(gone.to_string()),
                    AnswerError::Consent(c) => ControlError::Consent(c),
                    AnswerError::NoDailyLimit | AnswerError::NothingSeen | AnswerError::RuleNotSaved(_) => {
                        ControlError::BadRequest(e.to_string())
                    }
                })?;
            Ok(json_response(StatusCode::OK, json!({"approval": view, "decision": action, "rule": rule})))
        }
        (_, ["allowances", ..]) => super::allowance_control::route(proxy, req, &parts[1..]).await,
        (Method::POST, ["sessions", id, "close"]) => {
            use crate::flow::session_close::CloseError;
            let id: i64 = id.parse().map_err(|_| ControlError::BadRequest(format!("`{id}` is not a session id")))?;
            match crate::flow::Flow::new(proxy).close_session_now(id).await {
                Ok(closed) => Ok(json_response(StatusCode::OK, json!(closed))),
                Err(e @ (CloseError::NoSuchSession(_) | CloseError::NotOpen)) => {
                    Err(ControlError::NotFound(e.to_string()))
                }
                Err(e) => Ok(json_response(
                    StatusCode::BAD_GATEWAY,
                    json!({"error": "session_not_closed", "detail": e.to_string()}),
                )),
            }
        }
        _ => Err(ControlError::NotFound(format!("{} {path}", req.method()))),
    }
}

/// Makes the control socket at `path` (owner-only), replacing one a stopped proxy left behind.
pub fn bind_socket(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Answers control calls on `listener` until dropped; anything but `/_purser/…` is not found.
pub async fn serve_socket(listener: tokio::net::UnixListener, proxy: std::sync::Arc<Proxy>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let proxy = proxy.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(if req.uri().path().starts_with(PREFIX) {
                        handle(&proxy, req).await
                    } else {
                        error_response(&ControlError::NotFound(req.uri().path().to_string()))
                    })
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no running Purser found for this data directory ({0}): start `purser serve` or `purser sandbox`")]
    NotRunning(String),
    #[error("cannot reach Purser at {0}: is it still running?")]
    Unreachable(String),
    #[error("{0}")]
    Answer(String),
}

/// The proxy that wrote `control_file`, if the file is there (the proxy may have died since): where it
/// listens, and the variables it adds for agents.
pub fn running(control_file: &Path) -> Option<(SocketAddr, Vec<(String, String)>)> {
    let text = std::fs::read_to_string(control_file).ok()?;
    let cf: ControlFile = serde_json::from_str(&text).ok()?;
    Some((cf.url.trim_start_matches("http://").parse().ok()?, cf.agent_env))
}

/// An HTTP/1 client connection over `stream` (the socket or the port), named `at` when it fails.
async fn handshake<S>(
    stream: std::io::Result<S>,
    at: &str,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, ClientError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let unreachable = || ClientError::Unreachable(at.to_string());
    let stream = stream.map_err(|_| unreachable())?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|_| unreachable())?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Calls the control endpoint of the proxy running for `data_dir`; returns the JSON answer.
pub async fn call(
    control_file: &Path,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, ClientError> {
    let text = std::fs::read_to_string(control_file)
        .map_err(|_| ClientError::NotRunning(control_file.display().to_string()))?;
    let cf: ControlFile =
        serde_json::from_str(&text).map_err(|_| ClientError::NotRunning(control_file.display().to_string()))?;
    let authority = cf.url.trim_start_matches("http://").to_string();
    let mut sender = match &cf.socket {
        Some(socket) => handshake(tokio::net::UnixStream::connect(socket).await, socket).await?,
        None => handshake(tokio::net::TcpStream::connect(&authority).await, &cf.url).await?,
    };
    if cf.socket.is_none() && body.as_ref().is_some_and(|b| b.get("passphrase").is_some()) {
        return Err(ClientError::Answer(
            "Purser's control socket is missing, so the passphrase is not sent: restart Purser, or use the app".into(),
        ));
    }
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let req = Request::builder()
        .method(method)
        .uri(format!("{PREFIX}{}", path.trim_start_matches('/')))
        .header(header::HOST, &authority)
        .header(header::AUTHORIZATION, format!("Bearer {}", cf.token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(payload)))
        .map_err(|e| ClientError::Answer(e.to_string()))?;
    let resp = sender.send_request(req).await.map_err(|_| ClientError::Unreachable(cf.url.clone()))?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        let message = value["message"].as_str().map(str::to_string).unwrap_or_else(|| status.to_string());
        return Err(ClientError::Answer(message));
    }
    Ok(value)
}
