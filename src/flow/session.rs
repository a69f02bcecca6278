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
use super::retry::answered;
use super::session_close::Place;
use super::timing::Wait;
use crate::challenge::mpp::{SessionAction, session_credential};
use crate::challenge::{PaymentChallenge, ProofForm};
use crate::http::body::{self, ProxyBody};
use crate::http::failure::Failure;
use crate::http::headers;
use crate::ledger::sessions::{Dry, NewSession};
use crate::units::Msats;

/// What a draw from an open session came to.
enum Drawn {
    Served(Response<ProxyBody>),
    NoRoom,
    Refused,
}

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
        self.refuse_if_paused(ctx, &ch).await?;
        if let Some(max) = ctx.max_msat.filter(|max| unit_msat > *max) {
            let detail = format!(
                "a call drawn from a session there costs {}, above the {} this request allows (Purser-Max-Sats)",
                Msats(unit_msat),
                Msats(max)
            );
            return Err(self.refuse_unpaid(ctx, Some(&ch), None, "max_sats_exceeded", detail).await);
        }
        let (replay_ref, headers_ref) = (&replay, &retry_headers);
        let draw = |challenge: Map<String, Value>| async move {
            self.drawn(ctx, method, &challenge, unit_msat, replay_ref, headers_ref).await
        };
        let mut used = false;
        match draw(challenge.clone()).await? {
            Drawn::Served(answer) => return Ok(answer),
            Drawn::Refused => used = true,
            Drawn::NoRoom => {}
        }
        // One session opened at a time per agent and API: calls that find none wait here, then draw from
        // the one just opened rather than each paying a deposit.
        let opening = opening_lock(ctx.agent.id, &origin);
        let _opening = opening.lock().await;
        if !used {
            match draw(challenge).await? {
                Drawn::Served(answer) => return Ok(answer),
                Drawn::Refused => used = true,
                Drawn::NoRoom => {}
            }
        }
        let place = Place::of(ctx);
        for dry in ledger.dry_sessions(ctx.agent.id, &origin, unit_msat).await.map_err(ledger_down)? {
            // A close that fails leaves the session open and counted as held; a person can close it later.
            let _ = self.close_session(&place, &dry).await;
        }
        // A challenge answers one credential: one a refused draw used is not opened with.
        let ch = match used {
            false => ch,
            true => match self.fresh_challenge(ctx, method, &replay, &retry_headers).await? {
                Ok(fresh) => fresh,
                Err(answer) => return Ok(answer),
            },
        };
        self.open_session(ctx, method, ch, replay, retry_headers).await
    }

    /// A pause stops draws too: they spend the deposit.
    async fn refuse_if_paused(&self, ctx: &PayContext<'_>, ch: &PaymentChallenge) -> Result<(), Failure> {
        let Some(whom) = self.host.ledger().payments_paused(ctx.agent.id).await.map_err(ledger_down)? else {
            return Ok(());
        };
        let whom = if whom == "all" {
            "all payments are paused".to_string()
        } else {
            format!("agent {} is paused", ctx.agent.name)
        };
        let detail = format!("{whom}; resume with `purser resume`");
        Err(self.refuse_unpaid(ctx, Some(ch), None, "payments_paused", detail).await)
    }

    /// Sends the request as the agent did, without a credential, for a fresh session challenge: the
    /// challenge, or the API's answer for the agent when it gives none (another 402, or an answer).
    async fn fresh_challenge(
        &self,
        ctx: &PayContext<'_>,
        method: &Method,
        replay: &Bytes,
        retry_headers: &HeaderMap,
    ) -> Result<Result<PaymentChallenge, Response<ProxyBody>>, Failure> {
        let mut headers = retry_headers.clone();
        headers.remove(header::AUTHORIZATION);
        let send = self.host.send(method, &ctx.target.uri, headers, body::full(replay.clone()));
        let answer = ctx.timing.wait(Wait::Upstream, send).await?;
        if answer.status() != http::StatusCode::PAYMENT_REQUIRED {
            return Ok(Err(answered(ctx, answer)));
        }
        let (parts, rest) = answer.into_parts();
        let limit = self.host.settings().challenge_body_limit_bytes;
        let read = tokio::time::timeout(self.host.settings().upstream_timeout, body::read_bounded(rest, limit)).await;
        let head = match read {
            Ok(Ok((head, None))) => head,
            _ => Bytes::new(),
        };
        match crate::challenge::parse(&parts.headers, &head) {
            Ok(fresh) if matches!(fresh.proof, ProofForm::MppSession { .. }) => Ok(Ok(fresh)),
            _ => {
                let mut resp = Response::from_parts(parts, body::full(head));
                let version = resp.version();
                headers::to_agent(resp.headers_mut(), version);
                Ok(Err(resp))
            }
        }
    }

    /// Draws one call's price from the agent's open session at the API and sends the request with a `bearer`
    /// credential: `Served` with the API's answer; `NoRoom` when no open session holds the price; `Refused`
    /// when the API did not honour it (the challenge is then used up).
    async fn drawn(
        &self,
        ctx: &PayContext<'_>,
        method: &Method,
        challenge: &Map<String, Value>,
        unit_msat: u64,
        replay: &Bytes,
        retry_headers: &HeaderMap,
    ) -> Result<Drawn, Failure> {
        let ledger = self.host.ledger();
        let origin = ctx.target.origin();
        let Some(draw) = ledger.draw_session(ctx.agent.id, &origin, unit_msat).await.map_err(ledger_down)? else {
            return Ok(Drawn::NoRoom);
        };
        self.host.events().emit(crate::events::Event::HeldChanged { host: ctx.host() });
        let bearer = session_credential(challenge, SessionAction::Bearer, &draw.preimage_hex);
        let answer = self.send_with(ctx, method, retry_headers, replay, &bearer).await?;
        if !matches!(answer.status().as_u16(), 401..=403) {
            return Ok(Drawn::Served(answered(ctx, answer)));
        }
        // Refused: the API may count less left than Purser does (an API that bills the open call, or an
        // insufficient balance), or have ended the session. The draw is given back and the session closed,
        // which returns what the API still holds; an API that refuses the close too ended it.
        let _ = ledger.undo_draw(draw.id, unit_msat).await;
        let dry = Dry { id: draw.id, preimage_hex: draw.preimage_hex, left_msat: draw.left_msat + unit_msat };
        let _ = self.close_session(&Place::of(ctx), &dry).await;
        Ok(Drawn::Refused)
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
            Err(e) => {
                let detail = format!("the wallet could not make the invoice a session's refund goes to: {e}");
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

    /// An amountless invoice from the wallet for what a session does not use, asked on the runtime that
    /// outlives the serving threads (as payments are).
    async fn return_invoice(&self, ctx: &PayContext<'_>) -> crate::wallet::Result<String> {
        let wallet = self.host.wallet().wallet()?;
        let description = format!("Purser: what is left of a session deposit at {}", ctx.host());
        let making = async move { wallet.make_invoice(0, &description, RETURN_INVOICE_EXPIRY_SECS).await };
        match self.host.background() {
            Some(runtime) => runtime
                .spawn(making)
                .await
                .unwrap_or_else(|e| Err(crate::wallet::Error::Protocol(format!("the wallet request stopped: {e}")))),
            None => making.await,
        }
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

/// The lock held while a session is opened for `agent_id` at `origin` (in this instance).
fn opening_lock(agent_id: i64, origin: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    type Locks = std::sync::Mutex<std::collections::HashMap<(i64, String), std::sync::Arc<tokio::sync::Mutex<()>>>>;
    static LOCKS: std::sync::OnceLock<Locks> = std::sync::OnceLock::new();
    let mut locks = LOCKS.get_or_init(Default::default).lock().unwrap();
    // Locks no call holds or waits on are let go.
    locks.retain(|_, lock| std::sync::Arc::strong_count(lock) > 1);
    locks.entry((agent_id, origin.to_string())).or_default().clone()
}
