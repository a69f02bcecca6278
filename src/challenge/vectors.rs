//! Every case of the shared challenge vectors (`tests/data/`), run through the parser.

use serde_json::Value;

use super::*;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn token(c: &PaymentChallenge) -> &str {
    match &c.proof {
        ProofForm::Authorization { token, .. } => token,
        other => panic!("expected a token proof, got {other:?}"),
    }
}

#[test]
fn every_challenge_case() {
    let cases = load("l402-challenge-cases.json");
    let cases = cases["challenges"].as_array().unwrap();
    assert_eq!(cases.len(), 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let headers: Vec<&str> = case["headers"].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
        let got = from_www_authenticate(&headers);
        // The same values joined into one header, as clients that fold repeated headers see them.
        let joined = from_www_authenticate(&[headers.join(", ").as_str()]);
        assert_eq!(got, joined, "{name}: joined headers differ");
        if let Some(expect) = case.get("expect") {
            let got = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            let scheme = expect["scheme"].as_str().unwrap();
            let want_kind = if scheme.starts_with("L402") { ChallengeKind::L402 } else { ChallengeKind::Lsat };
            assert_eq!(got.kind, want_kind, "{name}");
            assert_eq!(got.invoice, expect["invoice"].as_str().unwrap(), "{name}");
            let want_token = expect.get("macaroon").or_else(|| expect.get("token")).and_then(Value::as_str);
            if let Some(want) = want_token {
                assert_eq!(token(&got), want, "{name}");
            }
        } else {
            let err = case["expect_error"].as_str().unwrap();
            if err.contains("double quotes") {
                // lsat-js insists on double quotes; Purser reads bare values like lightning-tools does.
                let got = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(got.invoice.starts_with("ln"), "{name}");
                assert!(token(&got).starts_with("AgE"), "{name}");
            } else if name.contains("missing invoice") {
                assert_eq!(got, Err(Error::MissingInvoice("LSAT")), "{name}");
            } else if name.contains("missing macaroon") {
                assert_eq!(got, Err(Error::MissingToken("LSAT")), "{name}");
            } else {
                panic!("{name}: unexpected case {err}");
            }
        }
    }
}

#[test]
fn token_form_keeps_dots_and_version() {
    let cases = load("l402-challenge-cases.json");
    let case = cases["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str().unwrap().contains("version + token"))
        .unwrap();
    let got = from_www_authenticate(&[case["headers"][0].as_str().unwrap()]).unwrap();
    assert!(token(&got).contains('.'));
    assert_eq!(got.kind, ChallengeKind::L402);
}

#[test]
fn every_captured_response() {
    let captured = load("captured-402-responses.json");
    let responses = captured["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 7);
    for r in responses {
        let name = r["name"].as_str().unwrap();
        let mut headers = HeaderMap::new();
        for v in r["www_authenticate"].as_array().unwrap() {
            headers.append(http::header::WWW_AUTHENTICATE, v.as_str().unwrap().parse().unwrap());
        }
        let body = r["body"].as_str().unwrap().as_bytes();
        let got = parse(&headers, body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(got.invoice.starts_with("lnbc"), "{name}");
        let body_json: Value = serde_json::from_slice(body).unwrap();
        if headers.is_empty() {
            assert_eq!(got.kind, ChallengeKind::JsonL402, "{name}");
            assert_eq!(got.invoice, body_json["invoice"].as_str().unwrap());
            assert_eq!(got.payment_hash.unwrap().to_hex(), body_json["payment_hash"].as_str().unwrap());
            assert_eq!(token(&got), body_json["macaroon"].as_str().unwrap());
        } else {
            let only_lsat =
                r["www_authenticate"].as_array().unwrap().iter().all(|h| h.as_str().unwrap().starts_with("LSAT"));
            let want = if only_lsat { ChallengeKind::Lsat } else { ChallengeKind::L402 };
            assert_eq!(got.kind, want, "{name}");
            match (&got.proof, only_lsat) {
                (ProofForm::Authorization { scheme, .. }, true) => assert_eq!(*scheme, "LSAT"),
                (ProofForm::Authorization { scheme, .. }, false) => assert_eq!(*scheme, "L402"),
                _ => panic!("{name}"),
            }
        }
    }
}
