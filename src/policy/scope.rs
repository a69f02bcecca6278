//! What a budget, threshold or rule applies to: the whole wallet, an agent, an API (host, optionally a path
//! prefix), or an agent on an API.

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Scope {
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub agent_id: Option<i64>,
    /// The agent's name, for explanations (filled when read from the ledger).
    pub agent: Option<String>,
    /// A host (`api.example.com`, matching any port) or `host:port`.
    pub host: Option<String>,
    pub path_prefix: Option<String>,
}

impl Scope {
    /// Whether a request by `agent_id` to `authority` + `path` falls in this scope.
    pub fn matches(&self, agent_id: i64, authority: &str, path: &str) -> bool {
        self.agent_id.is_none_or(|a| a == agent_id)
            && self.host.as_deref().is_none_or(|h| host_matches(h, authority))
            && self.path_prefix.as_deref().is_none_or(|p| prefix_matches(p, path))
    }

    /// Higher is more specific: an agent on an API, then an API, then an agent, then the wallet.
    pub fn specificity(&self) -> u8 {
        (self.host.is_some() as u8) * 4 + (self.agent_id.is_some() as u8) * 2 + (self.path_prefix.is_some() as u8)
    }

    /// E.g. "agent research on api.example.com/v1", "the whole wallet".
    pub fn describe(&self) -> String {
        let api = self.host.as_ref().map(|h| format!("{h}{}", self.path_prefix.as_deref().unwrap_or("")));
        match (&self.agent, api) {
            (Some(a), Some(api)) => format!("agent {a} on {api}"),
            (Some(a), None) => format!("agent {a}"),
            (None, Some(api)) => format!("API {api}"),
            (None, None) => "the whole wallet".into(),
        }
    }
}

/// `/v1` covers `/v1` and `/v1/…` but not `/v10`: prefixes match whole path segments.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || prefix.ends_with('/'))
}

/// A host as scopes and the ledger name it: lowercase, without the trailing dot of a fully qualified name
/// (`API.Example.com.:443` → `api.example.com:443`), so the same API cannot be written two ways.
pub fn normalize_host(authority: &str) -> String {
    let lower = authority.to_ascii_lowercase();
    let host_port = lower.rsplit_once(':').filter(|(h, p)| !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()));
    match host_port {
        Some((host, port)) => format!("{}:{port}", host.trim_end_matches('.')),
        None => lower.trim_end_matches('.').to_string(),
    }
}

/// `api.example.com` matches `api.example.com` and `api.example.com:8443`; `host:port` matches exactly.
pub fn host_matches(scope_host: &str, authority: &str) -> bool {
    if authority.eq_ignore_ascii_case(scope_host) {
        return true;
    }
    if scope_host.contains(':') {
        return false;
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => port.bytes().all(|b| b.is_ascii_digit()) && host.eq_ignore_ascii_case(scope_host),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_and_specificity() {
        let api = Scope { host: Some("api.example".into()), ..Scope::default() };
        assert!(api.matches(1, "api.example", "/x"));
        assert!(api.matches(1, "api.example:8443", "/x"));
        assert!(!api.matches(1, "api.example.evil", "/x"));
        let exact = Scope { host: Some("127.0.0.1:9000".into()), path_prefix: Some("/v1".into()), ..Scope::default() };
        assert!(exact.matches(1, "127.0.0.1:9000", "/v1/a"));
        assert!(!exact.matches(1, "127.0.0.1:9001", "/v1/a"));
        assert!(!exact.matches(1, "127.0.0.1:9000", "/v2"));
        assert!(exact.matches(1, "127.0.0.1:9000", "/v1"));
        assert!(!exact.matches(1, "127.0.0.1:9000", "/v10"));
        let agent = Scope { agent_id: Some(7), ..Scope::default() };
        assert!(agent.matches(7, "x", "/") && !agent.matches(8, "x", "/"));
        assert!(exact.specificity() > api.specificity());
        assert!(api.specificity() > agent.specificity());
        assert!(agent.specificity() > Scope::default().specificity());
        assert_eq!(Scope::default().describe(), "the whole wallet");
        assert_eq!(normalize_host("API.Example.com.:443"), "api.example.com:443");
        assert_eq!(normalize_host("api.example.com."), "api.example.com");
        assert_eq!(normalize_host("[::1]:8080"), "[::1]:8080");
    }
}
