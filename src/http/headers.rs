//! Header handling between agent and upstream (RFC 9110 §7.6): hop-by-hop fields — the fixed set and any
//! named in `Connection` — are not forwarded, `Proxy-Authorization` never leaves Purser, and `Via` names
//! Purser on the way.

use http::HeaderMap;
use http::header::{self, HeaderName, HeaderValue};

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop fields, including those the `Connection` field names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

fn add_via(headers: &mut HeaderMap, version: http::Version) {
    let proto = match version {
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "2",
        _ => "1.1",
    };
    if let Ok(v) = HeaderValue::from_str(&format!("{proto} purser")) {
        headers.append(header::VIA, v);
    }
}

/// The agent's request headers as sent upstream. `Host` is dropped: the client sets it from the target.
pub fn to_upstream(agent: &HeaderMap, version: http::Version, replayable: bool) -> HeaderMap {
    let mut out = agent.clone();
    strip_hop_by_hop(&mut out);
    // Purser's own request headers (`Purser-Max-Sats`, `Purser-Dry-Run`) are for Purser, not the API.
    let own: Vec<http::HeaderName> = out.keys().filter(|k| k.as_str().starts_with("purser-")).cloned().collect();
    for name in own {
        out.remove(name);
    }
    out.remove(header::HOST);
    if replayable {
        // The body may be rewritten with a proof; the client sets the length of what it sends.
        out.remove(header::CONTENT_LENGTH);
    }
    add_via(&mut out, version);
    out
}

/// The upstream's response headers as sent to the agent.
pub fn to_agent(upstream: &mut HeaderMap, version: http::Version) {
    strip_hop_by_hop(upstream);
    add_via(upstream, version);
}

/// An upstream response on its way to the agent: hop-by-hop fields dropped, the body streamed.
pub fn response_to_agent(resp: http::Response<hyper::body::Incoming>) -> http::Response<super::body::ProxyBody> {
    let (mut parts, incoming) = resp.into_parts();
    to_agent(&mut parts.headers, parts.version);
    http::Response::from_parts(parts, super::body::stream(incoming))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_fixed_and_connection_named_fields() {
        let mut h = HeaderMap::new();
        h.insert("connection", "close, X-Private".parse().unwrap());
        h.insert("x-private", "1".parse().unwrap());
        h.insert("proxy-authorization", "Basic abc".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("te", "trailers".parse().unwrap());
        h.insert("host", "example".parse().unwrap());
        h.insert("content-length", "3".parse().unwrap());
        h.insert("authorization", "L402 a:b".parse().unwrap());
        let out = to_upstream(&h, http::Version::HTTP_11, true);
        for gone in ["connection", "x-private", "proxy-authorization", "keep-alive", "te", "host", "content-length"] {
            assert!(!out.contains_key(gone), "{gone} was forwarded");
        }
        assert_eq!(out["authorization"], "L402 a:b");
        assert_eq!(out["via"], "1.1 purser");
        let streaming = to_upstream(&h, http::Version::HTTP_11, false);
        assert_eq!(streaming["content-length"], "3");
    }
}
