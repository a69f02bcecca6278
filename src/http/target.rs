//! Where a request goes: an absolute-form request (forward proxy), or the gateway form
//! `/<scheme>/<host[:port]>/<path and query>`.

use http::Uri;
use http::uri::{Authority, Scheme};

/// The upstream a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub uri: Uri,
    pub scheme: String,
    /// `host` or `host:port`, as given.
    pub authority: String,
    pub path_and_query: String,
    /// The path as scopes, rules, prices and the ledger see it ([`normalize_path`]); what is sent upstream is
    /// `uri`, unchanged.
    path: String,
    /// Which way the agent came in: `forward`, `gateway` or `tunnel` (inside a `CONNECT`).
    pub via: &'static str,
}

impl Target {
    /// `scheme://host:port`: the scope credentials are kept for.
    pub fn origin(&self) -> String {
        let port = self.uri.port_u16().unwrap_or(if self.scheme == "https" { 443 } else { 80 });
        format!("{}://{}:{}", self.scheme, self.uri.host().unwrap_or_default(), port)
    }

    pub fn host(&self) -> &str {
        self.uri.host().unwrap_or_default()
    }

    /// The path without the query, normalised: what scopes, rules, prices and the ledger match and record.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// A path as it names a resource, so `/v1//x`, `/v1/%78` and `/v1/a/../x` all name `/v1/x`: unreserved
/// characters percent-decoded (other escapes kept, in upper case), repeated slashes collapsed, `.` and `..`
/// segments resolved (RFC 3986, 6.2.2). A trailing slash stays.
pub fn normalize_path(path: &str) -> String {
    let decoded = decode_unreserved(path);
    let mut segments: Vec<&str> = Vec::new();
    let parts: Vec<&str> = decoded.split('/').collect();
    let last = parts.len().saturating_sub(1);
    let mut trailing = false;
    for (i, part) in parts.iter().enumerate() {
        match *part {
            "" => trailing = i == last && i > 0,
            "." => trailing = i == last,
            ".." => {
                segments.pop();
                trailing = i == last;
            }
            other => {
                segments.push(other);
                trailing = false;
            }
        }
    }
    let mut out = format!("/{}", segments.join("/"));
    if trailing && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// `%XX` escapes of unreserved characters (letters, digits, `-`, `.`, `_`, `~`) decoded; others upper-cased.
fn decode_unreserved(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = path.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                out.push(char::from(byte));
            } else {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
            continue;
        }
        let ch = path[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(
        "not a proxied request: send it through Purser as a forward proxy (HTTP_PROXY) or as \
         /<http|https>/<host[:port]>/<path>"
    )]
    NotProxied,
    #[error("`{0}` is not a valid upstream address")]
    BadUpstream(String),
}

pub fn resolve(uri: &Uri) -> Result<Target, Error> {
    if let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) {
        return build(scheme.as_str(), authority.as_str(), uri.path_and_query().map_or("/", |p| p.as_str()), "forward");
    }
    let pq = uri.path_and_query().map_or("/", |p| p.as_str());
    let rest = pq.strip_prefix('/').ok_or(Error::NotProxied)?;
    let (scheme, rest) = rest.split_once('/').ok_or(Error::NotProxied)?;
    if scheme != "http" && scheme != "https" {
        return Err(Error::NotProxied);
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let tail = if tail.is_empty() {
        "/".to_string()
    } else if tail.starts_with('?') {
        format!("/{tail}")
    } else {
        tail.to_string()
    };
    build(scheme, authority, &tail, "gateway")
}

/// A request read inside a `CONNECT` tunnel to `authority`: its own target names only the path (HTTP/1.1)
/// or repeats the host (HTTP/2); the tunnel's authority is where it goes.
pub fn inside_tunnel(scheme: &str, authority: &Authority, uri: &Uri) -> Result<Target, Error> {
    let pq = uri.path_and_query().map_or("/", |p| p.as_str());
    let pq = if pq.starts_with('/') { pq.to_string() } else { format!("/{pq}") };
    let authority = match (scheme, authority.port_u16()) {
        ("https", Some(443)) | ("http", Some(80)) => authority.host(),
        _ => authority.as_str(),
    };
    build(scheme, authority, &pq, "tunnel")
}

fn build(scheme: &str, authority: &str, pq: &str, via: &'static str) -> Result<Target, Error> {
    let bad = || Error::BadUpstream(format!("{scheme}://{authority}"));
    let _: Scheme = scheme.parse().map_err(|_| bad())?;
    let auth: Authority = authority.parse().map_err(|_| bad())?;
    if auth.host().is_empty() || authority.contains('@') || !(scheme == "http" || scheme == "https") {
        return Err(bad());
    }
    // `host:443` over HTTPS (`host:80` over HTTP) is `host`: one API, however it is written.
    let authority = match (scheme, auth.port_u16()) {
        ("https", Some(443)) | ("http", Some(80)) => auth.host(),
        _ => authority,
    };
    let uri: Uri = format!("{scheme}://{authority}{pq}").parse().map_err(|_| bad())?;
    let path = normalize_path(uri.path());
    Ok(Target {
        uri,
        scheme: scheme.to_string(),
        authority: authority.to_string(),
        path_and_query: pq.to_string(),
        path,
        via,
    })
}

/// `scheme://host:port` of `url`, lowercase, the port always written (as the proxy names origins); `None`
/// for what is not an http(s) URL.
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let host = parsed.host_str()?;
    Some(format!("{}://{host}:{}", parsed.scheme(), parsed.port_or_known_default()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_form() {
        let t = resolve(&"http://api.example:8080/v1/x?q=1".parse().unwrap()).unwrap();
        assert_eq!(t.uri, "http://api.example:8080/v1/x?q=1");
        assert_eq!(t.origin(), "http://api.example:8080");
        assert_eq!(t.via, "forward");
    }

    #[test]
    fn gateway_form() {
        let t = resolve(&"/https/api.example/v1/x?q=1".parse().unwrap()).unwrap();
        assert_eq!(t.uri, "https://api.example/v1/x?q=1");
        assert_eq!(t.origin(), "https://api.example:443");
        assert_eq!(t.path(), "/v1/x");
        assert_eq!(t.via, "gateway");
        let bare = resolve(&"/http/127.0.0.1:9000".parse().unwrap()).unwrap();
        assert_eq!(bare.uri, "http://127.0.0.1:9000/");
        let q = resolve(&"/http/h?x=1".parse().unwrap()).unwrap();
        assert_eq!(q.uri, "http://h/?x=1");
    }

    #[test]
    fn paths_are_normalised_for_matching_but_sent_as_given() {
        for (given, named) in [
            ("/v1//x", "/v1/x"),
            ("/v1/%78", "/v1/x"),
            ("/v1/%2e%2E/v1/x", "/v1/x"),
            ("/v1/./x", "/v1/x"),
            ("/v1/a/../x", "/v1/x"),
            ("/../../x", "/x"),
            ("/v1/x/", "/v1/x/"),
            ("//", "/"),
            ("/a%2fb", "/a%2Fb"),
            ("/caf%C3%A9", "/caf%C3%A9"),
            ("/%zz", "/%zz"),
        ] {
            assert_eq!(normalize_path(given), named, "{given}");
        }
        let t = resolve(&"http://api.example/v1//%78?q=1".parse().unwrap()).unwrap();
        assert_eq!(t.path(), "/v1/x");
        assert_eq!(t.uri, "http://api.example/v1//%78?q=1", "sent upstream as the agent wrote it");
    }

    #[test]
    fn the_default_port_names_the_same_api() {
        let t = resolve(&"https://api.example:443/x".parse().unwrap()).unwrap();
        assert_eq!((t.authority.as_str(), t.origin().as_str()), ("api.example", "https://api.example:443"));
        let other = resolve(&"https://api.example:8443/x".parse().unwrap()).unwrap();
        assert_eq!(other.authority, "api.example:8443");
    }

    #[test]
    fn inside_a_tunnel() {
        let auth: Authority = "api.example:443".parse().unwrap();
        let t = inside_tunnel("https", &auth, &"/v1/x?q=1".parse().unwrap()).unwrap();
        assert_eq!(t.uri, "https://api.example/v1/x?q=1");
        assert_eq!(t.origin(), "https://api.example:443");
        assert_eq!(t.via, "tunnel");
        let h2 = inside_tunnel("https", &auth, &"https://api.example/x".parse().unwrap()).unwrap();
        assert_eq!(h2.uri, "https://api.example/x");
        let other: Authority = "127.0.0.1:8443".parse().unwrap();
        let t = inside_tunnel("https", &other, &"/".parse().unwrap()).unwrap();
        assert_eq!(t.uri, "https://127.0.0.1:8443/");
    }

    #[test]
    fn refuses_other_paths() {
        assert_eq!(resolve(&"/".parse().unwrap()), Err(Error::NotProxied));
        assert_eq!(resolve(&"/ftp/h/x".parse().unwrap()), Err(Error::NotProxied));
        assert!(matches!(resolve(&"/http//x".parse().unwrap()), Err(Error::BadUpstream(_))));
    }
}
