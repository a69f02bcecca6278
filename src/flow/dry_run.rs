//! `Purser-Dry-Run: 1`: the agent asks what a request would cost and whether policy would let Purser pay,
//! and nothing is paid and no payment row is written (the API's published prices may be read and kept, as
//! for any first payment). The upstream is asked as usual (that is how the price is
//! learnt); a 402 is answered with `200`, `Purser-Dry-Run: 1` and a JSON body:
//!
//! ```json
//! {"dry_run": true, "dialect": "l402", "amount_msat": 21000, "advertised_msat": 21000,
//!  "decision": "allow" | "ask" | "refuse", "would_pay": true, "reason": null, "explanation": "…"}
//! ```

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use serde_json::json;

use super::Flow;
use super::checks::Advertised;
use super::context::{PayContext, new_payment};
use crate::challenge::PaymentChallenge;
use crate::http::body::{ProxyBody, full};
use crate::policy::Decision;
use crate::policy::Rules;

/// The header that asks for a dry run, and marks its answer.
pub const HEADER: &str = "purser-dry-run";

/// Whether the agent asked for a dry run (`Purser-Dry-Run: 1`, `true` or `yes`).
pub fn asked(headers: &http::HeaderMap) -> bool {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

fn answer(out: serde_json::Value) -> Response<ProxyBody> {
    let mut resp = Response::new(full(out.to_string()));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(HEADER, HeaderValue::from_static("1"));
    resp
}

/// The dry-run answer for a 402 Purser could not or would not pay whatever the policy (an offer on another
/// chain, a malformed challenge).
pub fn unpayable(ctx: &PayContext<'_>, dialect: &str, reason: &str, explanation: &str) -> Response<ProxyBody> {
    answer(json!({
        "dry_run": true,
        "dialect": dialect,
        "host": ctx.host(),
        "path": ctx.target.path(),
        "decision": "refuse",
        "would_pay": false,
        "reason": reason,
        "explanation": explanation,
    }))
}

impl Flow<'_> {
    pub(crate) async fn dry_run(&self, ctx: &PayContext<'_>, ch: &PaymentChallenge) -> Response<ProxyBody> {
        let mut out = json!({
            "dry_run": true,
            "dialect": ch.kind.as_str(),
            "host": ctx.host(),
            "path": ctx.target.path(),
            "would_pay": false,
        });
        let network = match self.wallet_network().await {
            Ok(n) => n,
            Err(e) => {
                out["wallet_problem"] = json!(e.to_string());
                None
            }
        };
        let verdict = match self.check_invoice(ch, network.as_deref()) {
            Err(e) => Decision::Refuse { reason: e.reason(), explanation: e.to_string(), details: json!(null) },
            Ok(checked) => {
                out["amount_msat"] = json!(checked.amount.0);
                out["invoice_expires_at_unix"] = json!(checked.expires_at_unix);
                let mut record = new_payment(ctx, Some(ch), Some(&checked));
                let advertised = self.advertised_price(ctx).await;
                record.advertised = advertised.map(Advertised::msats);
                out["advertised_msat"] = json!(record.advertised.map(|a| a.0));
                out["quoted"] = json!(matches!(advertised, Some(Advertised::Quoted(_))));
                record.rates = self.rates_for(&record, ctx.max_fiat.as_ref()).await;
                let checks = self
                    .request_checks(ctx, ch, &checked)
                    .and_then(|()| self.quote_check(&checked, advertised))
                    .and_then(|()| self.max_fiat_check(ctx, &checked, &record.rates));
                match checks {
                    Err((reason, explanation)) => Decision::Refuse { reason, explanation, details: json!(null) },
                    Ok(()) => match self.host.ledger().evaluate(&record, &Rules).await {
                        Ok(d) => d,
                        Err(e) => Decision::Refuse {
                            reason: "ledger_unavailable",
                            explanation: format!("Purser could not read its ledger: {e}"),
                            details: json!(null),
                        },
                    },
                }
            }
        };
        let (decision, reason, explanation) = match verdict {
            Decision::Allow(why) => ("allow", None, why),
            Decision::Ask { why, confirm: false } => ("ask", None, format!("a person would be asked: {why}")),
            Decision::Ask { why, confirm: true } => {
                ("confirm", None, format!("a person would be asked for their passphrase: {why}"))
            }
            Decision::Refuse { reason, explanation, .. } => ("refuse", Some(reason), explanation),
        };
        out["decision"] = json!(decision);
        out["would_pay"] = json!(decision == "allow" && out.get("wallet_problem").is_none());
        out["reason"] = json!(reason);
        out["explanation"] = json!(explanation);
        answer(out)
    }
}
