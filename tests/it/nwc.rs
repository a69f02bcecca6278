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
