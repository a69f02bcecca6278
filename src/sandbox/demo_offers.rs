//! The demo API's endpoints in the L402 offers form (l402-protocol/l402, version 0.2.2): `GET /offers`
//! answers a JSON 402 listing offers — two one-time Lightning offers at different prices, a credit-card one,
//! a top-up pack — with a payment context token for the caller (from its `Authorization`, or one shared by
//! callers without one); `GET /credit` sells prepaid credit only (a top-up: ten calls for 30 sats);
//! `POST /l402/payment-request` mints the invoice of the chosen offer. A paid invoice is credited to its
//! context token when the caller comes back, as a provider's webhook would, and each call to either
//! endpoint takes one credit.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::demo_api::{DemoApi, json_response};
use super::mint::InvoiceSpec;
use crate::http::body::ProxyBody;
use crate::units::PaymentHash;

/// The endpoint sold by offers.
pub const PATH: &str = "/offers";
/// The endpoint sold by prepaid credit only.
pub const CREDIT_PATH: &str = "/credit";
/// What the credit pack costs, and the calls it buys.
pub const CREDIT_PACK_SATS: u64 = 30;
pub const CREDIT_PACK_CALLS: u32 = 10;
/// Where the invoice of an offer is asked.
pub const PAYMENT_REQUEST: &str = "/l402/payment-request";

/// An offer: (id, title, amount, currency, type, methods, calls bought).
type DemoOffer = (&'static str, &'static str, u64, &'static str, &'static str, &'static str, u32);

/// The offers of `/offers`.
const OFFERS: [DemoOffer; 4] = [
    ("call-5", "One call", 5, "SAT", "one-time", "lightning", 1),
    ("call-9", "One call, priority", 9, "SAT", "one-time", "lightning", 1),
    ("call-card", "One call by card", 1, "SAT", "one-time", "credit_card", 1),
    ("pack-40", "Ten calls", 40, "SAT", "top-up", "lightning", 10),
];

/// The offers of `/offers` priced in US cents ([`super::demo_api::DemoOptions::offers_in_usd`]).
const USD_OFFERS: [DemoOffer; 3] = [
    ("usd-2", "One call", 2, "USD", "one-time", "lightning", 1),
    ("usd-3", "One call, priority", 3, "USD", "one-time", "lightning", 1),
    ("usd-card", "One call by card", 1, "USD", "one-time", "credit_card", 1),
];

/// What one US cent buys at the sandbox's rate (1 BTC = 100,000 USD).
pub const SATS_PER_CENT: u64 = 10;

/// The offers of `/credit`: prepaid credit only.
const CREDIT_OFFERS: [DemoOffer; 1] =
    [("credit-30", "Ten calls of credit", CREDIT_PACK_SATS, "SAT", "top-up", "lightning", CREDIT_PACK_CALLS)];

/// An offer's price in sats, as its invoice asks it.
fn sats_of(offer: &DemoOffer) -> u64 {
    if offer.3 == "USD" { offer.2 * SATS_PER_CENT } else { offer.2 }
}

/// What each context token asked for and holds.
#[derive(Debug, Default)]
pub struct OfferBook {
    accounts: Mutex<HashMap<String, Account>>,
}

#[derive(Debug, Default)]
struct Account {
    /// Invoices asked for and not yet credited, with the calls each buys.
    asked: Vec<(PaymentHash, u32)>,
    credits: u32,
}

/// The caller's context token: derived from its `Authorization`, so its next request is known as its own.
fn context_token(headers: &HeaderMap) -> String {
    let who = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes().to_vec()).unwrap_or_default();
    format!("pct_{}", &hex::encode(Sha256::digest(&who))[..24])
}

impl DemoApi {
    /// `GET /offers` or `GET /credit` (`path`): the answer when the caller holds a credit (paid invoices
    /// credited first), else the offers.
    pub(super) fn offers_call(&self, path: &str, headers: &HeaderMap) -> Response<ProxyBody> {
        let token = context_token(headers);
        {
            let mut book = self.offer_book.accounts.lock().unwrap();
            let account = book.entry(token.clone()).or_default();
            // A server that never honours payments (`reject_proofs`) credits nothing.
            let honoured = |hash: &PaymentHash| self.mint.is_settled(hash) && !self.opts.reject_proofs;
            let (paid, open): (Vec<_>, Vec<_>) = account.asked.drain(..).partition(|(hash, _)| honoured(hash));
            account.asked = open;
            account.credits += paid.iter().map(|(_, calls)| calls).sum::<u32>();
            if account.credits > 0 {
                account.credits -= 1;
                return json_response(
                    StatusCode::OK,
                    json!({"answer": "Offers accepted; one call taken from your credit.",
                        "calls_left": account.credits}),
                );
            }
        }
        let listed: &[DemoOffer] = match path {
            CREDIT_PATH => &CREDIT_OFFERS,
            _ if self.opts.offers_in_usd => &USD_OFFERS,
            _ => &OFFERS,
        };
        let offers: Vec<Value> = listed
            .iter()
            .map(|(id, title, amount, currency, kind, method, calls)| {
                let mut o = json!({"id": id, "title": title, "amount": amount, "currency": currency, "type": kind,
                    "payment_methods": [method]});
                if *kind == "top-up" {
                    o["balance"] = json!(calls);
                }
                o
            })
            .collect();
        json_response(
            StatusCode::PAYMENT_REQUIRED,
            json!({"version": "0.2.2", "payment_request_url": PAYMENT_REQUEST, "payment_context_token": token,
                "offers": offers, "terms_url": "/"}),
        )
    }

    /// `POST /l402/payment-request`: the invoice of the chosen offer, for its context token.
    pub(super) fn offer_invoice(&self, body: &Bytes) -> Response<ProxyBody> {
        let bad = |error: String| json_response(StatusCode::BAD_REQUEST, json!({"error": error}));
        let Ok(asked) = serde_json::from_slice::<Value>(body) else {
            return bad("send JSON: {offer_id, payment_method, payment_context_token}".into());
        };
        let Some(token) = asked["payment_context_token"].as_str() else {
            return bad("Missing payment context token".into());
        };
        let offer_id = asked["offer_id"].as_str().unwrap_or_default();
        let mut all = OFFERS.iter().chain(&USD_OFFERS).chain(&CREDIT_OFFERS);
        let Some(offer @ (id, _, _, _, _, method, calls)) = all.find(|o| o.0 == offer_id) else {
            return bad(format!("offer {offer_id} does not exist"));
        };
        if asked["payment_method"].as_str() != Some(*method) {
            return bad(format!("Payment method {} is not enabled", asked["payment_method"]));
        }
        let charged = sats_of(offer) + u64::from(self.opts.overcharge_offers);
        let minted = self.mint.mint(InvoiceSpec::sats(charged, &format!("Purser sandbox offer {id}")));
        let mut book = self.offer_book.accounts.lock().unwrap();
        book.entry(token.to_string()).or_default().asked.push((minted.payment_hash, *calls));
        let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(10);
        json_response(
            StatusCode::OK,
            json!({"version": "0.2.2", "offer_id": id, "payment_request": {"lightning_invoice": minted.bolt11},
                "expires_at": expires.to_string()}),
        )
    }
}
