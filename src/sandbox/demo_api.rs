//! The sandbox's demo paid API: real L402 challenges (real macaroons, real BOLT11 invoices from the sandbox
//! [`Mint`]) in the forms real servers use, one JSON-body `payment_hash` endpoint, one endpoint with a free
//! call per day, a server-sent-events endpoint, and a `/pricing` document.

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
use macaroon::{ByteString, Format, Macaroon, MacaroonKey, Verifier};
use rand::RngCore;
use serde_json::json;
use tokio::net::TcpListener;

use super::mint::{InvoiceSpec, Mint};
use crate::proxy::body::{BoxError, ProxyBody, full};
use crate::units::{PaymentHash, Preimage};

/// How the challenge is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `L402 macaroon="…", invoice="…"`
    L402Macaroon,
    /// `L402 version="0", token="…", invoice="…"`
    L402Token,
    /// `LSAT …` then `L402 …`, as Aperture sends
    Both,
    /// `LSAT macaroon="…", invoice="…"` only
    LsatOnly,
    /// JSON body with `invoice` and `payment_hash`; proof is the hash in the JSON body
    JsonHash,
}

struct Endpoint {
    method: Method,
    path: &'static str,
    price_sats: u64,
    form: Form,
    /// Each token pays for one call (a second use gets a new 402), as per-call priced servers do.
    per_call: bool,
    about: &'static str,
}

const ENDPOINTS: [Endpoint; 7] = [
    Endpoint {
        method: Method::GET,
        path: "/joke",
        price_sats: 1,
        form: Form::L402Macaroon,
        per_call: false,
        about: "a joke (L402, macaroon form)",
    },
    Endpoint {
        method: Method::GET,
        path: "/fortune",
        price_sats: 21,
        form: Form::L402Token,
        per_call: true,
        about: "a fortune, 21 sats each call (L402, version/token form, single-use tokens)",
    },
    Endpoint {
        method: Method::GET,
        path: "/premium",
        price_sats: 250,
        form: Form::Both,
        per_call: false,
        about: "a premium report (LSAT and L402 headers)",
    },
    Endpoint {
        method: Method::GET,
        path: "/legacy",
        price_sats: 5,
        form: Form::LsatOnly,
        per_call: false,
        about: "an old-style answer (LSAT only)",
    },
    Endpoint {
        method: Method::POST,
        path: "/summarize",
        price_sats: 21,
        form: Form::JsonHash,
        per_call: false,
        about: "a summary of the JSON body's `text` (JSON payment_hash)",
    },
    Endpoint {
        method: Method::GET,
        path: "/daily",
        price_sats: 10,
        form: Form::L402Macaroon,
        per_call: false,
        about: "the daily tip: first call each UTC day is free",
    },
    Endpoint {
        method: Method::GET,
        path: "/stream",
        price_sats: 1,
        form: Form::L402Macaroon,
        per_call: false,
        about: "a server-sent-events stream",
    },
];

/// Knobs tests use to make the API misbehave on purpose; the sandbox uses the defaults.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Mint invoices with this expiry instead of 10 minutes.
    pub invoice_expiry: Option<Duration>,
    /// Mint invoices on this network instead of the mint's own.
    pub currency: Option<Currency>,
    /// Mint invoices without an amount.
    pub amountless: bool,
    /// Name a different payment hash in JSON challenges than the invoice's.
    pub wrong_payment_hash: bool,
    /// Accept each L402 token once, as some servers do (a second use gets a new 402).
    pub single_use_tokens: bool,
    /// Answer every request with a new 402, paid or not (a broken or looping server).
    pub reject_proofs: bool,
}

pub struct DemoApi {
    mint: Arc<Mint>,
    root_key: MacaroonKey,
    opts: DemoOptions,
    /// Payment hashes already redeemed on the JSON endpoint (each pays for one call).
    redeemed: Mutex<HashSet<PaymentHash>>,
    /// The UTC day number of the last free `/daily` call.
    free_day: Mutex<Option<u64>>,
    /// Token ids already used, when tokens are single-use.
    used_tokens: Mutex<HashSet<Vec<u8>>>,
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

fn json_response(status: StatusCode, value: serde_json::Value) -> Response<ProxyBody> {
    let mut resp = Response::new(full(value.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn utc_day() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() / 86_400
}

impl DemoApi {
    async fn route(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let path = req.uri().path().to_string();
        if path == "/" {
            return json_response(StatusCode::OK, self.index());
        }
        if path == "/pricing" {
            return json_response(StatusCode::OK, self.pricing());
        }
        let Some(ep) = ENDPOINTS.iter().find(|e| e.path == path) else {
            return json_response(StatusCode::NOT_FOUND, json!({"error": "no such endpoint", "see": "/pricing"}));
        };
        if req.method() != ep.method {
            return json_response(StatusCode::METHOD_NOT_ALLOWED, json!({"error": format!("use {}", ep.method)}));
        }
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
        let paid = !self.opts.reject_proofs
            && match ep.form {
                Form::JsonHash => self.redeem_hash(&body, x_hash.as_deref(), ep.price_sats),
                _ => auth.as_deref().is_some_and(|a| self.verify_l402(a, ep)),
            };
        if paid { self.serve(ep, &body) } else { self.challenge(ep) }
    }

    fn index(&self) -> serde_json::Value {
        json!({
            "name": "Purser sandbox demo API (play sats)",
            "endpoints": ENDPOINTS.iter().map(|e| json!({
                "method": e.method.as_str(), "path": e.path, "price_sats": e.price_sats, "about": e.about,
            })).collect::<Vec<_>>(),
            "pricing": "/pricing",
        })
    }

    fn pricing(&self) -> serde_json::Value {
        json!({
            "currency": "sat",
            "network": "regtest",
            "priced_endpoints": ENDPOINTS.iter().map(|e| json!({
                "method": e.method.as_str(), "path": e.path, "price_sats": e.price_sats, "description": e.about,
            })).collect::<Vec<_>>(),
            "free_tier": {"path": "/daily", "free_calls_per_day": 1},
            "payment_hints": {"payment_hash_in": "body", "name": "payment_hash"},
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
            _ => json_response(StatusCode::OK, json!({"tip": "Set budgets before you hand an agent a wallet."})),
        }
    }

    fn mint_for(&self, ep: &Endpoint) -> super::mint::MintedInvoice {
        let mut spec = InvoiceSpec::sats(ep.price_sats, &format!("Purser sandbox {}", ep.path));
        if let Some(expiry) = self.opts.invoice_expiry {
            spec.expiry = expiry;
        }
        spec.currency = self.opts.currency.clone();
        if self.opts.amountless {
            spec.amount_msat = None;
        }
        self.mint.mint(spec)
    }

    fn macaroon(&self, hash: &PaymentHash, ep: &Endpoint) -> String {
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
        mac.serialize(Format::V2).expect("V2 serialization of a fresh macaroon")
    }

    fn challenge(&self, ep: &Endpoint) -> Response<ProxyBody> {
        let minted = self.mint_for(ep);
        let inv = &minted.bolt11;
        if ep.form == Form::JsonHash {
            let named = if self.opts.wrong_payment_hash { PaymentHash([9; 32]) } else { minted.payment_hash };
            return json_response(
                StatusCode::PAYMENT_REQUIRED,
                json!({
                    "error": "payment required",
                    "amount_sat": ep.price_sats,
                    "invoice": inv,
                    "payment_hash": named.to_hex(),
                    "payment_hints": {"payment_hash_in": "body", "name": "payment_hash"},
                }),
            );
        }
        let mac = self.macaroon(&minted.payment_hash, ep);
        let mut resp = json_response(
            StatusCode::PAYMENT_REQUIRED,
            json!({"error": "payment required", "amount_sat": ep.price_sats}),
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
            Form::JsonHash => {}
        }
        resp
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
