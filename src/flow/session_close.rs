//! Closing MPP Lightning sessions: a session that cannot pay for another call, or one a person closes.
//! The `close` credential goes with a `GET` to the address the session was opened on; the API answers with
//! what it returns (in its `Payment-Receipt`, or its JSON body: `refundSats`, `refundStatus`), and the
//! wallet is then watched for that refund on the invoice it made for it. An API that refuses the close
//! ended the session already; a refund smaller than what the session held, or one that never reaches the
//! wallet, is recorded and alerted.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, Uri};
use serde_json::{Map, Value};

use super::Flow;
use super::context::PayContext;
use crate::challenge::mpp::{self, SessionAction, session_credential};
use crate::challenge::{self, PaymentChallenge, ProofForm};
use crate::http::body;
use crate::ledger::alerts::{AlertKind, NewAlert};
use crate::ledger::sessions::Dry;

/// Whose a session is and where its calls go.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub agent_id: i64,
    pub agent: String,
    pub host: String,
    /// The address the session was opened on (a close goes there).
    pub uri: Uri,
}

impl Place {
    pub(crate) fn of(ctx: &PayContext<'_>) -> Place {
        Place { agent_id: ctx.agent.id, agent: ctx.agent.name.clone(), host: ctx.host(), uri: ctx.target.uri.clone() }
    }
}

/// How a close ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Closed {
    /// The API had ended the session already (it refused the close).
    pub ended_by_api: bool,
    /// What the API says it returned.
    pub refund_msat: u64,
}

/// Why a session could not be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseError {
    #[error("no open session {0}")]
    NoSuchSession(i64),
    #[error("the session is not open any more")]
    NotOpen,
    #[error("the API could not be reached: {0}")]
    Unreachable(String),
    #[error("the API did not answer with a session challenge to close against ({0})")]
    NoChallenge(String),
    #[error("the ledger: {0}")]
    Ledger(String),
}

impl Flow<'_> {
    /// Closes session `id` for a person.
    pub async fn close_session_now(&self, id: i64) -> Result<Closed, CloseError> {
        let ledger = self.host.ledger();
        let open = ledger.open_session_place(id).await.map_err(|e| CloseError::Ledger(e.to_string()))?;
        let Some(open) = open else { return Err(CloseError::NoSuchSession(id)) };
        let uri: Uri = format!("{}{}", open.origin, open.path)
            .parse()
            .map_err(|e| CloseError::Unreachable(format!("the session's address is not valid: {e}")))?;
        let place = Place { agent_id: open.agent_id, agent: open.agent, host: open.host, uri };
        self.close_session(&place, &open.dry).await
    }

    /// Closes an open session: claimed first (draws and other closes leave a closing session alone), then
    /// a fresh session challenge asked of its API (a `GET` without credential: challenges are single-use)
    /// and the close sent against it. The API answers with what it returns (in its `Payment-Receipt` or
    /// JSON body), capped at what the session held, and the wallet is watched for it. An API that refuses
    /// the close (`401`–`403`) ended the session already; one that cannot be reached, or answers otherwise,
    /// leaves it open.
    pub(crate) async fn close_session(&self, place: &Place, dry: &Dry) -> Result<Closed, CloseError> {
        let ledger = self.host.ledger();
        match ledger.claim_close(dry.id).await {
            Ok(true) => {}
            Ok(false) => return Err(CloseError::NotOpen),
            Err(e) => return Err(CloseError::Ledger(e.to_string())),
        }
        let answer = match self.send_close(place, dry).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!("a session at {} could not be closed: {e}", place.host);
                let _ = ledger.reopen_session(dry.id).await;
                return Err(e);
            }
        };
        let status = answer.status();
        if matches!(status.as_u16(), 401..=403) {
            self.session_ended(place, dry.id).await;
            return Ok(Closed { ended_by_api: true, refund_msat: 0 });
        }
        if !status.is_success() {
            let _ = ledger.reopen_session(dry.id).await;
            return Err(CloseError::Unreachable(format!("it answered the close with {status}")));
        }
        let receipt = self.bounded(close_receipt(answer)).await.flatten();
        let claimed = receipt.as_ref().and_then(refund_msat).unwrap_or(0).min(dry.left_msat);
        let refund_status =
            receipt.as_ref().and_then(|r| r.get("refundStatus")).and_then(Value::as_str).map(str::to_string);
        if let Err(e) = ledger.close_session(dry.id, Some(claimed), refund_status.as_deref()).await {
            tracing::error!("cannot record a session's close: {e}");
            return Err(CloseError::Ledger(e.to_string()));
        }
        self.host.events().emit(crate::events::Event::HeldChanged { host: place.host.clone() });
        if claimed < dry.left_msat {
            let message = format!(
                "{} closed a session of {} holding {} sat and returns {} sat",
                place.host,
                place.agent,
                dry.left_msat / 1000,
                claimed / 1000
            );
            self.alert_refund_missing(place, message).await;
        }
        if claimed > 0 {
            self.watch_refund(place, dry.id, claimed);
        }
        Ok(Closed { ended_by_api: false, refund_msat: claimed })
    }

    /// Asks the API for a fresh session challenge, then sends the close against it.
    async fn send_close(&self, place: &Place, dry: &Dry) -> Result<Response<hyper::body::Incoming>, CloseError> {
        let send = |headers: HeaderMap| async move {
            let sent = self.bounded(self.host.send(&Method::GET, &place.uri, headers, body::empty())).await;
            match sent {
                Some(Ok(answer)) => Ok(answer),
                Some(Err(e)) => Err(CloseError::Unreachable(e.detail().to_string())),
                None => Err(CloseError::Unreachable("it did not answer in time".into())),
            }
        };
        let asked = send(HeaderMap::new()).await?;
        let challenge = self
            .bounded(session_challenge(asked))
            .await
            .unwrap_or_else(|| Err(CloseError::NoChallenge("its 402 did not arrive in time".into())))?;
        let close = session_credential(&challenge, SessionAction::Close, &dry.preimage_hex);
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&close) {
            headers.insert(header::AUTHORIZATION, value);
        }
        send(headers).await
    }

    /// `f`, or `None` past the upstream timeout.
    async fn bounded<T>(&self, f: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::time::timeout(self.host.settings().upstream_timeout, f).await.ok()
    }

    /// The API stopped honouring a session: recorded ended, and what it held alerted as not returned.
    pub(crate) async fn session_ended(&self, place: &Place, id: i64) {
        let ended = self.host.ledger().end_session(id).await;
        self.host.events().emit(crate::events::Event::HeldChanged { host: place.host.clone() });
        match ended {
            Ok(Some(left)) if left > 0 => {
                let message = format!(
                    "{} ended a session of {} that still held {} sat, without returning it",
                    place.host,
                    place.agent,
                    left / 1000
                );
                self.alert_refund_missing(place, message).await;
            }
            Ok(_) => {}
            Err(e) => tracing::error!("cannot record a session's end: {e}"),
        }
    }

    /// Watches the wallet for a closed session's refund, in the background, for `session_refund_wait`:
    /// received (with what reached the wallet), or missing and alerted.
    fn watch_refund(&self, place: &Place, id: i64, claimed_msat: u64) {
        let (ledger, events, wallet) =
            (self.host.ledger().clone(), self.host.events().clone(), self.host.wallet().wallet());
        let wait = self.host.settings().session_refund_wait;
        let (agent_id, host, agent) = (place.agent_id, place.host.clone(), place.agent.clone());
        let watching = async move {
            let Ok(Some(hash)) = ledger.session_return_hash(id).await else { return };
            let hash = crate::units::PaymentHash::from_hex(&hash);
            let deadline = tokio::time::Instant::now() + wait;
            let mut pause = std::time::Duration::from_millis(250);
            let received = loop {
                if let (Ok(wallet), Some(hash)) = (&wallet, &hash)
                    && let Ok(found) = wallet.lookup_invoice(hash).await
                    && found.state.as_deref() == Some("settled")
                {
                    break Some(found.amount.0);
                }
                if tokio::time::Instant::now() + pause > deadline {
                    break None;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(10));
            };
            if let Err(e) = ledger.refund_outcome(id, received).await {
                tracing::error!("cannot record a session's refund: {e}");
            }
            events.emit(crate::events::Event::HeldChanged { host: host.clone() });
            // The return invoice has no amount: what arrived is checked against what the API said.
            let short = match received {
                None => Some("the wallet has not received it".to_string()),
                Some(got) if got < claimed_msat => Some(format!("only {} sat reached the wallet", got / 1000)),
                Some(_) => None,
            };
            if let Some(short) = short {
                let alert = NewAlert {
                    kind: AlertKind::SessionRefundMissing,
                    agent_id: Some(agent_id),
                    host: Some(host.clone()),
                    budget_id: None,
                    message: format!(
                        "{host} said it returned {} sat from a session of {agent}; {short}",
                        claimed_msat / 1000
                    ),
                    dedupe_key: Some(format!("session_refund:{id}")),
                };
                if let Ok(alerts) = ledger.record_alerts(&[alert], None).await {
                    for alert in alerts {
                        tracing::warn!(kind = alert.kind.as_str(), "alert: {}", alert.message);
                        events.emit(crate::events::Event::Alert { alert });
                    }
                }
            }
        };
        match self.host.background() {
            Some(runtime) => drop(runtime.spawn(watching)),
            None => drop(tokio::spawn(watching)),
        }
    }

    async fn alert_refund_missing(&self, place: &Place, message: String) {
        let alert = NewAlert {
            kind: AlertKind::SessionRefundMissing,
            agent_id: Some(place.agent_id),
            host: Some(place.host.clone()),
            budget_id: None,
            message,
            dedupe_key: None,
        };
        match self.host.ledger().record_alerts(&[alert], None).await {
            Ok(alerts) => self.emit_alerts(alerts),
            Err(e) => tracing::error!("cannot record an alert: {e}"),
        }
    }
}

/// The session challenge of an API's 402 (its parameters, to echo).
async fn session_challenge(answer: Response<hyper::body::Incoming>) -> Result<Map<String, Value>, CloseError> {
    let status = answer.status();
    let (parts, rest) = answer.into_parts();
    let (head, _) = body::read_bounded(rest, 64 << 10).await.map_err(|e| CloseError::NoChallenge(e.to_string()))?;
    if status != http::StatusCode::PAYMENT_REQUIRED {
        return Err(CloseError::NoChallenge(format!("it answered {status}")));
    }
    let _ = head;
    let offered: Vec<_> = parts
        .headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(challenge::parse_auth_params)
        .collect();
    mpp::from_challenges(&offered)
        .into_iter()
        .find_map(|c| match c {
            Ok(PaymentChallenge { proof: ProofForm::MppSession { challenge, .. }, .. }) => Some(challenge),
            _ => None,
        })
        .ok_or_else(|| CloseError::NoChallenge("its 402 offers no session".into()))
}

/// What a close answer says: its `Payment-Receipt` (base64url JSON), else its JSON body (bounded).
async fn close_receipt(answer: Response<hyper::body::Incoming>) -> Option<Value> {
    let from_header = answer
        .headers()
        .get("payment-receipt")
        .and_then(|v| v.to_str().ok())
        .and_then(crate::challenge::decode_base64)
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .filter(|v| v.get("refundSats").is_some() || v.get("refundStatus").is_some());
    if from_header.is_some() {
        return from_header;
    }
    let (head, _) = body::read_bounded(answer.into_body(), 64 << 10).await.ok()?;
    serde_json::from_slice(&head).ok()
}

/// The refund a close answer names, in msat (`refundSats`; absent means nothing, as Aperture writes it).
pub fn refund_msat(receipt: &Value) -> Option<u64> {
    let sats = match receipt.get("refundSats") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_u64()?,
        Some(Value::String(s)) => s.trim().parse().ok()?,
        Some(_) => return None,
    };
    Some(sats.saturating_mul(1000))
}
