//! The demo API's endpoints: each path, its price, the form its challenge takes, and what it serves.

use http::Method;

/// How the challenge is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
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
    /// `Payment … method="lightning"` (MPP)
    Mpp,
    /// x402 v2: `PAYMENT-REQUIRED` header with a Lightning `exact` offer
    X402V2,
    /// x402 v1: JSON body with a Lightning `exact` offer
    X402V1,
    /// `L402 macaroon="none", invoice="…"`: proof is the payment hash in `X-Payment-Hash`
    HashOnly,
    /// x402 v2 with an EVM offer only: nothing Purser can pay
    EvmOnly,
    /// L402, MPP and x402 offered at once, for the same invoice
    Multi,
}

impl Form {
    pub(super) fn dialect(self) -> &'static str {
        match self {
            Form::L402Macaroon | Form::L402Token | Form::Both | Form::Multi => "l402",
            Form::LsatOnly => "lsat",
            Form::JsonHash => "json_payment_hash",
            Form::Mpp => "mpp",
            Form::X402V2 | Form::X402V1 | Form::EvmOnly => "x402",
            Form::HashOnly => "hash_only",
        }
    }
}

pub(super) struct Endpoint {
    pub(super) method: Method,
    pub(super) path: &'static str,
    pub(super) price_sats: u64,
    pub(super) form: Form,
    /// What its invoices ask, when that is not the advertised price (`/surge` asks double).
    pub(super) charged_sats: u64,
    /// Each token pays for one call (a second use gets a new 402), as per-call priced servers do.
    pub(super) per_call: bool,
    /// Its invoices carry no feature field, as LNbits mints them.
    pub(super) bare_invoices: bool,
    /// Its price is dynamic: the discovery document sends clients to the quote endpoint for it.
    pub(super) quoted: bool,
    pub(super) about: &'static str,
}

impl Endpoint {
    const fn new(method: Method, path: &'static str, price_sats: u64, form: Form, about: &'static str) -> Self {
        Endpoint {
            method,
            path,
            price_sats,
            form,
            charged_sats: price_sats,
            per_call: false,
            bare_invoices: false,
            quoted: false,
            about,
        }
    }
}

pub(super) static ENDPOINTS: [Endpoint; 16] = [
    Endpoint {
        method: Method::GET,
        path: "/joke",
        price_sats: 1,
        form: Form::L402Macaroon,
        charged_sats: 1,
        per_call: false,
        bare_invoices: false,
        quoted: false,
        about: "a joke (L402, macaroon form)",
    },
    Endpoint {
        method: Method::GET,
        path: "/fortune",
        price_sats: 21,
        form: Form::L402Token,
        charged_sats: 21,
        per_call: true,
        bare_invoices: false,
        quoted: false,
        about: "a fortune, 21 sats each call (L402, version/token form, single-use tokens)",
    },
    Endpoint {
        method: Method::GET,
        path: "/premium",
        price_sats: 250,
        form: Form::Both,
        charged_sats: 250,
        per_call: false,
        bare_invoices: false,
        quoted: false,
        about: "a premium report (LSAT and L402 headers)",
    },
    Endpoint {
        method: Method::GET,
        path: "/legacy",
        price_sats: 5,
        form: Form::LsatOnly,
        charged_sats: 5,
        per_call: false,
        bare_invoices: false,
        quoted: false,
        about: "an old-style answer (LSAT only)",
    },
    Endpoint {
        method: Method::POST,
        path: "/summarize",
        price_sats: 21,
        form: Form::JsonHash,
        charged_sats: 21,
        per_call: false,
        bare_invoices: false,
        quoted: false,
        about: "a summary of the JSON body's `text` (JSON payment_hash)",
    },
    Endpoint {
        method: Method::GET,
        path: "/daily",
        price_sats: 10,
        form: Form::L402Macaroon,
        charged_sats: 10,
        per_call: false,
        bare_invoices: false,
        quoted: false,
        about: "the daily tip: first call each UTC day is free",
    },
    Endpoint {
        method: Method::GET,
        path: "/stream",
        price_sats: 1,
        form: Form::L402Macaroon,
        charged_sats: 1,
        per_call: false,
        bare_invoices: false,
        quoted: false,
        about: "a server-sent-events stream",
    },
    Endpoint::new(Method::GET, "/mpp", 3, Form::Mpp, "a joke paid over MPP (Payment scheme, Lightning charge)"),
    Endpoint::new(Method::GET, "/x402", 4, Form::X402V2, "a joke paid over x402 v2 (PAYMENT-REQUIRED header)"),
    Endpoint::new(Method::GET, "/x402-v1", 4, Form::X402V1, "a joke paid over x402 v1 (JSON body)"),
    Endpoint::new(Method::GET, "/hash-only", 2, Form::HashOnly, "a joke paid by payment hash (L402 without a token)"),
    Endpoint::new(Method::GET, "/evm", 0, Form::EvmOnly, "offers only USDC on Base: Purser passes it on unpaid"),
    Endpoint::new(Method::GET, "/multi", 6, Form::Multi, "offers L402, MPP and x402 at once: L402 is paid"),
    Endpoint {
        method: Method::GET,
        path: "/surge",
        price_sats: 10,
        form: Form::L402Macaroon,
        charged_sats: 20,
        per_call: false,
        bare_invoices: false,
        quoted: false,
        about: "advertised at 10 sats, but its invoices ask 20: held for a person",
    },
    Endpoint {
        method: Method::GET,
        path: "/lnbits",
        price_sats: 3,
        form: Form::L402Macaroon,
        charged_sats: 3,
        per_call: false,
        bare_invoices: true,
        quoted: false,
        about: "a joke whose invoices carry no feature field, as LNbits mints them (L402)",
    },
    Endpoint {
        method: Method::GET,
        path: "/quoted",
        price_sats: 7,
        form: Form::L402Macaroon,
        charged_sats: 7,
        per_call: false,
        bare_invoices: false,
        quoted: true,
        about: "a forecast priced dynamically: POST /l402/quote says what it costs now (L402 discovery)",
    },
];

/// The priced endpoints as the pricing documents list them (the EVM-only one has no sat price).
pub(super) fn listed() -> Vec<super::demo_pricing::Listed<'static>> {
    ENDPOINTS
        .iter()
        .filter(|e| e.price_sats > 0)
        .map(|e| super::demo_pricing::Listed {
            method: e.method.as_str(),
            path: e.path,
            price_sats: e.price_sats,
            about: e.about,
            dialect: e.form.dialect(),
            quoted: e.quoted,
        })
        .collect()
}
