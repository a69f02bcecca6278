//! NIP-47 over a real relay: wallets that offer only NIP-44 v2 or only NIP-04, and the captured exchange of
//! another implementation decrypted with the same primitives Purser's client uses.

use nostr_sdk::nips::nip47::Response;
use nostr_sdk::nips::{nip04, nip44};
use nostr_sdk::{JsonUtil, PublicKey, SecretKey};
use purser::sandbox::wallet_service::WalletServiceOptions;
use purser::wallet::Wallet;
use purser::wallet::nwc::NwcWallet;

use crate::harness::{Harness, Setup, quick_nwc};

async fn pays_with(encryption: Vec<&'static str>, want: &str) {
    let wallet = WalletServiceOptions { encryption, ..WalletServiceOptions::default() };
    let h = Harness::start(Setup { wallet, ..Setup::default() }).await;
    let client = NwcWallet::new(&h.sandbox.wallet.uri, quick_nwc()).unwrap();
    let info = client.get_info().await.unwrap();
    assert_eq!(info.encryption, want);
    assert_eq!(info.network.as_deref(), Some("regtest"));
    assert!(info.methods.iter().any(|m| m == "pay_invoice"));
    assert_eq!(client.get_balance().await.unwrap().0, 100_000_000);
    let reply = h.get("/joke").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(h.rows().await[0].status, "settled");
    let hash = purser::units::PaymentHash::from_hex(h.rows().await[0].payment_hash.as_deref().unwrap()).unwrap();
    let found = client.lookup_invoice(&hash).await.unwrap();
    assert_eq!(found.state.as_deref(), Some("settled"));
    assert!(found.preimage.unwrap().matches(&hash));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_offering_only_nip44_v2() {
    pays_with(vec!["nip44_v2"], "nip44_v2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_with_no_encryption_tag_speaks_nip04() {
    pays_with(vec![], "nip04").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_offering_only_nip04() {
    pays_with(vec!["nip04"], "nip04").await;
}

#[test]
fn the_captured_exchange_decrypts_in_both_encryptions() {
    let path = format!("{}/tests/data/nip47-exchange.json", env!("CARGO_MANIFEST_DIR"));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exchanges = v["exchanges"].as_array().unwrap();
    assert_eq!(exchanges.len(), 2);
    for ex in exchanges {
        let client = SecretKey::from_hex(ex["client_secret"].as_str().unwrap()).unwrap();
        let wallet = PublicKey::from_hex(ex["wallet_pubkey"].as_str().unwrap()).unwrap();
        let nip44_v2 = ex["encryption"] == "nip44_v2";
        for event in ex["raw_events"].as_array().unwrap() {
            if event["kind"] != 23195 {
                continue;
            }
            let content = event["content"].as_str().unwrap();
            let plain = if nip44_v2 {
                nip44::decrypt(&client, &wallet, content).unwrap()
            } else {
                nip04::decrypt(&client, &wallet, content).unwrap()
            };
            let response = Response::from_json(&plain).unwrap();
            if let Ok(paid) = response.clone().to_pay_invoice() {
                assert_eq!(paid.preimage, ex["expected_preimage"].as_str().unwrap());
                let pre = purser::units::Preimage::from_hex(&paid.preimage).unwrap();
                assert_eq!(pre.payment_hash().to_hex(), ex["payment_hash"].as_str().unwrap());
            } else {
                let info = response.to_get_info().unwrap();
                assert_eq!(info.network.as_deref(), Some("regtest"));
            }
        }
    }
}

/// The relay goes away and comes back on the same address: payments fail meanwhile (`wallet_unreachable` or a
/// timeout, never a payment), then work again without restarting anything, the connection being re-made
/// with back-off by the relay pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_work_again_after_the_relay_comes_back() {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use nostr_relay_builder::prelude::{LocalRelay, RelayBuilder};
    use purser::sandbox::mint::{InvoiceSpec, Mint};

    let relay = purser::sandbox::start_relay().await.unwrap();
    let url = relay.url().clone();
    let port = url.as_str().rsplit(':').next().unwrap().trim_end_matches('/').parse::<u16>().unwrap();
    let mint = Arc::new(Mint::new(lightning_invoice::Currency::Regtest));
    let service =
        purser::sandbox::wallet_service::start(&url, mint.clone(), WalletServiceOptions::default()).await.unwrap();
    let wallet = NwcWallet::new(&service.uri, quick_nwc()).unwrap();
    let invoice = || mint.mint(InvoiceSpec::sats(1, "relay restart")).bolt11;
    wallet.pay_invoice(&invoice()).await.expect("paid while the relay is up");

    relay.shutdown();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let while_down = mint.mint(InvoiceSpec::sats(1, "relay down"));
    assert!(wallet.pay_invoice(&while_down.bolt11).await.is_err(), "no relay, no payment");
    assert_eq!(service.pay_requests(), 1);

    let back = LocalRelay::new(RelayBuilder::default().addr(std::net::Ipv4Addr::LOCALHOST.into()).port(port));
    back.run().await.unwrap();
    let started = Instant::now();
    loop {
        match wallet.pay_invoice(&invoice()).await {
            Ok(_) => break,
            Err(e) => assert!(started.elapsed() < Duration::from_secs(60), "still failing after a minute: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("reliability: payments worked again {:.1} s after the relay came back", started.elapsed().as_secs_f64());
    assert!(
        service.payments().iter().all(|(h, _)| *h != while_down.payment_hash),
        "the payment asked while the relay was down never happened"
    );
}

/// A relay that rate-limits Purser's NWC requests after the first two (`OK false, "rate-limited: …"`),
/// as public relays do, and lets the wallet's answers through.
#[derive(Debug, Default)]
struct LimitsRequests(std::sync::atomic::AtomicUsize);

impl nostr_relay_builder::builder::WritePolicy for LimitsRequests {
    fn admit_event<'a>(
        &'a self,
        event: &'a nostr_sdk::Event,
        _addr: &'a std::net::SocketAddr,
    ) -> nostr_sdk::util::BoxedFuture<'a, nostr_relay_builder::builder::PolicyResult> {
        use nostr_relay_builder::builder::PolicyResult;
        let limited = event.kind == nostr_sdk::Kind::WalletConnectRequest
            && self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 2;
        Box::pin(async move {
            if limited { PolicyResult::Reject("rate-limited: slow down".into()) } else { PolicyResult::Accept }
        })
    }
}

/// A request the relay refuses ends the payment at once as `wallet_unreachable`, nothing paid, instead of
/// waiting the whole payment timeout for an answer no wallet could send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_relay_refuses_fails_at_once_unpaid() {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use nostr_relay_builder::prelude::{LocalRelay, RelayBuilder};
    use purser::sandbox::mint::{InvoiceSpec, Mint};
    use purser::wallet::nwc::NwcOptions;

    let relay = LocalRelay::new(
        RelayBuilder::default().addr(std::net::Ipv4Addr::LOCALHOST.into()).write_policy(LimitsRequests::default()),
    );
    relay.run().await.unwrap();
    let url = relay.url().await;
    let mint = Arc::new(Mint::new(lightning_invoice::Currency::Regtest));
    let service =
        purser::sandbox::wallet_service::start(&url, mint.clone(), WalletServiceOptions::default()).await.unwrap();
    let opts =
        NwcOptions { pay_timeout: Duration::from_secs(30), request_timeout: Duration::from_secs(30), ..quick_nwc() };
    let wallet = NwcWallet::new(&service.uri, opts).unwrap();
    for n in 0..2 {
        let invoice = mint.mint(InvoiceSpec::sats(1, "allowed"));
        wallet.pay_invoice(&invoice.bolt11).await.unwrap_or_else(|e| panic!("payment {n} refused: {e}"));
    }
    let invoice = mint.mint(InvoiceSpec::sats(1, "rate limited"));
    let started = Instant::now();
    let error = wallet.pay_invoice(&invoice.bolt11).await.expect_err("the relay refused the request");
    let took = started.elapsed();
    assert_eq!(error.reason(), "wallet_unreachable", "{error}");
    assert!(error.nothing_was_paid());
    assert!(error.to_string().contains("rate-limited: slow down"), "{error}");
    assert!(took < Duration::from_secs(10), "answered after {took:?}, as if waiting for the 30 s timeout");
    assert_eq!(service.pay_requests(), 2);
    assert!(service.payments().iter().all(|(h, _)| *h != invoice.payment_hash));
}
