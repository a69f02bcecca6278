//! When a kept token stops being good, read from the token itself where it says: a macaroon's first-party
//! caveats (`expiration=<ms or s>` as lsat-js writes, `<service>_valid_until=<s>` as Aperture writes,
//! `expires = <ISO time>` as pymacaroons servers write, `time < <RFC 3339>`), or the `exp` field of a
//! base64-JSON token. Tokens that say nothing have no expiry.

use serde_json::Value;

/// Milliseconds since the Unix epoch at which `token` expires, when it says.
pub fn expiry_ms(token: &str) -> Option<i64> {
    if let Ok(mac) = macaroon::Macaroon::deserialize(token.trim()) {
        return mac
            .first_party_caveats()
            .iter()
            .filter_map(|c| match c {
                macaroon::Caveat::FirstParty(fp) => String::from_utf8(fp.predicate().0).ok(),
                macaroon::Caveat::ThirdParty(_) => None,
            })
            .filter_map(|p| caveat_expiry_ms(&p))
            .min();
    }
    // A JWT-like `header.payload.signature`, or a base64 JSON object.
    let parts: Vec<&str> = token.split('.').collect();
    let candidates = if parts.len() == 3 { vec![parts[1], parts[0]] } else { vec![parts[0]] };
    candidates.into_iter().find_map(|p| {
        let json: Value = serde_json::from_slice(&super::decode_base64(p)?).ok()?;
        json.get("exp").and_then(Value::as_i64).map(to_ms)
    })
}

/// Seconds or milliseconds since the epoch, as ms (values past year 33658 in seconds are taken as ms).
fn to_ms(n: i64) -> i64 {
    if n > 1_000_000_000_000 { n } else { n.saturating_mul(1000) }
}

fn caveat_expiry_ms(predicate: &str) -> Option<i64> {
    let (name, value) = if let Some((n, v)) = predicate.split_once('=') {
        (n.trim(), v.trim())
    } else if let Some((n, v)) = predicate.split_once('<') {
        (n.trim(), v.trim())
    } else {
        return None;
    };
    let name = name.to_ascii_lowercase();
    if !(name == "expiration"
        || name == "expires"
        || name == "expires_at"
        || name == "exp"
        || name == "time"
        || name.ends_with("_valid_until"))
    {
        return None;
    }
    if let Ok(n) = value.parse::<i64>() {
        return Some(to_ms(n));
    }
    if let Ok(t) = value.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    // A civil time without a zone (pymacaroons servers write `datetime.utcnow().isoformat()`): UTC.
    let civil: jiff::civil::DateTime = value.parse().ok()?;
    civil.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use macaroon::{ByteString, Format, Macaroon, MacaroonKey};

    use super::*;

    fn mac(caveats: &[&str]) -> String {
        let _ = macaroon::initialize();
        let mut m = Macaroon::create(None, &MacaroonKey::generate_random(), ByteString::from("id")).unwrap();
        for c in caveats {
            m.add_first_party_caveat(ByteString::from(*c));
        }
        m.serialize(Format::V2).unwrap()
    }

    #[test]
    fn expiry_from_each_form() {
        assert_eq!(expiry_ms(&mac(&["services=a:0", "expiration=1795315086302"])), Some(1_795_315_086_302));
        assert_eq!(expiry_ms(&mac(&["a_valid_until=1795315086", "b_valid_until=1795315000"])), Some(1_795_315_000_000));
        assert_eq!(expiry_ms(&mac(&["expires = 2026-11-22T02:38:06.442225"])), Some(1_795_315_086_442));
        assert_eq!(expiry_ms(&mac(&["time < 2026-11-22T02:38:06Z"])), Some(1_795_315_086_000));
        assert_eq!(expiry_ms(&mac(&["path=/a"])), None);
        // The captured pylsat (pymacaroons V1) macaroon says `expires = 2026-11-22T02:38:06.442225`.
        let pylsat = "MDAwZWxvY2F0aW9uIAowMDUwaWRlbnRpZmllciBmNTJlODM3ODg2MmUxNjdhMWFhZjlkY2FjZGViMWI4NGY3YzViYjJjZjcwNzdhODE4NzU1NjA0ZWI4ZWZhZmVhCjAwMmRjaWQgZXhwaXJlcyA9IDIwMjYtMTEtMjJUMDI6Mzg6MDYuNDQyMjI1CjAwNThjaWQgcGF5bWVudF9oYXNoID0gZjUyZTgzNzg4NjJlMTY3YTFhYWY5ZGNhY2RlYjFiODRmN2M1YmIyY2Y3MDc3YTgxODc1NTYwNGViOGVmYWZlYQowMDJmc2lnbmF0dXJlIH5SBQErOkZ5-HWmOhAh9lAYS121fCZ4jeXWJrAN_kxXCg";
        assert_eq!(expiry_ms(pylsat), Some(1_795_315_086_442));
        // l402kit: base64 JSON {hash, exp}; lightning-tools: header-less `payload.signature`.
        let kit = "eyJoYXNoIjogImU4OTQwYTEzNzBhMjRlYzI0ZGQ3YzgwMGY3MzE4ODNkNWEzYmE5MGExYTk0ZDJhNzQ2MWFjNTUxOWJlNzQ0ZjYiLCAiZXhwIjogMTc5NTMxNTA4NjM5N30=";
        assert_eq!(expiry_ms(kit), Some(1_795_315_086_397));
        let alby = "eyJleHAiOjE3OTUzMTUwODYzNjYsInBheW1lbnRIYXNoIjoiM2U1ZTNjZDdjOWZmZGQ4MDUyMzYyOTU0Y2E3MDMzMTQ5OGU5YmRkZjA5YjYwNTg5NGNhMjEzMTFlZTM3MDVmZSJ9.dba8e3cb94676c4079ca85b1129166715b1f155c30f90f80fb466acc4c335f14";
        assert_eq!(expiry_ms(alby), Some(1_795_315_086_366));
        assert_eq!(expiry_ms("opaque-token"), None);
    }
}
