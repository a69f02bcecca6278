//! The sandbox's demo paid API: real L402 challenges (real macaroons, real BOLT11 invoices from the sandbox
//! [`Mint`]) in the forms real servers use, one JSON-body `payment_hash` endpoint, one endpoint per other
//! dialect (MPP, x402 v2 and v1, hash-only, an EVM-only x402 offer Purser cannot pay, and one offering
//! several at once), one whose invoices ask more than its advertised price, one whose invoices carry no
//! feature field (as LNbits mints them), one endpoint with a free call
//! per day, a server-sent-events endpoint, and its prices in every published form ([`super::demo_pricing`]).

use std::collections::HashSet;
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lightning_invoice::Currency;
use macaroon::{ByteString, Macaroon, MacaroonKey, Verifier};
use serde_json::json;
use tokio::net::TcpListener;

use super::demo_dialects;
use super::demo_endpoints::{ENDPOINTS, Endpoint, Form, listed};
use super::mint::{FeatureField, Mint};
use crate::http::body::{BoxError, ProxyBody, full};
use crate::units::{PaymentHash, Preimage};

/// Knobs tests use to make the API misbehave on purpose; the sandbox uses the defaults.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Mint invoices with this expiry instead of 10 minutes.
    pub invoice_expiry: Option<Duration>,
    /// Mint invoices on this network instead of the mint's own.
    pub currency: Option<Currency>,
    /// Mint invoices without an amount.
    pub amountless: bool,
    /// Name a different payment hash in JSON challenges than the invoice's, and mint L402 tokens for a
    /// different payment hash than their invoice's.
    pub wrong_payment_hash: bool,
    /// Mint invoices with a private route hint charging these fees.
    pub route_hint: Option<lightning_invoice::RoutingFees>,
    /// Accept each L402 token once, as some servers do (a second use gets a new 402).
    pub single_use_tokens: bool,
    /// Answer every request with a new 402, paid or not (a broken or looping server).
    pub reject_proofs: bool,
    /// Write MPP challenges whose `expires` has already passed.
    pub mpp_expired: bool,
    /// State an x402 amount 1 sat above what the invoice asks.
    pub x402_amount_off: bool,
    /// Answer this many requests that carry a proof of payment with a 503, before looking at the proof.
    pub fail_proofs: u32,
    /// Mint invoices 1 sat above the price the 402 body quotes (an API that overcharges).
    pub overcharge: bool,
    /// Mint every invoice with this feature field instead of the endpoint's own.
    pub invoice_features: Option<FeatureField>,
    /// Quote this many sats for the dynamically priced endpoint instead of what its invoices ask (a quote
    /// endpoint that says less than the API then charges).
    pub quote_sats: Option<u64>,
    /// Mint each offer's invoice 1 sat above the offer (an offers server whose invoice differs from the
    /// offer chosen).
    pub overcharge_offers: bool,
    /// Price `/offers`' one-time Lightning offers in US cents (as a hosted provider does) rather than in
    /// sats; their invoices ask what the cents buy at the sandbox's rate.
    pub offers_in_usd: bool,
    /// How the session endpoint misbehaves.
    pub session_hostility: super::demo_session::SessionHostility,
}

pub struct DemoApi {
    pub(super) mint: Arc<Mint>,
    pub(super) root_key: MacaroonKey,
    pub(super) opts: DemoOptions,
    /// Payment hashes already redeemed on the JSON endpoint (each pays for one call).
    pub(super) redeemed: Mutex<HashSet<PaymentHash>>,
    /// The UTC day number of the last free `/daily` call.
    pub(super) free_day: Mutex<Option<u64>>,
    /// Token ids already used, when tokens are single-use.
    pub(super) used_tokens: Mutex<HashSet<Vec<u8>>>,
    /// How many 503s of [`DemoOptions::fail_proofs`] were sent.
    pub(super) proofs_failed: std::sync::atomic::AtomicU32,
    /// Open MPP challenges: id → the payment hash of their invoice (each answered once).
    pub(super) mpp_open: Mutex<std::collections::HashMap<String, PaymentHash>>,
    /// The offers endpoint's invoices and credits per context token.
    pub(super) offer_book: super::demo_offers::OfferBook,
    /// The session endpoint's sessions.
    pub session_book: super::demo_session::SessionBook,
}

impl DemoApi {
    pub fn new(mint: Arc<Mint>, opts: DemoOptions) -> Self {
        let _ = macaroon::initialize();
        DemoApi {
            mint,
            root_key: MacaroonKey::generate_random(),
            opts,
            redeemed: Mutex::new(HashSet::new()),
            free_day: Mutex::new(None),
            used_tokens: Mutex::new(HashSet::new()),
            mpp_open: Mutex::new(std::collections::HashMap::new()),
            proofs_failed: std::sync::atomic::AtomicU32::new(0),
            offer_book: Default::default(),
            session_book: Default::default(),
        }
    }
}

/// Serves the demo API on `listener` until `shutdown` completes.
pub async fn run(listener: TcpListener, api: Arc<DemoApi>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted { Ok((s, _)) => s, Err(_) => continue },
        };
        tokio::spawn(serve_connection(TokioIo::new(stream), api.clone()));
    }
}

/// Serves one HTTP/1.1 connection (plain TCP, or TLS that the caller terminated).
pub async fn serve_connection<I>(io: I, api: Arc<DemoApi>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let api = api.clone();
        async move { Ok::<_, Infallible>(api.route(req).await) }
    });
    let _ = http1::Builder::new().serve_connection(io, service).await;
}

pub(super) fn json_response(status: StatusCode, value: serde_json::Value) -> Response<ProxyBody> {
    let mut resp = Response::new(full(value.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn utc_day() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() / 86_400
}

impl DemoApi {
    /// The answers that are not paid endpoints: the index, the rate, the pricing documents and the quote
    /// endpoint; any other request is handed back.
    async fn about(&self, req: Request<Incoming>) -> Result<Response<ProxyBody>, Request<Incoming>> {
        let path = req.uri().path();
        if path == "/" {
            return Ok(json_response(StatusCode::OK, self.index()));
        }
        if path == super::demo_rate::PATH {
            return Ok(json_response(StatusCode::OK, super::demo_rate::document()));
        }
        if path == super::demo_pricing::QUOTE_ENDPOINT {
            if req.method() != Method::POST {
                return Ok(json_response(StatusCode::METHOD_NOT_ALLOWED, json!({"error": "use POST"})));
            }
            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            return Ok(self.quote(&body));
        }
        if path == super::demo_session::PATH {
            return Ok(self.session_call(req.headers()));
        }
        if path == super::demo_offers::PATH || path == super::demo_offers::CREDIT_PATH {
            return Ok(self.offers_call(path, req.headers()));
        }
        if path == super::demo_offers::PAYMENT_REQUEST && req.method() == Method::POST {
            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            return Ok(self.offer_invoice(&body));
        }
        if let Some(doc) = super::demo_pricing::document(path, &listed()) {
            let mut resp = json_response(StatusCode::OK, doc);
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            return Ok(resp);
        }
        Err(req)
    }

    async fn route(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let req = match self.about(req).await {
            Ok(resp) => return resp,
            Err(req) => req,
        };
        let path = req.uri().path().to_string();
        let Some(ep) = ENDPOINTS.iter().find(|e| e.path == path) else {
            return json_response(StatusCode::NOT_FOUND, json!({"error": "no such endpoint", "see": "/pricing"}));
        };
        if req.method() != ep.method {
            return json_response(StatusCode::METHOD_NOT_ALLOWED, json!({"error": format!("use {}", ep.method)}));
        }
        let req_url = format!(
            "http://{}{}",
            req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("demo"),
            path
        );
        let headers = req.headers().clone();
        let auth = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        let x_hash = req.headers().get("x-payment-hash").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        if ep.path == "/daily" && auth.is_none() {
            let mut day = self.free_day.lock().unwrap();
            if *day != Some(utc_day()) {
                *day = Some(utc_day());
                return self.serve(ep, &body);
            }
        }
        let proof = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let carries_proof = ["authorization", "payment-signature", "x-payment", "x-payment-hash"]
            .iter()
            .any(|h| headers.contains_key(*h));
        if carries_proof && self.proofs_failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < self.opts.fail_proofs
        {
            return json_response(StatusCode::SERVICE_UNAVAILABLE, json!({"error": "try again"}));
        }
        let x402 = proof("payment-signature").or_else(|| proof("x-payment"));
        let paid = if self.opts.reject_proofs {
            None
        } else {
            match ep.form {
                Form::JsonHash | Form::HashOnly => {
                    self.redeem_hash(&body, x_hash.as_deref(), ep.charged_sats).then_some(Receipt::None)
                }
                Form::Mpp => auth.as_deref().and_then(|a| self.redeem_mpp(a)),
                Form::X402V2 | Form::X402V1 => x402.as_deref().and_then(|p| self.redeem_x402(p, ep.charged_sats)),
                Form::EvmOnly => None,
                Form::Multi => match auth.as_deref() {
                    Some(a) if a.starts_with("Payment ") => self.redeem_mpp(a),
                    Some(a) => self.verify_l402(a, ep).then_some(Receipt::None),
                    None => x402.as_deref().and_then(|p| self.redeem_x402(p, ep.charged_sats)),
                },
                _ => auth.as_deref().is_some_and(|a| self.verify_l402(a, ep)).then_some(Receipt::None),
            }
        };
        let Some(receipt) = paid else {
            let mut resp = self.challenge(ep, req_url);
            if ep.quoted {
                // Where the price is explained, as the discovery document's servers say on any answer.
                let link = HeaderValue::from_static("</.well-known/l402.json>; rel=\"l402-manifest\"");
                resp.headers_mut().insert(header::LINK, link);
            }
            return resp;
        };
        let mut resp = self.serve(ep, &body);
        let h = resp.headers_mut();
        match receipt {
            Receipt::None => {}
            Receipt::Mpp(hash) => {
                h.insert("payment-receipt", HeaderValue::from_str(&demo_dialects::mpp_receipt(&hash)).unwrap());
            }
            Receipt::X402(invoice) => {
                h.insert("payment-response", HeaderValue::from_str(&demo_dialects::x402_response(&invoice)).unwrap());
            }
        }
        resp
    }

    /// A settled MPP charge answered once: its receipt.
    fn redeem_mpp(&self, authorization: &str) -> Option<Receipt> {
        let (id, preimage) = demo_dialects::mpp_credential(authorization)?;
        let hash = self.mpp_open.lock().unwrap().remove(&id)?;
        (preimage.matches(&hash) && self.mint.is_settled(&hash)).then_some(Receipt::Mpp(hash))
    }

    /// A settled x402 Lightning proof, used once: its receipt.
    fn redeem_x402(&self, proof: &str, sats: u64) -> Option<Receipt> {
        let (hash, invoice) = demo_dialects::x402_paid(proof, &self.mint, sats)?;
        self.redeemed.lock().unwrap().insert(hash).then_some(Receipt::X402(invoice))
    }

    fn index(&self) -> serde_json::Value {
        json!({
            "name": "Purser sandbox demo API (play sats)",
            "endpoints": ENDPOINTS.iter().map(|e| json!({
                "method": e.method.as_str(), "path": e.path, "price_sats": e.price_sats, "about": e.about,
            })).collect::<Vec<_>>(),
            "pricing": ["/pricing", "/.well-known/l402-services", "/.well-known/l402.json", "/openapi.json"],
            "quote": super::demo_pricing::QUOTE_ENDPOINT,
            "offers": super::demo_offers::PATH,
            "credit": super::demo_offers::CREDIT_PATH,
            "session": super::demo_session::PATH,
        })
    }

    fn serve(&self, ep: &Endpoint, body: &Bytes) -> Response<ProxyBody> {
        match ep.path {
            "/stream" => sse(),
            "/summarize" => {
                let text = serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v["text"].as_str().map(str::to_string))
                    .unwrap_or_default();
                let summary: String = text.split_whitespace().take(5).collect::<Vec<_>>().join(" ");
                json_response(StatusCode::OK, json!({"summary": summary, "words": text.split_whitespace().count()}))
            }
            "/joke" => {
                json_response(StatusCode::OK, json!({"joke": "Why did the agent pay 1 sat? It was a micro-manager."}))
            }
            "/fortune" => {
                json_response(StatusCode::OK, json!({"fortune": "A paid request today saves a rate limit tomorrow."}))
            }
            "/premium" => {
                json_response(StatusCode::OK, json!({"report": "Premium: everything is priced, nothing is free."}))
            }
            "/legacy" => json_response(StatusCode::OK, json!({"answer": "LSAT still works here."})),
            "/quoted" => json_response(StatusCode::OK, json!({"forecast": "Prices vary; quotes keep them honest."})),
            "/mpp" | "/x402" | "/x402-v1" | "/hash-only" | "/multi" | "/surge" | "/lnbits" => json_response(
                StatusCode::OK,
                json!({"joke": "Every dialect of 402 ends the same way: paid.", "dialect": ep.form.dialect()}),
            ),
            _ => json_response(StatusCode::OK, json!({"tip": "Set budgets before you hand an agent a wallet."})),
        }
    }

    /// Checks `L402 <macaroon>:<preimage>` (or `LSAT …`; only `LSAT` on LSAT-only endpoints).
    fn verify_l402(&self, authorization: &str, ep: &Endpoint) -> bool {
        let Some((scheme, cred)) = authorization.split_once(' ') else {
            return false;
        };
        let scheme_ok = match ep.form {
            Form::LsatOnly => scheme == "LSAT",
            _ => scheme == "L402" || scheme == "LSAT",
        };
        let Some((token, pre_hex)) = cred.trim().rsplit_once(':') else {
            return false;
        };
        // Servers in the wild accept only lowercase hex preimages.
        if !scheme_ok || pre_hex.chars().any(|c| c.is_ascii_uppercase()) {
            return false;
        }
        let (Ok(mac), Some(preimage)) = (Macaroon::deserialize(token), Preimage::from_hex(pre_hex)) else {
            return false;
        };
        let mut verifier = Verifier::default();
        verifier.satisfy_exact(ByteString::from("services=demo:0"));
        verifier.satisfy_exact(ByteString::from(format!("path={}", ep.path)));
        verifier.satisfy_general(not_expired);
        if verifier.verify(&mac, &self.root_key, vec![]).is_err() {
            return false;
        }
        let id = mac.identifier().0;
        let Some(hash) = id.get(2..34).and_then(|h| <[u8; 32]>::try_from(h).ok()).map(PaymentHash) else {
            return false;
        };
        if !preimage.matches(&hash) {
            return false;
        }
        !(self.opts.single_use_tokens || ep.per_call) || self.used_tokens.lock().unwrap().insert(id)
    }

    /// A settled invoice's hash, presented once, for an invoice of at least `price_sats`.
    fn redeem_hash(&self, body: &Bytes, header: Option<&str>, price_sats: u64) -> bool {
        let from_body = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["payment_hash"].as_str().map(str::to_string));
        let Some(hash) = from_body.as_deref().or(header).and_then(PaymentHash::from_hex) else {
            return false;
        };
        let enough = self.mint.amount(&hash).is_some_and(|a| a.0 >= price_sats * 1000);
        enough && self.mint.is_settled(&hash) && self.redeemed.lock().unwrap().insert(hash)
    }
}

/// How long a demo macaroon is good for (its `expiration=<ms>` caveat, as lsat-js writes it).
pub(super) const TOKEN_LIFETIME_MS: i64 = 3_600_000;

/// Accepts an `expiration=<ms since the epoch>` caveat that is still in the future.
fn not_expired(caveat: &ByteString) -> bool {
    std::str::from_utf8(&caveat.0)
        .ok()
        .and_then(|c| c.strip_prefix("expiration="))
        .and_then(|ms| ms.parse::<i64>().ok())
        .is_some_and(|ms| ms > jiff::Timestamp::now().as_millisecond())
}

/// What a paid answer carries besides its body.
enum Receipt {
    None,
    Mpp(PaymentHash),
    X402(String),
}

/// Five events, 200 ms apart: shows whether a proxy streams or buffers.
fn sse() -> Response<ProxyBody> {
    let events = futures_util::stream::unfold(0u32, |n| async move {
        if n == 5 {
            return None;
        }
        if n > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let frame = Frame::data(Bytes::from(format!("id: {n}\ndata: tick {n}\n\n")));
        Some((Ok::<_, BoxError>(frame), n + 1))
    });
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(events)));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
