//! The entry points of the fuzz targets in `fuzz/` (run with `cargo fuzz`), kept in the library so the
//! regular test run exercises them too (`tests` below replays the seed corpus and mutations of it). Each takes
//! arbitrary bytes and must never panic, hang or allocate without bound, whatever the bytes.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::challenge;
use crate::flow::proof;
use crate::units::Preimage;

/// The headers a 402 may carry a challenge in.
const NAMES: [&str; 3] = ["www-authenticate", "payment-required", "content-type"];

/// Bytes as a 402: lines `N:value` (N picks the header name) up to a blank line, then the body.
fn as_response(data: &[u8]) -> (HeaderMap, &[u8]) {
    let split = data.windows(2).position(|w| w == b"\n\n").unwrap_or(data.len());
    let (head, body) = (&data[..split], data.get(split + 2..).unwrap_or_default());
    let mut headers = HeaderMap::new();
    for line in head.split(|b| *b == b'\n') {
        let Some((&pick, value)) = line.split_first() else { continue };
        let name = HeaderName::from_static(NAMES[pick as usize % NAMES.len()]);
        if let Ok(v) = HeaderValue::from_bytes(value.strip_prefix(b":").unwrap_or(value)) {
            headers.append(name, v);
        }
    }
    (headers, body)
}

/// Challenge parsing in every dialect, then the proof built for whatever was read.
pub fn challenge(data: &[u8]) {
    let (headers, body) = as_response(data);
    if let Ok(ch) = challenge::parse(&headers, body) {
        let preimage = Preimage([7; 32]);
        let retry = proof::Retry {
            uri: http::Uri::from_static("http://api.test/path?q=1"),
            headers: HeaderMap::new(),
            body: bytes::Bytes::from_static(b"{\"a\":1}"),
            authorization: None,
            single_use: None,
        };
        let _ = proof::apply(&ch, &preimage.payment_hash(), &preimage, retry);
        if let challenge::ProofForm::Authorization { token, .. } = &ch.proof {
            let _ = challenge::caveats::expiry_ms(token);
        }
        if let challenge::ProofForm::MppSession { challenge, .. } = &ch.proof {
            for action in [
                challenge::mpp::SessionAction::Open { return_invoice: "lnbcrt1" },
                challenge::mpp::SessionAction::Bearer,
                challenge::mpp::SessionAction::Close,
            ] {
                let _ = challenge::mpp::session_credential(challenge, action, &preimage.to_hex());
            }
        }
    }
}

/// The JSON 402 bodies (L402 offers too), an MPP session's close answer, pricing documents (the L402 discovery document too), quote and
/// payment request answers, and `Link` headers.
pub fn json_bodies(data: &[u8]) {
    let _ = challenge::parse(&HeaderMap::new(), data);
    for (_, source) in crate::pricing::documents::LOCATIONS {
        if let Some(read) = crate::pricing::documents::read(source, data) {
            let list = crate::pricing::PriceList { prices: read.prices, ..Default::default() };
            let _ = list.price_for("GET", "/a/b");
        }
    }
    if let Some(offers) = challenge::offers::read(data) {
        let _ = challenge::offers::cheapest(&offers, |o| o.msat().or_else(|| Some(o.money()?.micros.unsigned_abs())));
        let _ = challenge::offers::cheapest_top_up(&offers, challenge::offers::Offer::msat);
        let _ = challenge::offers::currencies(&offers);
        let _ = challenge::offers::why_none(&offers);
    }
    let _ = challenge::offers::invoice_of(data);
    if let Ok(close) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = crate::flow::session_close::refund_msat(&close);
    }
    let _ = crate::pricing::quote::read(http::StatusCode::OK, data, 0);
    let _ = crate::pricing::quote::read(http::StatusCode::BAD_REQUEST, data, 0);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = challenge::caveats::expiry_ms(text);
    }
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::LINK, value);
        let _ = crate::pricing::discovery::manifest_link(&headers);
    }
}

/// The invoice checks, on the bytes as a BOLT11 string.
pub fn invoice(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let want = crate::invoice::Expectations {
        payment_hash: None,
        wallet_network: Some("regtest"),
        now: Duration::from_secs(1_795_000_000),
        expiry_margin: Duration::from_secs(30),
    };
    let _ = crate::invoice::check(text, &want);
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    /// The seed corpus: the shared vectors' challenges and captured responses, and the sandbox's forms.
    fn corpus() -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let mut out = Vec::new();
        for target in ["challenge", "json_bodies", "invoice"] {
            for entry in std::fs::read_dir(dir.join(target)).unwrap() {
                out.push(std::fs::read(entry.unwrap().path()).unwrap());
            }
        }
        assert!(out.len() >= 10, "the seed corpus is there");
        out
    }

    fn mutate(rng: &mut rand::rngs::StdRng, seed: &[u8]) -> Vec<u8> {
        let mut data = seed.to_vec();
        for _ in 0..rng.gen_range(1..8) {
            let at = if data.is_empty() { 0 } else { rng.gen_range(0..data.len()) };
            match rng.gen_range(0..5) {
                0 if !data.is_empty() => data[at] = rng.r#gen(),
                1 => data.insert(at, rng.r#gen()),
                2 if !data.is_empty() => {
                    data.remove(at);
                }
                3 => {
                    let end = (at + rng.gen_range(0..64)).min(data.len());
                    let piece = data[at..end].to_vec();
                    data.splice(at..at, piece.iter().cycle().take(piece.len() * rng.gen_range(1..50)).cloned());
                }
                _ => data.truncate(at),
            }
        }
        data
    }

    /// The session seed is one: mutations of it reach the session reader and its credentials.
    #[test]
    fn the_session_seed_reads_as_a_session() {
        let seed = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/challenge/mpp-session")).unwrap();
        let (headers, body) = as_response(&seed);
        let read = challenge::parse(&headers, body).unwrap();
        assert_eq!(read.kind, challenge::ChallengeKind::MppSession);
    }

    /// A bounded, seeded run of every target over the corpus and mutations of it: a smoke test of the fuzz
    /// entry points; `cargo fuzz run` (see docs/reliability.md) searches far longer, guided by coverage.
    #[test]
    fn fuzz_entry_points_survive_mutated_corpus() {
        let seeds = corpus();
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
        for seed in &seeds {
            challenge(seed);
            json_bodies(seed);
            invoice(seed);
        }
        for _ in 0..4_000 {
            let pick = rng.gen_range(0..seeds.len());
            let data = mutate(&mut rng, &seeds[pick]);
            challenge(&data);
            json_bodies(&data);
            invoice(&data);
        }
    }
}
