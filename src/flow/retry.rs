//! After the payment: the proof goes on the retry and is kept as soon as it exists, the retry is sent (the
//! same proof again when the API does not answer), the delivery is recorded with the alerts it raises, and
//! proofs the API refused or used are forgotten.

use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use hyper::body::Incoming;

use super::Flow;
use super::context::{PayContext, Proven};
use super::proof;
use super::timing::Wait;
use crate::challenge::PaymentChallenge;
use crate::http::body::{self, ProxyBody};
use crate::http::failure::Failure;
use crate::http::headers;
use crate::ledger::delivery::UsedProof;
use crate::policy::Rules;

/// Pauses before each further try of a paid retry whose answer did not come, or came as 502/503/504.
const PAID_RETRY_BACKOFF: [std::time::Duration; 2] =
    [std::time::Duration::from_millis(250), std::time::Duration::from_millis(1000)];
/// The same for an API that learns of the payment on its own (a webhook from its provider) and answers 402
/// until it has: longer, about as long as such providers' own clients wait.
const LEARNS_LATER_BACKOFF: [std::time::Duration; 3] =
    [std::time::Duration::from_millis(500), std::time::Duration::from_millis(1500), std::time::Duration::from_secs(3)];

impl Flow<'_> {
    /// Sends the request again with the proof of `proven`, and records whether it was delivered.
    pub(crate) async fn deliver(
        &self,
        ctx: &PayContext<'_>,
        method: &Method,
        ch: &PaymentChallenge,
        proven: Proven,
        replay: Bytes,
        retry_headers: HeaderMap,
    ) -> Result<Response<ProxyBody>, Failure> {
        let (agent, target, request_id) = (ctx.agent, ctx.target, ctx.request_id);
        let origin = target.origin();
        let ledger = self.host.ledger();
        let retry = proof::apply(
            ch,
            &proven.payment_hash,
            &proven.preimage,
            proof::Retry {
                uri: target.uri.clone(),
                headers: retry_headers,
                body: replay,
                authorization: None,
                single_use: None,
            },
        );
        // The proof was kept with the payment's outcome (see `pay`): if the retry fails, or the agent hangs up
        // meanwhile, the agent's next try sends it instead of paying again. A server that learns of the
        // payment on its own (the offers form) has no proof to keep: its 402 is waited out like a gateway
        // error, and while it does not honour the payment Purser pays it nothing more (see `offers`).
        let learns_later = matches!(ch.proof, crate::challenge::ProofForm::Unchanged);
        let answer = ctx.timing.wait(Wait::Upstream, self.send_proven(method, &retry, request_id, learns_later)).await;
        let status = answer.as_ref().ok().map(|r| r.status().as_u16());
        let receipt = answer.as_ref().ok().and_then(|r| receipt(r.headers()));
        // Answered (delivered, or refused by the API): a single-use proof was used and is forgotten with the
        // delivery's record. Not answered (no answer, or a gateway error after the re-sends): it stays kept for
        // the next request.
        let used = retry
            .single_use
            .as_ref()
            .filter(|_| !matches!(status, None | Some(500..=599)))
            .map(|(_, value)| UsedProof { agent_id: agent.id, origin: &origin, authorization: value });
        match proven.payment_id {
            Some(payment_id) => {
                match ledger.record_delivery(payment_id, status, receipt.as_deref(), used.as_ref(), &Rules).await {
                    Ok(alerts) => self.emit_alerts(alerts),
                    Err(e) => tracing::error!(request_id, "cannot record delivery: {e}"),
                }
            }
            None => {
                if let Some(u) = used {
                    let _ = ledger.drop_credential(u.agent_id, u.origin, u.authorization).await;
                }
            }
        }
        if let (Some(auth), Some(401..=403)) = (&retry.authorization, status) {
            let _ = ledger.drop_credential(agent.id, &origin, auth).await;
        }
        Ok(answered(ctx, answer?))
    }

    /// Sends the retry that carries a proof of payment. The payment is made: when the answer does not come,
    /// or comes as a gateway error (or, for a server that `learns_later` of the payment, as a 402), the same
    /// request is sent again (a few times, with pauses) rather than losing it.
    async fn send_proven(
        &self,
        method: &Method,
        retry: &proof::Retry,
        request_id: &str,
        learns_later: bool,
    ) -> Result<Response<Incoming>, Failure> {
        let send = || self.host.send(method, &retry.uri, retry.headers.clone(), body::full(retry.body.clone()));
        let mut answer = send().await;
        let pauses: &[std::time::Duration] = if learns_later { &LEARNS_LATER_BACKOFF } else { &PAID_RETRY_BACKOFF };
        for &pause in pauses {
            // Not after a timeout: the API had its full time already.
            let transient = match &answer {
                Ok(resp) => matches!(resp.status().as_u16(), 502..=504) || (learns_later && resp.status() == 402),
                Err(f) => matches!(f.reason(), "upstream_unreachable" | "upstream_bad_response"),
            };
            if !transient {
                break;
            }
            tracing::warn!(request_id, "the paid retry was not answered; sending the same proof again");
            tokio::time::sleep(pause).await;
            answer = send().await;
        }
        answer
    }
}

/// The API's answer as the agent gets it: its own `Server-Timing` entries, if any, stay; Purser's (where the
/// time went) come after them.
pub(crate) fn answered(ctx: &PayContext<'_>, answer: Response<Incoming>) -> Response<ProxyBody> {
    let mut resp = headers::response_to_agent(answer);
    resp.headers_mut().append("server-timing", ctx.timing.header());
    resp
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
