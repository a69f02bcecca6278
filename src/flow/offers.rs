//! A 402 in the L402 offers form: the cheapest one-time Lightning offer priced in sats is chosen, its
//! invoice asked of the payment request URL with the context token, and the challenge it makes handed to
//! the rest of the flow (the invoice must ask exactly the offer's amount; the request is then sent again
//! unchanged). Offers Purser does not take (other payment methods, top-ups, subscriptions, fiat prices) are
//! named when none is left.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Uri};
use serde_json::json;

use super::Flow;
use super::context::PayContext;
use super::timing::Wait;
use crate::challenge::offers::{self, Offers};
use crate::challenge::{self, ChallengeKind, PaymentChallenge};
use crate::http::body;
use crate::http::failure::Failure;

/// The largest answer of a payment request URL read.
const MAX_ANSWER_BYTES: usize = 64 << 10;

/// What the offers come to.
enum Offered {
    /// The chosen offer's invoice, as a challenge to check and pay.
    Challenge(PaymentChallenge),
    /// None is one Purser takes: why, for the ledger; the agent gets the 402 as it came.
    NotTaken(String),
}

impl Flow<'_> {
    /// `parsed`, or, when the 402's `body` (read whole) lists L402 offers, the chosen offer's challenge.
    /// `None` when the offers hold none Purser takes: that is recorded, and the 402 goes to the agent as it
    /// came.
    pub(crate) async fn or_offered(
        &self,
        ctx: &PayContext<'_>,
        parsed: challenge::Result<PaymentChallenge>,
        body: Option<&[u8]>,
    ) -> Result<Option<challenge::Result<PaymentChallenge>>, Failure> {
        let listed = match (&parsed, body) {
            (Err(challenge::Error::NoChallenge), Some(body)) => offers::read(body),
            _ => None,
        };
        let Some(list) = listed else { return Ok(Some(parsed)) };
        match self.offered(ctx, &list).await? {
            Offered::Challenge(ch) => Ok(Some(Ok(ch))),
            Offered::NotTaken(why) => {
                self.record_unpayable(ctx, ChallengeKind::L402Offers.as_str(), "unsupported_scheme", &why).await;
                Ok(None)
            }
        }
    }

    /// Chooses among `list` and asks for the chosen offer's invoice.
    async fn offered(&self, ctx: &PayContext<'_>, list: &Offers) -> Result<Offered, Failure> {
        let Some(offer) = offers::cheapest(list) else {
            return Ok(Offered::NotTaken(offers::why_none(list)));
        };
        let refuse = |detail: String| self.refuse_unpaid(ctx, None, None, "malformed_challenge", detail);
        let Some(uri) = request_uri(&ctx.target.origin(), &list.payment_request_url) else {
            let detail = format!(
                "the offers' payment_request_url `{}` is neither on the API's origin nor an https URL",
                list.payment_request_url
            );
            return Err(refuse(detail).await);
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
            Err(_) => {
                let detail =
                    format!("the payment request URL did not answer within {} s", settings.upstream_timeout.as_secs());
                return Err(refuse(detail).await);
            }
            Ok(Err(f)) => {
                return Err(refuse(format!("the payment request URL could not be asked: {}", f.detail())).await);
            }
            Ok(Ok((status, Ok((head, false))))) => (status, head),
            Ok(Ok((_, _))) => {
                return Err(refuse("the payment request URL's answer is unreadable or too large".into()).await);
            }
        };
        match offers::invoice_of(&bytes).filter(|_| status.is_success()) {
            Some(invoice) => Ok(Offered::Challenge(PaymentChallenge::from_offer(offer, &invoice))),
            None => {
                let said: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
                let detail = format!(
                    "the payment request URL gave no Lightning invoice for offer {} ({}: {said})",
                    offer.id,
                    status.as_u16()
                );
                Err(refuse(detail).await)
            }
        }
    }
}

/// Where to ask for the invoice: a path or URL on the API's own origin, or an https URL elsewhere (a hosted
/// provider's).
fn request_uri(origin: &str, url: &str) -> Option<Uri> {
    let base = url::Url::parse(origin).ok()?;
    let target = base.join(url).ok()?;
    let same = crate::http::target::origin_of(target.as_str()).as_deref() == Some(origin);
    (same || target.scheme() == "https").then(|| target.as_str().parse().ok()).flatten()
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
    }
}
