//! Agent identification: `Proxy-Authorization: Basic base64(name:key)`, in both ways in.

use base64::Engine;
use http::HeaderMap;
use http::header::PROXY_AUTHORIZATION;

use crate::http::failure::Failure;
use crate::ledger::agents::Agent;

/// The name and key an agent presented, if it presented any in a readable form.
pub fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    basic_credentials(headers.get(PROXY_AUTHORIZATION)?.to_str().ok()?)
}

/// The name and key in a `Basic base64(name:key)` header value.
pub fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, key) = text.split_once(':')?;
    Some((name.to_string(), key.to_string()))
}

/// The header value an agent sends (used by `purser` itself and by tests).
pub fn basic(name: &str, key: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{name}:{key}")))
}

/// The agent `name` whose key is `key`, or `407`.
pub(crate) async fn check_agent(proxy: &super::Proxy, name: &str, key: &str) -> Result<Agent, Failure> {
    match proxy.ledger.authenticate(name, key).await {
        Ok(Some(agent)) => Ok(agent),
        Ok(None) => Err(Failure::ProxyAuthRequired),
        Err(e) => Err(Failure::Unavailable {
            reason: "ledger_unavailable".into(),
            detail: format!("Purser could not read its ledger: {e}"),
            retry_after_secs: 5,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_basic_credentials() {
        let mut h = HeaderMap::new();
        h.insert(PROXY_AUTHORIZATION, basic("research", "k:ey").parse().unwrap());
        assert_eq!(credentials(&h), Some(("research".into(), "k:ey".into())));
        h.insert(PROXY_AUTHORIZATION, "Bearer x".parse().unwrap());
        assert_eq!(credentials(&h), None);
        h.insert(PROXY_AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(credentials(&h), None);
    }
}
