//! The life of a payable 402, in the order it happens. The proxy forwards a request; when the API answers
//! `402 Payment Required`, it hands the answer here, and this module takes it to the end:
//!
//! 1. **Read the challenge** ([`Flow::after_402`]): the 402's body, bounded in size and time, into one
//!    [`crate::challenge::PaymentChallenge`]; a 402 with no Lightning challenge goes back to the agent as it
//!    came, an offer Purser cannot pay is recorded and passed on, a malformed one is refused. A body of L402
//!    offers has the chosen offer's invoice asked for first ([`offers`]).
//! 2. **Check the invoice and the price** ([`checks`]): BOLT11 against the wallet's network, the amount the
//!    challenge states or the 402 quotes, the challenge's expiry, `Purser-Max-Sats`, the advertised price;
//!    the BTC rates the decision needs ([`rates`]) and `Purser-Max-Fiat`.
//! 3. **Decide, hold for a person, reserve** ([`decide`]): policy over the ledger's snapshot, written with
//!    the payment row in one transaction; a person's answer when policy asks, then reserved again with it.
//!    A dry run ([`dry_run`]) is the same flow stopping before the reservation.
//! 4. **Mark paying, pay, settle** ([`pay`]): the `paying` step on disk before the wallet hears of the
//!    invoice, the wallet's answer checked against the payment hash and written before anything else.
//! 5. **Apply the proof, retry, record delivery** ([`retry`], [`proof`]): the proof kept as soon as it
//!    exists, the retry sent (again, with the same proof, when the API does not answer), the delivery
//!    recorded, and the alerts it raised sent on.
//!
//! An MPP session challenge takes its own way ([`session`]): drawn from an open session, or a new one
//! opened with a deposit paid as above.
//!
//! Every step that can fail ends in a named outcome ([`refuse`]): written to the ledger first, then answered
//! to the agent as a [`Failure`]. [`context`] holds what the flow knows of the request; [`timing`] where its
//! time goes. The flow reaches the rest of Purser only through [`Host`]: it never depends on the proxy.

pub mod checks;
pub mod context;
pub mod decide;
pub mod dry_run;
pub mod offers;
pub mod pay;
pub mod proof;
pub mod rates;
pub mod refuse;
pub mod retry;
pub mod session;
pub mod session_close;
pub mod timing;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, Uri};
use hyper::body::Incoming;

use self::context::PayContext;
use self::timing::{Timing, Wait};
use crate::approval::Approvals;
use crate::challenge;
use crate::config::Settings;
use crate::events::Events;
use crate::http::body::{self, ProxyBody};
use crate::http::failure::Failure;
use crate::http::headers;
use crate::http::target::Target;
use crate::ledger::Ledger;
use crate::ledger::agents::Agent;
use crate::wallet::WalletHandle;

/// What the flow needs from whoever forwards requests (the proxy): its stores, its wallet, and a way to send
/// a request upstream.
pub trait Host: Send + Sync {
    fn settings(&self) -> &Settings;
    fn ledger(&self) -> &Ledger;
    fn events(&self) -> &Events;
    fn approvals(&self) -> &Approvals;
    fn wallet(&self) -> &WalletHandle;
    fn pricing(&self) -> &crate::pricing::Fetcher;
    /// BTC rates, for limits and figures in a currency.
    fn rates(&self) -> &std::sync::Arc<crate::rates::Rates>;
    /// The runtime that outlives the serving threads, where the wallet is asked; `None` before serving.
    fn background(&self) -> Option<&tokio::runtime::Handle>;
    /// Sends one request upstream and waits for its response head.
    fn send<'a>(
        &'a self,
        method: &'a Method,
        uri: &'a Uri,
        headers: HeaderMap,
        body: ProxyBody,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Incoming>, Failure>> + Send + 'a>>;
}

/// The payment flow over one [`Host`].
#[derive(Clone, Copy)]
pub struct Flow<'a> {
    host: &'a dyn Host,
}

/// A request the API answered with 402, as the flow takes it over.
pub struct Payable<'a> {
    pub request_id: &'a str,
    pub agent: &'a Agent,
    pub method: &'a Method,
    pub target: &'a Target,
    pub timing: &'a Timing,
    /// The most this request may pay (`Purser-Max-Sats`), in msat.
    pub max_msat: Option<u64>,
    /// The most this request may pay in a currency (`Purser-Max-Fiat`).
    pub max_fiat: Option<crate::rates::Money>,
    /// The task allowance the request names (`Purser-Allowance`).
    pub allowance: Option<i64>,
    /// Why the agent needs it (`Purser-Reason`), for a person who is asked.
    pub agent_reason: Option<String>,
    /// `Purser-Dry-Run`: say what would happen, pay nothing.
    pub dry_run: bool,
    /// The request body to send again with the proof; `None` when it was too large to keep.
    pub replay: Option<Bytes>,
    /// The headers the retry starts from: the agent's, less hop-by-hop fields, with a kept proof the API did
    /// not refuse.
    pub retry_headers: HeaderMap,
    /// The headers as the request was first sent (with any kept proof): an API paid through its offers knows
    /// the caller by them, so its retry repeats them.
    pub sent_headers: HeaderMap,
}

impl<'a> Payable<'a> {
    /// What the payment flow knows of this request, with the 402's `challenge_headers`.
    fn context<'b>(&self, challenge_headers: &'b HeaderMap) -> PayContext<'b>
    where
        'a: 'b,
    {
        PayContext {
            request_id: self.request_id,
            agent: self.agent,
            method: self.method.as_str(),
            target: self.target,
            challenge_headers,
            max_msat: self.max_msat,
            max_fiat: self.max_fiat.clone(),
            allowance: self.allowance,
            agent_reason: self.agent_reason.clone(),
            timing: self.timing,
        }
    }
}

impl<'a> Flow<'a> {
    pub fn new(host: &'a dyn Host) -> Self {
        Flow { host }
    }

    /// Takes a 402 to its end: paid and retried, passed on, or refused with a named reason.
    pub async fn after_402(&self, req: Payable<'_>, resp: Response<Incoming>) -> Result<Response<ProxyBody>, Failure> {
        let (resp_parts, resp_body) = resp.into_parts();
        let settings = self.host.settings();
        let limit = settings.challenge_body_limit_bytes;
        let read = tokio::time::timeout(settings.upstream_timeout, body::read_bounded(resp_body, limit));
        let (head, rest) = match req.timing.wait(Wait::Upstream, read).await {
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
                        settings.upstream_timeout.as_secs()
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
        let ctx = req.context(&resp_parts.headers);
        // The L402 offers form brings no invoice: the chosen offer's is asked for first; the purchase is this
        // request's alone until it is paid and sent again.
        let whole = rest.is_none().then_some(&head[..]);
        let mut _buying = None;
        let parsed = match self.or_offered(&ctx, parsed, whole, req.dry_run, req.replay.is_some()).await? {
            offers::FromOffers::Parsed(parsed) => parsed,
            offers::FromOffers::Chosen(ch, buying) => {
                _buying = buying;
                Ok(ch)
            }
            offers::FromOffers::PassOn => return Ok(passthrough(head, rest)),
            offers::FromOffers::Answer(resp) => return Ok(resp),
        };
        let ch = match parsed {
            Ok(ch) => ch,
            // Not a Lightning challenge Purser knows: the agent sees the 402 as the server sent it.
            Err(challenge::Error::NoChallenge) => return Ok(passthrough(head, rest)),
            // A dry run writes nothing: it says why Purser would not pay.
            Err(e) if req.dry_run => {
                return Ok(dry_run::unpayable(&ctx, e.kind_label(), e.reason(), &e.to_string()));
            }
            // Offers Purser cannot pay (another chain or method): recorded, and passed on untouched.
            Err(e @ challenge::Error::UnsupportedScheme(_)) => {
                self.record_unpayable(&ctx, e.kind_label(), e.reason(), &e.to_string()).await;
                return Ok(passthrough(head, rest));
            }
            Err(e) => return Err(self.refuse_unpaid(&ctx, None, None, e.reason(), e.to_string()).await),
        };
        if req.dry_run {
            return Ok(self.dry_run(&ctx, &ch).await);
        }
        let Some(replay) = req.replay else {
            let detail = format!(
                "the request body is larger than the {} bytes Purser keeps to replay a request after paying",
                settings.body_buffer_limit_bytes
            );
            return Err(self.refuse_unpaid(&ctx, Some(&ch), None, "body_too_large", detail).await);
        };
        self.pay_and_send(&ctx, req.method, ch, replay, (req.retry_headers, req.sent_headers)).await
    }

    /// Pays `ch` and sends the request again with its proof; a session challenge takes its own way. Of the
    /// `(retry, sent)` headers ([`Payable`]), a retry in the offers form repeats those first sent.
    async fn pay_and_send(
        &self,
        ctx: &PayContext<'_>,
        method: &Method,
        ch: challenge::PaymentChallenge,
        replay: Bytes,
        (retry_headers, sent_headers): (HeaderMap, HeaderMap),
    ) -> Result<Response<ProxyBody>, Failure> {
        let retry_headers = match ch.proof {
            challenge::ProofForm::Unchanged => sent_headers,
            _ => retry_headers,
        };
        if matches!(ch.proof, challenge::ProofForm::MppSession { .. }) {
            return self.through_session(ctx, method, ch, replay, retry_headers).await;
        }
        let proven = self.pay(ctx, &ch).await?;
        self.deliver(ctx, method, &ch, proven, replay, retry_headers).await
    }
}
