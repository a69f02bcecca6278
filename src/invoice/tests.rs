use std::time::Duration;

use bitcoin::bech32::Fe32;
use bitcoin::secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lightning_invoice::{Currency, InvoiceBuilder, PaymentSecret, RawTaggedField, SignedRawBolt11Invoice, TaggedField};

use super::*;
use crate::sandbox::mint::{FeatureField, InvoiceSpec, Mint};

fn now() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap()
}

fn want<'a>(network: Option<&'a str>, hash: Option<&'a PaymentHash>) -> Expectations<'a> {
    Expectations { payment_hash: hash, wallet_network: network, now: now(), expiry_margin: Duration::from_secs(10) }
}

fn data(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn minted_with(features: FeatureField) -> crate::sandbox::mint::MintedInvoice {
    Mint::new(Currency::Regtest).mint(InvoiceSpec { features, ..InvoiceSpec::sats(21, "features") })
}

#[test]
fn accepts_a_fresh_regtest_invoice() {
    let mint = Mint::new(Currency::Regtest);
    let minted = mint.mint(InvoiceSpec::sats(21, "test"));
    let ok = check(&minted.bolt11, &want(Some("regtest"), Some(&minted.payment_hash))).unwrap();
    assert_eq!(ok.amount, Msats(21_000));
    assert_eq!(ok.payment_hash, minted.payment_hash);
}

#[test]
fn a_route_hint_gives_the_least_fee_to_reach_the_payee() {
    let mint = Mint::new(Currency::Regtest);
    let plain = mint.mint(InvoiceSpec::sats(21, "plain"));
    assert_eq!(check(&plain.bolt11, &want(None, None)).unwrap().route_hint_fee, None);
    let fees = lightning_invoice::RoutingFees { base_msat: 1_000, proportional_millionths: 1_000 };
    let hinted = mint.mint(InvoiceSpec { route_hint: Some(fees), ..InvoiceSpec::sats(21, "hinted") });
    // 1 sat of base fee, and 0.1 % of 21 sats.
    assert_eq!(check(&hinted.bolt11, &want(None, None)).unwrap().route_hint_fee, Some(Msats(1_021)));
    let huge = lightning_invoice::RoutingFees { base_msat: u32::MAX, proportional_millionths: u32::MAX };
    let dear = mint.mint(InvoiceSpec { route_hint: Some(huge), ..InvoiceSpec::sats(21_000_000, "dear") });
    assert!(check(&dear.bolt11, &want(None, None)).unwrap().route_hint_fee.unwrap() > Msats::from_sats(21_000_000));
}

#[test]
fn refuses_each_bad_invoice_with_its_reason() {
    let mint = Mint::new(Currency::Regtest);
    let amountless = mint.mint(InvoiceSpec { amount_msat: None, ..InvoiceSpec::sats(1, "x") });
    assert_eq!(check(&amountless.bolt11, &want(None, None)).unwrap_err().reason(), "amountless_invoice");

    let short = mint.mint(InvoiceSpec { expiry: Duration::from_secs(5), ..InvoiceSpec::sats(1, "x") });
    assert_eq!(check(&short.bolt11, &want(None, None)).unwrap_err().reason(), "invoice_expired");

    let ok = mint.mint(InvoiceSpec::sats(1, "x"));
    assert_eq!(check(&ok.bolt11, &want(Some("mainnet"), None)).unwrap_err().reason(), "wrong_network");
    let other = PaymentHash([7; 32]);
    assert_eq!(check(&ok.bolt11, &want(None, Some(&other))).unwrap_err().reason(), "payment_hash_mismatch");
    let unreadable = check("DEV:0000", &want(None, None)).unwrap_err();
    assert_eq!(unreadable.reason(), "invalid_invoice");
    assert!(unreadable.to_string().starts_with("the invoice cannot be paid: it cannot be read as a BOLT11 invoice"));
}

#[test]
fn an_lnbits_invoice_without_a_feature_field_passes() {
    let v = data("lnbits-fakewallet-invoice.json");
    let bolt11 = v["bolt11"].as_str().unwrap();
    let decoded = read(bolt11).unwrap();
    let hash = PaymentHash::from_hex(v["payment_hash"].as_str().unwrap()).unwrap();
    // Judged a day after it was made, so the test does not expire with the invoice.
    let at = Expectations {
        payment_hash: Some(&hash),
        wallet_network: Some(v["network"].as_str().unwrap()),
        now: decoded.created_at + Duration::from_secs(86_400),
        expiry_margin: Duration::from_secs(30),
    };
    let ok = check(bolt11, &at).unwrap();
    assert_eq!(ok.amount, Msats(v["amount_msat"].as_u64().unwrap()));
    assert_eq!(ok.payment_hash.to_hex(), v["payment_hash"].as_str().unwrap());
    assert_eq!(decoded.expiry, Duration::from_secs(v["expiry_secs"].as_u64().unwrap()));
    assert_eq!(ok.expires_at_unix, decoded.created_at.as_secs() + v["expiry_secs"].as_u64().unwrap());
    // What lightning-invoice's semantic check says of it, and why Purser reads it itself.
    let strict = bolt11.parse::<lightning_invoice::Bolt11Invoice>().unwrap_err();
    assert!(strict.to_string().contains("features"), "{strict}");
}

#[test]
fn a_minted_invoice_without_a_feature_field_passes() {
    let minted = minted_with(FeatureField::Absent);
    let signed: SignedRawBolt11Invoice = minted.bolt11.parse().unwrap();
    assert!(signed.features().is_none() && signed.payment_secret().is_some());
    let ok = check(&minted.bolt11, &want(Some("regtest"), Some(&minted.payment_hash))).unwrap();
    assert_eq!(ok.amount, Msats(21_000));
}

#[test]
fn unknown_odd_feature_bits_are_ignored() {
    let minted = minted_with(FeatureField::With(vec![101, 103]));
    let signed: SignedRawBolt11Invoice = minted.bolt11.parse().unwrap();
    assert!(signed.features().unwrap().supports_unknown_bits());
    check(&minted.bolt11, &want(Some("regtest"), None)).unwrap();
}

#[test]
fn unknown_even_feature_bits_are_refused_by_name() {
    let minted = minted_with(FeatureField::With(vec![100, 103, 202]));
    let err = check(&minted.bolt11, &want(Some("regtest"), None)).unwrap_err();
    assert_eq!(err.reason(), "unsupported_invoice_feature");
    assert_eq!(err, Error::UnsupportedFeature(Flaw::UnknownRequiredFeature(vec![100, 202])));
    assert_eq!(
        err.to_string(),
        "the invoice cannot be paid: it requires feature bits 100, 202, which payers do not know; \
         BOLT 11 asks a payer to refuse it"
    );
    let one = check(&minted_with(FeatureField::With(vec![50])).bolt11, &want(Some("regtest"), None)).unwrap_err();
    assert!(one.to_string().contains("it requires feature bit 50, which"), "{one}");
    // Required bits BOLT 9 assigns to invoices are known: basic_mpp, route blinding, attribution data,
    // payment metadata.
    let known = minted_with(FeatureField::With(vec![16, 24, 36, 48]));
    check(&known.bolt11, &want(Some("regtest"), None)).unwrap();
}

fn key(byte: u8) -> SecretKey {
    SecretKey::from_slice(&[byte; 32]).unwrap()
}

/// An invoice signed by `key(9)` over these fields, with a payment hash, a description and (if `secret`) a
/// payment secret besides, naming `payee` in an `n` field if given.
fn signed_with(extra: Vec<RawTaggedField>, secret: bool, payee: Option<PublicKey>) -> String {
    signed_by(extra, secret, payee, |sig| sig)
}

fn signed_by(
    extra: Vec<RawTaggedField>,
    secret: bool,
    payee: Option<PublicKey>,
    tweak: impl FnOnce(RecoverableSignature) -> RecoverableSignature,
) -> String {
    let mut builder = InvoiceBuilder::new(Currency::Regtest)
        .description("fields".into())
        .payment_hash(bitcoin::hashes::Hash::from_byte_array([3; 32]))
        .current_timestamp()
        .amount_milli_satoshis(5_000);
    if let Some(payee) = payee {
        builder = builder.payee_pub_key(payee);
    }
    let mut raw = if secret {
        builder.payment_secret(PaymentSecret([4; 32])).build_raw().unwrap()
    } else {
        builder.build_raw().unwrap()
    };
    raw.data.tagged_fields.extend(extra);
    let secp = Secp256k1::new();
    raw.sign(|h| Ok::<_, ()>(tweak(secp.sign_ecdsa_recoverable(h, &key(9))))).unwrap().to_string()
}

/// The same signature in its high-S form: s' = n - s, with the recovery id's parity flipped.
fn high_s(sig: RecoverableSignature) -> RecoverableSignature {
    const ORDER: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae,
        0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
    ];
    let (id, mut compact) = sig.serialize_compact();
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = ORDER[i] as i16 - compact[32 + i] as i16 - borrow;
        borrow = i16::from(d < 0);
        compact[32 + i] = d.rem_euclid(256) as u8;
    }
    let flipped = RecoveryId::from_i32(id.to_i32() ^ 1).unwrap();
    RecoverableSignature::from_compact(&compact, flipped).unwrap()
}

fn field(tag: u8, len: usize) -> RawTaggedField {
    let mut fe = vec![Fe32::try_from(tag).unwrap(), Fe32::try_from((len / 32) as u8).unwrap()];
    fe.push(Fe32::try_from((len % 32) as u8).unwrap());
    fe.extend(std::iter::repeat_n(Fe32::Q, len));
    RawTaggedField::UnknownSemantics(fe)
}

#[test]
fn reader_rules_beyond_features_still_hold() {
    let flaw = |s: &str| read(s).unwrap_err();
    let secp = Secp256k1::new();
    let signer = key(9).public_key(&secp);
    assert_eq!(read(&signed_with(vec![], true, None)).unwrap().payee, signer);
    assert_eq!(read(&signed_with(vec![], true, Some(signer))).unwrap().payee, signer);
    let someone_else = key(8).public_key(&secp);
    assert_eq!(flaw(&signed_with(vec![], true, Some(someone_else))), Flaw::BadSignatureForPayee);
    assert_eq!(flaw(&signed_with(vec![], false, None)), Flaw::NoPaymentSecret);
    // Fields of a known tag and the wrong length are skipped, as wallets skip them: the good hash is read.
    let skipped = read(&signed_with(vec![field(1, 51), field(19, 52), field(16, 53)], true, None)).unwrap();
    assert_eq!(skipped.payment_hash, PaymentHash([3; 32]));
    assert_eq!(skipped.payee, signer);
    // A field of a tag no reader knows is skipped too.
    assert!(read(&signed_with(vec![field(31, 4)], true, None)).is_ok());
}

#[test]
fn high_s_signatures_are_recovered_but_not_verified_against_a_named_payee() {
    let signer = key(9).public_key(&Secp256k1::new());
    let low = signed_with(vec![], true, None);
    let high = signed_by(vec![], true, None, high_s);
    assert_ne!(low, high, "the signature changed form");
    assert_eq!(read(&high).unwrap().payee, signer);
    assert_eq!(read(&signed_by(vec![], true, Some(signer), high_s)).unwrap_err(), Flaw::BadSignatureForPayee);
}

#[test]
fn a_lone_payment_hash_of_the_wrong_length_leaves_none() {
    let builder = InvoiceBuilder::new(Currency::Regtest)
        .description("no hash".into())
        .payment_hash(bitcoin::hashes::Hash::from_byte_array([3; 32]))
        .payment_secret(PaymentSecret([4; 32]))
        .current_timestamp()
        .amount_milli_satoshis(5_000);
    let mut raw = builder.build_raw().unwrap();
    raw.data.tagged_fields.retain(|f| !matches!(f, RawTaggedField::KnownSemantics(TaggedField::PaymentHash(_))));
    raw.data.tagged_fields.push(field(1, 51));
    let secp = Secp256k1::new();
    let bolt11 = raw.sign(|h| Ok::<_, ()>(secp.sign_ecdsa_recoverable(h, &key(9)))).unwrap().to_string();
    assert_eq!(read(&bolt11).unwrap_err(), Flaw::NoPaymentHash);
    assert_eq!(check(&bolt11, &want(None, None)).unwrap_err().reason(), "invalid_invoice");
}

#[test]
fn bolt11_spec_vectors() {
    let v = data("bolt11-vectors.json");
    // The spec's examples date from 2017: judged at their own timestamp, with no network expectation.
    let then = Duration::from_secs(1_496_314_658);
    let at_then = Expectations { payment_hash: None, wallet_network: None, now: then, expiry_margin: Duration::ZERO };
    let payee = v["meta"]["payee_pubkey"].as_str().unwrap();
    let mut valid = 0;
    for case in v["vectors"].as_array().unwrap() {
        let s = case["invoice"].as_str().unwrap();
        let note = case["description"].as_str().or(case["reason"].as_str()).unwrap_or_default();
        if case["valid"].as_bool().unwrap() {
            valid += 1;
            let decoded = read(s).unwrap_or_else(|e| panic!("{note}: {e}"));
            // The high-S vector flips s but keeps its recovery id, so it recovers another key: it is there to
            // show high-S is accepted, which reading it shows.
            if !note.contains("high-S") {
                assert_eq!(decoded.payee.to_string(), payee, "{note}");
            }
            match check(s, &at_then) {
                Ok(ok) => assert!(ok.amount.0 > 0),
                Err(e) => assert_eq!(e, Error::Amountless, "{note}"),
            }
        } else {
            let err = check(s, &at_then).unwrap_err();
            let want = if note.contains("unknown feature") { "unsupported_invoice_feature" } else { "invalid_invoice" };
            assert_eq!(err.reason(), want, "{note}: {err}");
        }
    }
    assert_eq!(valid, 15, "every valid vector is read, the high-S one with key recovery included");
}
