//! The demo API's quote endpoint (`POST /l402/quote`, as the L402 discovery document defines it): what
//! its dynamically priced endpoint costs now, as an L402 challenge's parts, or the specification's error
//! object.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::json;

use super::demo_api::{DemoApi, json_response};
use super::demo_endpoints::ENDPOINTS;
use crate::http::body::ProxyBody;

impl DemoApi {
    /// The quote endpoint of the discovery document: what the dynamically priced endpoint costs now, as an
    /// L402 challenge's parts (`price_msat`, `quote_expiry`, `macaroon`, `invoice`), or the specification's
    /// error object.
    pub(super) fn quote(&self, body: &Bytes) -> Response<ProxyBody> {
        let error = |code: &str, message: &str| {
            json_response(StatusCode::BAD_REQUEST, json!({"error": {"code": code, "message": message}}))
        };
        let Ok(request) = serde_json::from_slice::<serde_json::Value>(body) else {
            return error("malformed_request", "the quote request is not a JSON object");
        };
        if request["service"].as_str() != Some(super::demo_pricing::SERVICE) {
            return error("unknown_service", "this API sells one service, `demo`");
        }
        let Some(ep) = ENDPOINTS.iter().find(|e| e.quoted) else {
            return error("unpriceable", "nothing here is priced dynamically");
        };
        let minted = self.mint_for(ep);
        let price_sats = self.opts.quote_sats.unwrap_or(ep.charged_sats);
        let expiry_s = jiff::Timestamp::now().as_second() + 600;
        json_response(
            StatusCode::OK,
            json!({"price_msat": price_sats * 1000, "quote_expiry": expiry_s,
                "macaroon": self.macaroon(&minted.payment_hash, ep), "invoice": minted.bolt11}),
        )
    }
}
