//! Asking an API's quote endpoint (the L402 discovery document's `quote_endpoint`) what a dynamically
//! priced endpoint costs now, before an invoice for it is paid: the quote is the price the invoice is then
//! held to. Only a quote endpoint on the API's own origin is asked, with a bounded answer and a timeout.

use http::header::{self, HeaderValue};
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use super::Price;
use super::fetch::Fetcher;
use crate::http::body;
use crate::units::Msats;

/// The largest quote read.
const MAX_QUOTE_BYTES: usize = 64 << 10;

/// Why no quote was had, for the log and the payment's record.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("the price names no quote endpoint or service")]
    NotQuotable,
    #[error("the quote endpoint {0} is not on the API's own origin; it was not asked")]
    OtherOrigin(String),
    #[error("the quote endpoint could not be reached: {0}")]
    Unreachable(String),
    #[error("the quote endpoint did not answer within {0} s")]
    Timeout(u64),
    #[error("the quote endpoint refused: {0}")]
    Refused(String),
    #[error("the quote endpoint's answer is not a quote: {0}")]
    Malformed(String),
    #[error("the quote expired before it arrived")]
    Expired,
}

impl Fetcher {
    /// What `price`'s endpoint on `origin` costs now, as its quote endpoint says; `now_s` is the time in
    /// seconds, against which the quote's expiry is read.
    pub async fn quote(&self, origin: &str, price: &Price, now_s: i64) -> Result<Msats, Error> {
        let (Some(endpoint), Some(service)) = (&price.quote_endpoint, &price.service) else {
            return Err(Error::NotQuotable);
        };
        let path =
            super::fetch::same_origin_path(origin, endpoint).ok_or_else(|| Error::OtherOrigin(endpoint.clone()))?;
        let uri = format!("{origin}{path}")
            .parse()
            .map_err(|_| Error::Malformed(format!("the quote endpoint `{endpoint}` is not a usable URL")))?;
        // For the endpoint's own capability when the document names it (else the service's whole bundle).
        let mut asked = json!({"service": service});
        if let Some(capability) = &price.capability {
            asked["capabilities"] = json!([capability]);
        }
        let mut req = Request::new(body::full(asked.to_string()));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = uri;
        req.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        req.headers_mut().insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let answer = async {
            let resp = self
                .client()
                .request(req)
                .await
                .map_err(|e| Error::Unreachable(crate::http::client::error_chain(&e)))?;
            let status = resp.status();
            let (head, rest) = body::read_bounded(resp.into_body(), MAX_QUOTE_BYTES)
                .await
                .map_err(|e| Error::Unreachable(format!("body unreadable: {e}")))?;
            if rest.is_some() {
                return Err(Error::Malformed(format!("larger than {MAX_QUOTE_BYTES} bytes")));
            }
            Ok((status, head))
        };
        let timeout = self.timeout();
        let (status, bytes) =
            tokio::time::timeout(timeout, answer).await.map_err(|_| Error::Timeout(timeout.as_secs()))??;
        read(status, &bytes, now_s)
    }
}

/// A quote endpoint's answer: its `price_msat`, or the error it states.
pub(crate) fn read(status: StatusCode, bytes: &[u8], now_s: i64) -> Result<Msats, Error> {
    let doc: Option<Value> = serde_json::from_slice(bytes).ok();
    if status != StatusCode::OK {
        // The specification's error object when there is one; a plain 404 means no quote endpoint at all.
        let error = doc.as_ref().map(|d| &d["error"]);
        let code = error.and_then(|e| e["code"].as_str()).unwrap_or("no error code");
        let message = error.and_then(|e| e["message"].as_str()).unwrap_or_default();
        return Err(Error::Refused(format!("{} {code}: {message}", status.as_u16()).trim_end_matches(": ").into()));
    }
    let doc = doc.ok_or_else(|| Error::Malformed("not JSON".into()))?;
    let price = doc["price_msat"].as_u64().ok_or_else(|| Error::Malformed("no whole `price_msat`".into()))?;
    match doc["quote_expiry"].as_i64() {
        Some(expiry) if expiry <= now_s => Err(Error::Expired),
        Some(_) => Ok(Msats(price)),
        None => Err(Error::Malformed("no `quote_expiry`".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_and_the_errors_the_specification_names() {
        let ok = br#"{"price_msat":1001000,"quote_expiry":1730000000,"macaroon":"AGIAJEemVQUTEyNCR0exk7ek90Cg==","invoice":"lnbc10010n1p"}"#;
        assert_eq!(read(StatusCode::OK, ok, 1_729_999_000), Ok(Msats(1_001_000)));
        assert_eq!(read(StatusCode::OK, ok, 1_730_000_000), Err(Error::Expired));
        let refused = br#"{"error":{"code":"unknown_service","message":"no such service"}}"#;
        assert_eq!(
            read(StatusCode::BAD_REQUEST, refused, 0),
            Err(Error::Refused("400 unknown_service: no such service".into()))
        );
        assert!(matches!(read(StatusCode::OK, br#"{"price_msat":1.5,"quote_expiry":9}"#, 0), Err(Error::Malformed(_))));
        assert!(matches!(read(StatusCode::OK, b"<html>", 0), Err(Error::Malformed(_))));
        assert_eq!(read(StatusCode::NOT_FOUND, b"Not Found", 0), Err(Error::Refused("404 no error code".into())));
        assert!(matches!(read(StatusCode::OK, br#"{"price_msat":1000}"#, 0), Err(Error::Malformed(_))));
    }
}
