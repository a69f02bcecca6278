//! Which part of a wallet connection string is wrong, in words a person can act on: the scheme, the wallet's
//! public key, a relay, the secret, or a part pasted twice or cut short. The NIP-47 parser itself decides what
//! is valid; this only names the part when it is not, and never repeats the secret.

use url::Url;

const SCHEME: &str = "nostr+walletconnect";

/// The first problem with `uri` as a connection string, or `None` when each part looks right.
pub fn problem(uri: &str) -> Option<String> {
    let uri = uri.trim();
    if uri.is_empty() {
        return Some("it is empty: paste the whole string from your wallet's “connect an app” page".into());
    }
    let scheme_like = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let Some((scheme, _)) = uri.split_once("://").filter(|(s, _)| scheme_like(s)) else {
        return Some(format!("it does not start with {SCHEME}:// (copy the whole string, not a part of it)"));
    };
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return Some(format!("it starts with {scheme}:// instead of {SCHEME}://"));
    }
    let Ok(url) = Url::parse(uri) else {
        return Some("it is not a well-formed address (was it cut short or joined with other text?)".into());
    };
    let key = url.host_str().unwrap_or_default();
    if !is_hex_key(key) {
        return Some(format!(
            "the wallet's public key after {SCHEME}:// must be 64 hexadecimal characters; it has {} characters",
            key.chars().count()
        ));
    }
    pair_problem(&url)
}

/// Problems in the `?relay=…&secret=…` part.
fn pair_problem(url: &Url) -> Option<String> {
    let relays: Vec<String> = url.query_pairs().filter(|(k, _)| k == "relay").map(|(_, v)| v.into_owned()).collect();
    if relays.is_empty() {
        return Some("it names no relay (relay=wss://…): the wallet's page shows the whole string".into());
    }
    for relay in &relays {
        let scheme_ok = Url::parse(relay).map(|r| matches!(r.scheme(), "ws" | "wss") && r.host().is_some());
        if !scheme_ok.unwrap_or(false) {
            return Some(format!("the relay “{relay}” is not a ws:// or wss:// address"));
        }
    }
    let secrets: Vec<String> = url.query_pairs().filter(|(k, _)| k == "secret").map(|(_, v)| v.into_owned()).collect();
    match secrets.as_slice() {
        [] => Some("it has no secret (secret=…): the wallet's page shows the whole string".into()),
        [one] if !is_hex_key(one) => Some(format!(
            "the secret must be 64 hexadecimal characters; it has {} characters (was it cut short?)",
            one.chars().count()
        )),
        [_] => None,
        _ => Some("it has more than one secret: paste the string once".into()),
    }
}

fn is_hex_key(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "b889ff5b1513b641e2a139f661a661364979c5beee91842f8f0ef42ab558e9d4";
    const SECRET: &str = "71a8c14c1407c113601079c4302dab36460f0ccd0ad506f1f2dc73b5100e4f3c";

    fn uri(key: &str, query: &str) -> String {
        format!("nostr+walletconnect://{key}?{query}")
    }

    #[test]
    fn a_whole_string_has_no_problem() {
        assert_eq!(problem(&uri(KEY, &format!("relay=wss%3A%2F%2Frelay.example&secret={SECRET}"))), None);
        assert_eq!(
            problem(&uri(KEY, &format!("relay=ws://127.0.0.1:7000&relay=wss://r2.example&secret={SECRET}"))),
            None
        );
    }

    #[test]
    fn each_wrong_part_is_named() {
        let says = |u: &str, part: &str| {
            let p = problem(u).unwrap_or_else(|| panic!("{u} has a problem"));
            assert!(p.contains(part), "{u}: {p}");
            assert!(!p.contains(&SECRET[..16]), "the secret is never repeated: {p}");
        };
        says("", "empty");
        says(&format!("walletconnect://{KEY}?secret={SECRET}"), "instead of nostr+walletconnect://");
        says(&format!("{KEY}?relay=wss://r&secret={SECRET}"), "does not start with");
        says(&uri(&KEY[..60], &format!("relay=wss://r.example&secret={SECRET}")), "public key");
        says(&uri(KEY, &format!("secret={SECRET}")), "no relay");
        says(&uri(KEY, &format!("relay=https://r.example&secret={SECRET}")), "relay");
        says(&uri(KEY, "relay=wss://r.example"), "no secret");
        says(&uri(KEY, &format!("relay=wss://r.example&secret={}", &SECRET[..40])), "secret must be 64");
        says(&uri(KEY, &format!("relay=wss://r.example&secret={SECRET}&secret={SECRET}")), "more than one secret");
    }
}
