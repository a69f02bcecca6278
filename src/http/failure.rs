//! Everything that ends a request without an upstream answer, typed; the proxy turns each into its HTTP
//! answer in one place ([`crate::proxy::refusal`]).

use http::HeaderMap;

/// Everything that ends a proxied request without an upstream answer.
#[derive(Debug, Clone)]
pub enum Failure {
    /// No valid agent key: `407`.
    ProxyAuthRequired,
    /// No valid agent key on an endpoint a client calls directly rather than as a proxy (MCP over HTTP):
    /// `401`.
    AuthRequired,
    /// The request is not for an upstream Purser can reach: `400`.
    BadRequest { reason: &'static str, detail: String },
    /// A request from where Purser does not answer (a web page of another site): `403`.
    Forbidden { reason: &'static str, detail: String },
    /// An agent asked Purser for something that is not there (or not its own): `404`.
    NotFound { reason: &'static str, detail: String },
    /// Purser decided not to pay, or could not read what to pay: `402`. `details` (an object, or null)
    /// carries the deciding budget or threshold in machine-readable form.
    Refused { reason: String, detail: String, challenge: Box<HeaderMap>, details: serde_json::Value },
    /// Try again later (wallet or relay down, payment in flight, ledger busy): `503` + `Retry-After`.
    Unavailable { reason: String, detail: String, retry_after_secs: u64 },
    /// The upstream could not be reached or answered wrongly: `502`.
    BadGateway { reason: &'static str, detail: String },
    /// The upstream did not answer in time: `504`.
    GatewayTimeout { detail: String },
}

impl Failure {
    pub fn reason(&self) -> &str {
        match self {
            Failure::ProxyAuthRequired => "proxy_auth_required",
            Failure::AuthRequired => "auth_required",
            Failure::BadRequest { reason, .. } | Failure::BadGateway { reason, .. } => reason,
            Failure::NotFound { reason, .. } | Failure::Forbidden { reason, .. } => reason,
            Failure::Refused { reason, .. } | Failure::Unavailable { reason, .. } => reason,
            Failure::GatewayTimeout { .. } => "upstream_timeout",
        }
    }

    /// What went wrong, for a person.
    pub fn detail(&self) -> &str {
        match self {
            Failure::ProxyAuthRequired => {
                "Purser needs the agent's name and key: Proxy-Authorization: Basic base64(name:key), \
                 e.g. HTTP_PROXY=http://NAME:KEY@127.0.0.1:8402. Create one with `purser agent add NAME`."
            }
            Failure::AuthRequired => {
                "Purser needs the agent's name and key: Authorization: Basic base64(name:key). \
                 `purser mcp --print-config --agent NAME` prints a client configuration that has them."
            }
            Failure::BadRequest { detail, .. }
            | Failure::NotFound { detail, .. }
            | Failure::Forbidden { detail, .. }
            | Failure::Refused { detail, .. }
            | Failure::Unavailable { detail, .. }
            | Failure::BadGateway { detail, .. }
            | Failure::GatewayTimeout { detail } => detail,
        }
    }
}
