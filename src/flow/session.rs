//! A 402 with an MPP Lightning session challenge (`intent="session"`). While the agent has an open session
//! at the API that holds the call's price, the price is drawn from it (reserved in the ledger first) and the
//! request sent again with a `bearer` credential: nothing is paid. An API that refuses a session it had
//! honoured ended it: recorded, and what it held is alerted as not returned. Sessions that cannot pay for
//! another call are closed ([`super::session_close`]). Otherwise a new
//! session is opened: the wallet makes the amountless invoice the API returns the rest to, the deposit is
//! paid like any payment (policy, allowances, approvals), the session recorded before the API hears of it,
//! and the request sent with the `open` credential.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response};
use serde_json::{Map, Value};

use super::Flow;
use super::context::PayContext;
use super::refuse::ledger_down;
use super::session_close::Place;
use super::timing::Wait;
use crate::challenge::mpp::{SessionAction, session_credential};
use crate::challenge::{PaymentChallenge, ProofForm};
use crate::http::body::{self, ProxyBody};
use crate::http::failure::Failure;
use crate::http::headers;
use crate::ledger::sessions::NewSession;
use crate::units::Msats;

/// How long a return invoice stays payable: the API may keep a session open for long.
const RETURN_INVOICE_EXPIRY_SECS: u64 = 30 * 24 * 3600;

impl Flow<'_> {
    /// Takes a session challenge to its end: drawn from an open session, or a new one opened.
    pub(crate) async fn through_session(
        &self,
        ctx: &PayContext<'_>,
        method: &Method,
        ch: PaymentChallenge,
        replay: Bytes,
        retry_headers: HeaderMap,
    ) -> Result<Response<ProxyBody>, Failure> {
        let ProofForm::MppSession { challenge, unit_msat, .. } = &ch.proof else {
            unreachable!("only session challenges come here")
        };
        let (challenge, unit_msat) = (challenge.clone(), *unit_msat);
        let ledger = self.host.ledger();
        let origin = ctx.target.origin();
        if let Some(answer) = self.drawn(ctx, method, &challenge, unit_msat, &replay, &retry_headers).await? {
            return Ok(answer);
        }
        // One session opened at a time per agent and API: calls that find none wait here, then draw from
        // the one just opened rather than each paying a deposit.
        let opening = opening_lock(ctx.agent.id, &origin);
        let _opening = opening.lock().await;
        if let Some(answer) = self.drawn(ctx, method, &challenge, unit_msat, &replay, &retry_headers).await? {
            return Ok(answer);
        }
        let place = Place::of(ctx);
        for dry in ledger.dry_sessions(ctx.agent.id, &origin, unit_msat).await.map_err(ledger_down)? {
            // A close that fails leaves the session open and counted as held; a person can close it later.
            let _ = self.close_session(&place, &challenge, &dry).await;
        }
        self.open_session(ctx, method, ch, replay, retry_headers).await
    }

    /// The API's answer to the request sent with a `bearer` credential, when an open session held its price;
    /// `None` when none did, or the API no longer honoured it (the draw is then given back and the session
    /// ended).
    async fn drawn(
        &self,
        ctx: &PayContext<'_>,
        method: &Method,
        challenge: &Map<String, Value>,
        unit_msat: u64,
        replay: &Bytes,
        retry_headers: &HeaderMap,
    ) -> Result<Option<Response<ProxyBody>>, Failure> {
        let ledger = self.host.ledger();
        let origin = ctx.target.origin();
        let Some(draw) = ledger.draw_session(ctx.agent.id, &origin, unit_msat).await.map_err(ledger_down)? else {
            return Ok(None);
        };
        let bearer = session_credential(challenge, SessionAction::Bearer, &draw.preimage_hex);
        let answer = self.send_with(ctx, method, retry_headers, replay, &bearer).await?;
        if !matches!(answer.status().as_u16(), 401..=403) {
            return Ok(Some(answered(ctx, answer)));
        }
        let _ = ledger.undo_draw(draw.id, unit_msat).await;
        self.session_ended(&Place::of(ctx), draw.id).await;
        Ok(None)
    }

    /// Opens a new session: the return invoice, the deposit paid, the session recorded, the request sent
    /// with the `open` credential.
    async fn open_session(
        &self,
        ctx: &PayContext<'_>,
        method: &Method,
        mut ch: PaymentChallenge,
        replay: Bytes,
        retry_headers: HeaderMap,
    ) -> Result<Response<ProxyBody>, Failure> {
        let return_invoice = match ctx.timing.wait(Wait::Wallet, self.return_invoice(ctx)).await {
            Ok(invoice) => invoice,
            Err(detail) => {
                return Err(self.refuse_unpaid(ctx, Some(&ch), None, "return_invoice_failed", detail).await);
            }
        };
        let return_hash = crate::invoice::read(&return_invoice).map(|i| i.payment_hash);
        let Ok(return_hash) = return_hash else {
            let detail = "the wallet made a return invoice that cannot be read".to_string();
            return Err(self.refuse_unpaid(ctx, Some(&ch), None, "return_invoice_failed", detail).await);
        };
        let ProofForm::MppSession { return_invoice: slot, unit_msat, .. } = &mut ch.proof else {
            unreachable!("only session challenges come here")
        };
        *slot = Some(return_invoice);
        let unit_msat = *unit_msat;
        let proven = self.pay(ctx, &ch).await?;
        if let Some(payment_id) = proven.payment_id {
            let deposit = crate::invoice::read(&ch.invoice).ok().and_then(|i| i.amount).unwrap_or(Msats(0));
            let session = NewSession {
                agent_id: ctx.agent.id,
                origin: &ctx.target.origin(),
                host: &ctx.host(),
                path: ctx.target.path(),
                session_id: &proven.payment_hash.to_hex(),
                payment_id,
                deposit_msat: deposit.0,
                unit_msat,
                preimage_hex: &proven.preimage.to_hex(),
                return_hash: &return_hash.to_hex(),
            };
            self.host.ledger().open_session(&session).await.map_err(ledger_down)?;
        }
        self.deliver(ctx, method, &ch, proven, replay, retry_headers).await
    }

    /// An amountless invoice from the wallet for what a session does not use.
    async fn return_invoice(&self, ctx: &PayContext<'_>) -> Result<String, String> {
        let wallet = self.host.wallet().wallet().map_err(|e| e.to_string())?;
        let description = format!("Purser: what is left of a session deposit at {}", ctx.host());
        let making = async move { wallet.make_invoice(0, &description, RETURN_INVOICE_EXPIRY_SECS).await };
        let made = match self.host.background() {
            Some(runtime) => runtime.spawn(making).await.map_err(|e| e.to_string())?,
            None => making.await,
        };
        made.map_err(|e| format!("the wallet could not make the invoice a session's refund goes to: {e}"))
    }

    /// Sends the request again with `authorization`.
    async fn send_with(
        &self,
        ctx: &PayContext<'_>,
        method: &Method,
        retry_headers: &HeaderMap,
        body: &Bytes,
        authorization: &str,
    ) -> Result<Response<hyper::body::Incoming>, Failure> {
        let mut headers = retry_headers.clone();
        if let Ok(value) = HeaderValue::from_str(authorization) {
            headers.insert(header::AUTHORIZATION, value);
        }
        let send = self.host.send(method, &ctx.target.uri, headers, body::full(body.clone()));
        ctx.timing.wait(Wait::Upstream, send).await
    }
}

/// The API's answer as the agent gets it, with where the time went.
fn answered(ctx: &PayContext<'_>, answer: Response<hyper::body::Incoming>) -> Response<ProxyBody> {
    let mut resp = headers::response_to_agent(answer);
    resp.headers_mut().append("server-timing", ctx.timing.header());
    resp
}

/// The lock held while a session is opened for `agent_id` at `origin` (in this instance).
fn opening_lock(agent_id: i64, origin: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    type Locks = std::sync::Mutex<std::collections::HashMap<(i64, String), std::sync::Arc<tokio::sync::Mutex<()>>>>;
    static LOCKS: std::sync::OnceLock<Locks> = std::sync::OnceLock::new();
    let mut locks = LOCKS.get_or_init(Default::default).lock().unwrap();
    // Locks no call holds or waits on are let go.
    locks.retain(|_, lock| std::sync::Arc::strong_count(lock) > 1);
    locks.entry((agent_id, origin.to_string())).or_default().clone()
}
