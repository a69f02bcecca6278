//! The demo API's 402s: an invoice minted for each, a real macaroon for L402, and the challenge written in
//! the endpoint's form (L402, LSAT, MPP, x402 v1 and v2, hash-only, JSON body, several at once).

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use macaroon::{ByteString, Format, Macaroon};
use rand::RngCore;
use serde_json::json;

use super::demo_api::{DemoApi, TOKEN_LIFETIME_MS, json_response};
use super::demo_dialects;
use super::demo_endpoints::{Endpoint, Form};
use super::mint::{FeatureField, InvoiceSpec};
use crate::http::body::ProxyBody;
use crate::units::PaymentHash;

impl DemoApi {
    pub(super) fn mint_for(&self, ep: &Endpoint) -> super::mint::MintedInvoice {
        let sats = ep.charged_sats.max(1) + u64::from(self.opts.overcharge);
        let mut spec = InvoiceSpec::sats(sats, &format!("Purser sandbox {}", ep.path));
        if let Some(expiry) = self.opts.invoice_expiry {
            spec.expiry = expiry;
        }
        spec.currency = self.opts.currency.clone();
        spec.route_hint = self.opts.route_hint;
        if self.opts.amountless {
            spec.amount_msat = None;
        }
        spec.features = match &self.opts.invoice_features {
            Some(features) => features.clone(),
            None if ep.bare_invoices => FeatureField::Absent,
            None => FeatureField::Usual,
        };
        self.mint.mint(spec)
    }

    pub(super) fn macaroon(&self, hash: &PaymentHash, ep: &Endpoint) -> String {
        let mut id = Vec::with_capacity(66);
        id.extend_from_slice(&[0, 0]);
        id.extend_from_slice(&hash.0);
        let mut token_id = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut token_id);
        id.extend_from_slice(&token_id);
        let mut mac = Macaroon::create(Some("purser-sandbox".into()), &self.root_key, ByteString::from(id))
            .expect("a macaroon with an identifier is always valid");
        mac.add_first_party_caveat(ByteString::from("services=demo:0"));
        mac.add_first_party_caveat(ByteString::from(format!("path={}", ep.path)));
        let expires_ms = jiff::Timestamp::now().as_millisecond() + TOKEN_LIFETIME_MS;
        mac.add_first_party_caveat(ByteString::from(format!("expiration={expires_ms}")));
        mac.serialize(Format::V2).expect("V2 serialization of a fresh macaroon")
    }

    pub(super) fn challenge(&self, ep: &Endpoint, url: String) -> Response<ProxyBody> {
        if let Some(resp) = self.other_dialect_challenge(ep, &url) {
            return resp;
        }
        let minted = self.mint_for(ep);
        let inv = &minted.bolt11;
        if ep.form == Form::JsonHash {
            let named = if self.opts.wrong_payment_hash { PaymentHash([9; 32]) } else { minted.payment_hash };
            return json_response(
                StatusCode::PAYMENT_REQUIRED,
                json!({
                    "error": "payment required",
                    "amount_sat": ep.charged_sats,
                    "invoice": inv,
                    "payment_hash": named.to_hex(),
                    "payment_hints": {"payment_hash_in": "body", "name": "payment_hash"},
                }),
            );
        }
        let token_hash = if self.opts.wrong_payment_hash { PaymentHash([9; 32]) } else { minted.payment_hash };
        let mac = self.macaroon(&token_hash, ep);
        let mut resp = json_response(
            StatusCode::PAYMENT_REQUIRED,
            json!({"error": "payment required", "amount_sat": ep.charged_sats}),
        );
        let h = resp.headers_mut();
        let mut add = |v: String| {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.append(header::WWW_AUTHENTICATE, v);
            }
        };
        match ep.form {
            Form::L402Macaroon => add(format!("L402 macaroon=\"{mac}\", invoice=\"{inv}\"")),
            Form::L402Token => add(format!("L402 version=\"0\", token=\"{mac}\", invoice=\"{inv}\"")),
            Form::Both => {
                add(format!("LSAT macaroon=\"{mac}\", invoice=\"{inv}\""));
                add(format!("L402 macaroon=\"{mac}\", invoice=\"{inv}\""));
            }
            Form::LsatOnly => add(format!("LSAT macaroon=\"{mac}\", invoice=\"{inv}\"")),
            Form::Multi => {
                add(format!("L402 macaroon=\"{mac}\", invoice=\"{inv}\""));
                add(self.open_mpp(&minted, ep));
                let offer = demo_dialects::x402_offer(inv, self.x402_stated(ep), ep.path);
                if let Ok(v) = HeaderValue::from_str(&demo_dialects::x402_required(vec![offer], &url)) {
                    h.insert("payment-required", v);
                }
            }
            _ => {}
        }
        resp
    }

    /// The amount x402 offers state: the invoice's, unless told to misstate it.
    pub(super) fn x402_stated(&self, ep: &Endpoint) -> u64 {
        ep.charged_sats + u64::from(self.opts.x402_amount_off)
    }

    /// An MPP challenge for `minted`, remembered until answered.
    pub(super) fn open_mpp(&self, minted: &super::mint::MintedInvoice, ep: &Endpoint) -> String {
        let mut raw = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut raw);
        let id = hex::encode(raw);
        self.mpp_open.lock().unwrap().insert(id.clone(), minted.payment_hash);
        let lifetime = if self.opts.mpp_expired { -60 } else { 600 };
        let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(lifetime);
        demo_dialects::mpp_challenge(&id, &minted.bolt11, &minted.payment_hash, ep.charged_sats, expires)
    }

    /// The 402 of the MPP, x402, hash-only and EVM-only endpoints; `None` for the L402 and JSON forms.
    pub(super) fn other_dialect_challenge(&self, ep: &Endpoint, url: &str) -> Option<Response<ProxyBody>> {
        let body = match ep.form {
            Form::EvmOnly => json!({"error": "payment required", "accepts": "0.01 USDC on Base (x402)"}),
            _ => json!({"error": "payment required", "amount_sat": ep.charged_sats}),
        };
        let mut resp = match ep.form {
            Form::Mpp | Form::X402V2 | Form::HashOnly | Form::EvmOnly => {
                json_response(StatusCode::PAYMENT_REQUIRED, body)
            }
            Form::X402V1 => {
                let minted = self.mint_for(ep);
                let offer = demo_dialects::x402_offer(&minted.bolt11, self.x402_stated(ep), ep.path);
                return Some(json_response(StatusCode::PAYMENT_REQUIRED, demo_dialects::x402_v1_body(vec![offer])));
            }
            _ => return None,
        };
        let header_value = match ep.form {
            Form::EvmOnly => demo_dialects::x402_required(vec![demo_dialects::evm_offer(ep.path)], url),
            _ => {
                let minted = self.mint_for(ep);
                match ep.form {
                    Form::Mpp => self.open_mpp(&minted, ep),
                    Form::HashOnly => format!("L402 macaroon=\"none\", invoice=\"{}\"", minted.bolt11),
                    _ => demo_dialects::x402_required(
                        vec![
                            demo_dialects::evm_offer(ep.path),
                            demo_dialects::x402_offer(&minted.bolt11, self.x402_stated(ep), ep.path),
                        ],
                        url,
                    ),
                }
            }
        };
        let name = match ep.form {
            Form::Mpp | Form::HashOnly => header::WWW_AUTHENTICATE,
            _ => http::HeaderName::from_static("payment-required"),
        };
        if let Ok(v) = HeaderValue::from_str(&header_value) {
            resp.headers_mut().insert(name, v);
        }
        Some(resp)
    }
}
