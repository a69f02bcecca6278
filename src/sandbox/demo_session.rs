//! The demo API's MPP Lightning session endpoint (`draft-lightning-session-00`, as Aperture serves it): a
//! call without a credential gets a session challenge (a deposit invoice, the price of one call); `open`
//! with the deposit's preimage and a return invoice starts the session and is served; each `bearer` call
//! draws its price from the balance (none left: a new challenge); `close` returns what is left by paying
//! the return invoice at the sandbox node, and answers `{"status": "closed", "refundSats": N,
//! "refundStatus": "succeeded"}` with the same in its `Payment-Receipt`. Each challenge answers one
//! credential; [`DemoApi::close_idle_sessions`] closes them all as an idle timeout would. Its hostile switches: a server
//! that keeps serving draws past the balance, one that says it refunded and does not, one that forgets its
//! sessions.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::demo_api::{DemoApi, json_response};
use super::mint::InvoiceSpec;
use crate::http::body::ProxyBody;
use crate::units::{Msats, PaymentHash, Preimage};

pub const PATH: &str = "/session";
/// The price of one call drawn from a session.
pub const UNIT_SATS: u64 = 3;
/// The deposit a session asks.
pub const DEPOSIT_SATS: u64 = 10;

/// How the session endpoint misbehaves, for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SessionHostility {
    #[default]
    None,
    /// Serves `bearer` calls after the balance is gone (and keeps counting them).
    DrawsPastBalance,
    /// Answers a close with a refund it never pays.
    RefundNeverSent,
    /// Forgets every session after its first draw: the next `bearer` gets a new challenge.
    Forgets,
    /// Bills the open call too (a reading of the draft Aperture does not follow): it holds a call less than
    /// Purser counts, and refuses the draw Purser thinks the deposit still covers.
    BillsOpen,
}

struct Open {
    hash: PaymentHash,
    balance_sats: i64,
    return_invoice: String,
}

/// The endpoint's sessions, by id (the deposit's payment hash, hex), and its open challenges.
#[derive(Default)]
pub struct SessionBook {
    sessions: Mutex<HashMap<String, Open>>,
    challenges: Mutex<HashMap<String, PaymentHash>>,
    /// Calls served per session (also those past the balance, for the hostile server).
    served: Mutex<HashMap<String, u64>>,
}

impl SessionBook {
    /// Calls served per session.
    pub fn served(&self) -> HashMap<String, u64> {
        self.served.lock().unwrap().clone()
    }
}

impl DemoApi {
    /// Closes every session as an idle timeout would: what each holds is paid to its return invoice.
    pub fn close_idle_sessions(&self) {
        let closing: Vec<Open> = self.session_book.sessions.lock().unwrap().drain().map(|(_, open)| open).collect();
        for open in closing {
            let refund = u64::try_from(open.balance_sats).unwrap_or(0);
            if let Ok(invoice) = crate::invoice::read(&open.return_invoice)
                && refund > 0
            {
                let _ = self.mint.settle_paying(&invoice.payment_hash, Msats::from_sats(refund));
            }
        }
    }
}

impl DemoApi {
    /// One call to the session endpoint.
    pub(super) fn session_call(&self, headers: &HeaderMap) -> Response<ProxyBody> {
        let credential = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|a| a.strip_prefix("Payment "))
            .and_then(|b| URL_SAFE_NO_PAD.decode(b.trim()).ok())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let Some(cred) = credential else { return self.session_challenge() };
        // Each challenge answers one credential.
        let challenged = cred
            .pointer("/challenge/id")
            .and_then(Value::as_str)
            .and_then(|id| self.session_book.challenges.lock().unwrap().remove(id));
        let payload = &cred["payload"];
        let preimage = payload["preimage"].as_str().and_then(Preimage::from_hex);
        let (Some(challenged), Some(preimage)) = (challenged, preimage) else { return self.session_challenge() };
        let id = preimage.payment_hash().to_hex();
        match payload["action"].as_str() {
            Some("open") => self.session_open(&cred, &preimage, challenged),
            Some("bearer") if payload["sessionId"].as_str() == Some(id.as_str()) => self.session_draw(&id),
            Some("close") if payload["sessionId"].as_str() == Some(id.as_str()) => self.session_close(&id),
            _ => self.session_challenge(),
        }
    }

    fn session_challenge(&self) -> Response<ProxyBody> {
        let minted = self.mint.mint(InvoiceSpec::sats(DEPOSIT_SATS, "Purser sandbox: session deposit"));
        let request = json!({
            "amount": UNIT_SATS.to_string(), "currency": "sat", "depositInvoice": minted.bolt11,
            "paymentHash": minted.payment_hash.to_hex(), "depositAmount": DEPOSIT_SATS.to_string(),
            "idleTimeout": "300",
        });
        let id = hex::encode(rand::random::<[u8; 16]>());
        self.session_book.challenges.lock().unwrap().insert(id.clone(), minted.payment_hash);
        let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(15);
        let value = format!(
            "Payment id=\"{id}\", realm=\"purser-sandbox\", method=\"lightning\", intent=\"session\", \
             request=\"{}\", expires=\"{expires}\"",
            URL_SAFE_NO_PAD.encode(request.to_string())
        );
        let mut resp = json_response(
            StatusCode::PAYMENT_REQUIRED,
            json!({"error": "payment required", "intent": "session", "deposit_sats": DEPOSIT_SATS,
                   "sats_per_call": UNIT_SATS}),
        );
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_str(&value).unwrap());
        resp
    }

    /// Opens a session with the deposit of the challenge answered (`challenged`, its payment hash).
    fn session_open(&self, cred: &Value, preimage: &Preimage, challenged: PaymentHash) -> Response<ProxyBody> {
        let hash = preimage.payment_hash();
        let return_invoice = cred.pointer("/payload/returnInvoice").and_then(Value::as_str).unwrap_or_default();
        let amountless = crate::invoice::read(return_invoice).is_ok_and(|i| i.amount.is_none());
        if challenged != hash || !self.mint.is_settled(&hash) || !amountless {
            return self.session_challenge();
        }
        let mut sessions = self.session_book.sessions.lock().unwrap();
        if sessions.contains_key(&hash.to_hex()) {
            return self.session_challenge();
        }
        let billed = if self.opts.session_hostility == SessionHostility::BillsOpen { UNIT_SATS as i64 } else { 0 };
        let open =
            Open { hash, balance_sats: DEPOSIT_SATS as i64 - billed, return_invoice: return_invoice.to_string() };
        sessions.insert(hash.to_hex(), open);
        self.served(&hash.to_hex())
    }

    fn session_draw(&self, id: &str) -> Response<ProxyBody> {
        let mut sessions = self.session_book.sessions.lock().unwrap();
        let Some(open) = sessions.get_mut(id) else { return self.session_challenge() };
        let past_balance = self.opts.session_hostility == SessionHostility::DrawsPastBalance;
        if open.balance_sats < UNIT_SATS as i64 && !past_balance {
            return self.session_challenge();
        }
        open.balance_sats -= UNIT_SATS as i64;
        if self.opts.session_hostility == SessionHostility::Forgets {
            sessions.remove(id);
        }
        drop(sessions);
        self.served(id)
    }

    fn session_close(&self, id: &str) -> Response<ProxyBody> {
        let Some(open) = self.session_book.sessions.lock().unwrap().remove(id) else {
            return self.session_challenge();
        };
        let refund_sats = u64::try_from(open.balance_sats).unwrap_or(0);
        let mut status = "skipped";
        if refund_sats > 0 {
            status = "succeeded";
            if self.opts.session_hostility != SessionHostility::RefundNeverSent {
                let paid = crate::invoice::read(&open.return_invoice)
                    .ok()
                    .map(|i| self.mint.settle_paying(&i.payment_hash, Msats::from_sats(refund_sats)));
                if !matches!(paid, Some(Ok(()))) {
                    status = "failed";
                }
            }
        }
        let receipt = json!({"method": "lightning", "intent": "session", "reference": open.hash.to_hex(),
            "status": "success", "timestamp": jiff::Timestamp::now().to_string(),
            "refundSats": refund_sats, "refundStatus": status});
        let mut resp = json_response(
            StatusCode::OK,
            json!({"status": "closed", "refundSats": refund_sats, "refundStatus": status}),
        );
        let encoded = URL_SAFE_NO_PAD.encode(receipt.to_string());
        resp.headers_mut().insert("payment-receipt", HeaderValue::from_str(&encoded).unwrap());
        resp
    }

    fn served(&self, id: &str) -> Response<ProxyBody> {
        *self.session_book.served.lock().unwrap().entry(id.to_string()).or_default() += 1;
        json_response(StatusCode::OK, json!({"answer": "Drawn from the session: no new payment for this call."}))
    }
}
