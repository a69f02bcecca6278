//! A 402 in the L402 offers form: the cheapest one-time Lightning offer is chosen, priced in sats or, in a
//! currency, at Purser's rate — or, when there is none, the cheapest top-up where the person allows top-ups
//! (a remembered rule for the agent on that API, or a task allowance covering it). Its invoice is asked of
//! the payment request URL with the context token, and the challenge it makes handed to the rest of the flow:
//! the invoice must ask exactly an offer's amount in sats, or at most a little more than an offer's price in
//! a currency (the API converts at its own rate). The request is then sent again as first sent, so the API
//! must know the caller from the request itself. Offers Purser does not take (other payment methods,
//! subscriptions, top-ups not allowed, prices with no rate) are named when none is left. While an earlier
//! payment by offers to the same API is not honoured yet, none is made again. Credit bought by a top-up is
//! held at the API until the API asks to be paid again: that 402 records it used up.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, Uri};
use serde_json::json;

use super::Flow;
use super::context::PayContext;
use super::refuse::ledger_down;
use super::timing::Wait;
use crate::challenge::offers::{self, Offers};
use crate::challenge::{self, ChallengeKind, PaymentChallenge};
use crate::http::body::{self, ProxyBody};
use crate::http::failure::Failure;
use crate::rates::RatesAtHand;

/// The largest answer of a payment request URL read.
const MAX_ANSWER_BYTES: usize = 64 << 10;

/// The most currencies an offers body's prices are converted from.
const MAX_OFFER_CURRENCIES: usize = 3;

/// What a 402 comes to once an offers body is looked for.
pub(crate) enum FromOffers {
    /// Not an offers body (or one read in part only): the challenge as parsed.
    Parsed(challenge::Result<PaymentChallenge>),
    /// The chosen offer's invoice, as a challenge to check and pay, with the hold on buying at this API
    /// (none on a dry run) that lasts until the payment is made and the request sent again.
    Chosen(PaymentChallenge, Option<Buying>),
    /// No offer Purser takes: recorded, and the 402 goes to the agent as it came.
    PassOn,
    /// A dry run's answer, written nowhere.
    Answer(Response<ProxyBody>),
}

/// How long an earlier payment by the offers form that its API has not yet honoured holds back the next:
/// the API may still be learning of it, and paying again would pay twice.
const UNCONFIRMED_WINDOW_MS: i64 = 10 * 60 * 1000;

impl Flow<'_> {
    /// `parsed`, or, when the 402's `body` (read whole) lists L402 offers, what they come to: the chosen
    /// offer's challenge, with its invoice asked for (also on a dry run, as a quote would be: asking costs
    /// nothing), or why none is taken. `can_replay` says whether the request could be sent again.
    pub(crate) async fn or_offered(
        &self,
        ctx: &PayContext<'_>,
        parsed: challenge::Result<PaymentChallenge>,
        body: Option<&[u8]>,
        dry_run: bool,
        can_replay: bool,
    ) -> Result<FromOffers, Failure> {
        let listed = match (&parsed, body) {
            (Err(challenge::Error::NoChallenge), Some(body)) => offers::read(body),
            _ => None,
        };
        let Some(list) = listed else { return Ok(FromOffers::Parsed(parsed)) };
        if !dry_run {
            self.credits_used_up(ctx).await?;
        }
        let (offer, msat) = match self.choose(ctx, &list).await? {
            Ok(chosen) => chosen,
            Err(why) => {
                let kind = ChallengeKind::L402Offers.as_str();
                if dry_run {
                    return Ok(FromOffers::Answer(super::dry_run::unpayable(ctx, kind, "unsupported_scheme", &why)));
                }
                self.record_unpayable(ctx, kind, "unsupported_scheme", &why).await;
                return Ok(FromOffers::PassOn);
            }
        };
        let buying = match dry_run {
            true => None,
            false => Some(self.may_ask_for_offer(ctx, can_replay).await?),
        };
        let kind = ChallengeKind::of_offer(offer).as_str();
        match self.invoice_for(ctx, &list, offer, msat).await {
            Ok(ch) => Ok(FromOffers::Chosen(ch, buying)),
            Err(e) if dry_run => {
                Ok(FromOffers::Answer(super::dry_run::unpayable(ctx, kind, "payment_request_failed", &e.to_string())))
            }
            Err(e) => {
                let detail = e.to_string();
                self.record_refusal_as(ctx, kind, "payment_request_failed", &detail).await.map_err(ledger_down)?;
                Err(Failure::BadGateway { reason: "payment_request_failed", detail })
            }
        }
    }

    /// Refuses before an invoice is asked for what could not be paid anyway: a request too large to send
    /// again, one to an API where this agent is buying already (another request of its own, on this
    /// instance), or one to an API that has not yet honoured this agent's last payment by offers. Else the
    /// hold on buying there.
    async fn may_ask_for_offer(&self, ctx: &PayContext<'_>, can_replay: bool) -> Result<Buying, Failure> {
        if !can_replay {
            let detail = format!(
                "the request body is larger than the {} bytes Purser keeps to replay a request after paying",
                self.host.settings().body_buffer_limit_bytes
            );
            let kind = ChallengeKind::L402Offers.as_str();
            self.record_refusal_as(ctx, kind, "body_too_large", &detail).await.map_err(ledger_down)?;
            return Err(self.refused(ctx, None, "body_too_large", detail, serde_json::Value::Null));
        }
        let in_flight =
            |detail: String| Failure::Unavailable { reason: "payment_in_flight".into(), detail, retry_after_secs: 10 };
        let Some(buying) = Buying::take(ctx.agent.id, &ctx.host()) else {
            return Err(in_flight(
                "another request of this agent is buying at this API by its offers; Purser does not buy twice: \
                 try again in a moment"
                    .into(),
            ));
        };
        let since = self.host.ledger().now_ms() - UNCONFIRMED_WINDOW_MS;
        let sent_at_ms = sent_at_ms(self.host.ledger(), ctx);
        let earlier = self.host.ledger().unconfirmed_offer_payment(ctx.agent.id, &ctx.host(), since, sent_at_ms).await;
        match earlier.map_err(ledger_down)? {
            None => Ok(buying),
            Some(id) => Err(in_flight(format!(
                "payment #{id} to this API by its offers was made since this request was sent, or is not honoured \
                 yet (the API learns of payments on its own); Purser does not pay again meanwhile: try again in a \
                 moment"
            ))),
        }
    }

    /// The API asks to be paid again: credit bought at this path before, honoured before this request was
    /// sent (or never honoured, long ago), is used up.
    async fn credits_used_up(&self, ctx: &PayContext<'_>) -> Result<(), Failure> {
        let ledger = self.host.ledger();
        let (host, sent) = (ctx.host(), sent_at_ms(ledger, ctx));
        let used_up = ledger.credits_used_up(ctx.agent.id, (&host, ctx.target.path()), sent, UNCONFIRMED_WINDOW_MS);
        if used_up.await.map_err(ledger_down)? > 0 {
            self.host.events().emit(crate::events::Event::HeldChanged { host });
        }
        Ok(())
    }

    /// The offer to take with its price in msat, or why none: offers in a currency are priced at Purser's
    /// rate; a one-time offer first, credit held at the API only where the person allows top-ups there.
    async fn choose<'o>(
        &self,
        ctx: &PayContext<'_>,
        list: &'o Offers,
    ) -> Result<Result<(&'o offers::Offer, u64), String>, Failure> {
        let rates = self.offer_rates(list).await;
        let price = |o: &offers::Offer| {
            o.msat().or_else(|| {
                let money = o.money()?;
                Some(rates.rate(&money.currency)?.msat_for_micros(money.micros).0)
            })
        };
        if let Some(one_time) = offers::cheapest(list, price) {
            return Ok(Ok(one_time));
        }
        let top_up = offers::cheapest_top_up(list, price);
        if let Some(offer) = top_up {
            let ledger = self.host.ledger();
            if ledger.top_ups_allowed(ctx.agent.id, &ctx.host(), ctx.target.path()).await.map_err(ledger_down)? {
                return Ok(Ok(offer));
            }
        }
        let mut why = offers::why_none(list);
        for (currency, missing) in &rates.missing {
            why.push_str(&format!("; offers in {currency} cannot be priced: {missing}"));
        }
        if top_up.is_some() {
            let host = ctx.host();
            why.push_str(&format!(
                "; a top-up is bought only where you allow it: a remembered rule for this agent on {host} \
                 (`purser rule add --agent {} --api {host} --max-sats-per-day N`) or a task allowance covering it",
                ctx.agent.name,
            ));
        }
        Ok(Err(why))
    }

    /// The rates the offers' prices in a currency are converted at (the first few currencies only: a
    /// server cannot make Purser ask about many).
    async fn offer_rates(&self, list: &Offers) -> RatesAtHand {
        let mut at_hand = RatesAtHand::default();
        let max_age = self.host.settings().rate_max_age;
        for currency in offers::currencies(list).into_iter().take(MAX_OFFER_CURRENCIES) {
            match self.host.rates().get(&currency, max_age).await {
                Ok(rate) => at_hand.rates.push(rate),
                Err(e) => at_hand.missing.push((currency, e.to_string())),
            }
        }
        at_hand
    }

    /// Asks the payment request URL for `offer`'s invoice (`msat` its price): its challenge, or why not.
    async fn invoice_for(
        &self,
        ctx: &PayContext<'_>,
        list: &Offers,
        offer: &offers::Offer,
        msat: u64,
    ) -> Result<PaymentChallenge, NoInvoice> {
        let Some(uri) = request_uri(&ctx.target.origin(), &list.payment_request_url) else {
            return Err(NoInvoice::Elsewhere(offers::shown(&list.payment_request_url)));
        };
        let asked = json!({"offer_id": offer.id, "payment_method": "lightning",
            "payment_context_token": list.payment_context_token});
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let settings = self.host.settings();
        let answer = async {
            let resp = self.host.send(&Method::POST, &uri, headers, body::full(asked.to_string())).await?;
            let status = resp.status();
            let read = body::read_bounded(resp.into_body(), MAX_ANSWER_BYTES).await;
            Ok::<_, Failure>((status, read.map(|(head, rest)| (head, rest.is_some()))))
        };
        let answered = ctx.timing.wait(Wait::Upstream, tokio::time::timeout(settings.upstream_timeout, answer)).await;
        let (status, bytes): (_, Bytes) = match answered {
            Err(_) => return Err(NoInvoice::Timeout(settings.upstream_timeout.as_secs())),
            Ok(Err(f)) => return Err(NoInvoice::Unreachable(f.detail().to_string())),
            Ok(Ok((status, Ok((head, false))))) => (status, head),
            Ok(Ok(_)) => return Err(NoInvoice::Unreadable),
        };
        let invoice = offers::invoice_of(&bytes).filter(|_| status.is_success());
        invoice
            .map(|invoice| PaymentChallenge::from_offer(offer, &invoice, msat))
            .ok_or_else(|| NoInvoice::NotGiven { status: status.as_u16(), offer: offers::shown(&offer.id) })
    }
}

/// When the request was sent to the API, as the ledger's clock tells time: when it reached Purser.
fn sent_at_ms(ledger: &crate::ledger::Ledger, ctx: &PayContext<'_>) -> i64 {
    let arrived = i64::try_from(ctx.timing.since_arrival().as_millis()).unwrap_or(i64::MAX);
    ledger.now_ms().saturating_sub(arrived)
}

/// One agent buying at one API by its offers, on this instance: while it lasts, no other request of the agent
/// buys there (the API learns of a payment on its own, so two could each pay for what one would have bought).
#[derive(Debug)]
pub(crate) struct Buying {
    key: (i64, String),
}

type BuyingAt = std::sync::Mutex<std::collections::HashSet<(i64, String)>>;

fn buying_at() -> &'static BuyingAt {
    static BUYING: std::sync::OnceLock<BuyingAt> = std::sync::OnceLock::new();
    BUYING.get_or_init(Default::default)
}

impl Buying {
    /// The hold on `agent_id` buying at `host`, unless another request holds it.
    fn take(agent_id: i64, host: &str) -> Option<Buying> {
        let key = (agent_id, host.to_string());
        let taken = buying_at().lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone());
        // Made only when taken: a hold dropped here would let go of another request's.
        taken.then(|| Buying { key })
    }
}

impl Drop for Buying {
    fn drop(&mut self) {
        buying_at().lock().unwrap_or_else(|e| e.into_inner()).remove(&self.key);
    }
}

/// Why the chosen offer's invoice was not had (`payment_request_failed`).
#[derive(Debug, thiserror::Error)]
enum NoInvoice {
    #[error("the offers' payment_request_url `{0}` is neither on the API's origin nor an https URL to a name")]
    Elsewhere(String),
    #[error("the payment request URL did not answer within {0} s")]
    Timeout(u64),
    #[error("the payment request URL could not be asked: {0}")]
    Unreachable(String),
    #[error("the payment request URL's answer is unreadable or too large")]
    Unreadable,
    #[error("the payment request URL answered {status} with no Lightning invoice for offer {offer}")]
    NotGiven { status: u16, offer: String },
}

/// Where to ask for the invoice: a path or URL on the API's own origin, or an https URL to a host name
/// elsewhere (a hosted provider's); never an address or `localhost` other than the API's own.
fn request_uri(origin: &str, url: &str) -> Option<Uri> {
    let base = url::Url::parse(origin).ok()?;
    let target = base.join(url).ok()?;
    let same = crate::http::target::origin_of(target.as_str()).as_deref() == Some(origin);
    let named = matches!(target.host(), Some(url::Host::Domain(d)) if !d.eq_ignore_ascii_case("localhost")
        && !d.to_ascii_lowercase().ends_with(".localhost"));
    (same || (target.scheme() == "https" && named)).then(|| target.as_str().parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invoice_is_asked_on_the_apis_origin_or_over_https() {
        let origin = "http://127.0.0.1:8080";
        assert_eq!(
            request_uri(origin, "/l402/payment-request").unwrap().to_string(),
            "http://127.0.0.1:8080/l402/payment-request"
        );
        assert!(request_uri(origin, "https://api.fewsats.com/v0/l402/payment-request").is_some());
        assert!(request_uri(origin, "http://169.254.169.254/latest").is_none(), "plain http elsewhere");
        assert!(request_uri(origin, "file:///etc/passwd").is_none());
        assert!(request_uri(origin, "https://10.0.0.1/pay").is_none(), "an address elsewhere");
        assert!(request_uri(origin, "https://[::1]:8443/pay").is_none());
        assert!(request_uri(origin, "https://localhost:8443/pay").is_none());
    }
}
