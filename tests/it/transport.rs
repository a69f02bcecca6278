//! The transport around a payment: HTTPS upstreams through the gateway (an extra CA), and the order of ledger
//! writes and wallet calls. `CONNECT` is in `intercept`.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use purser::sandbox::wallet_service::WalletServiceOptions;

use crate::harness::{Harness, Setup, https_demo_api, test_ca};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_api_is_paid_through_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let trusted = test_ca(Some(&dir.path().join("ca.pem")));
    let h = Harness::start(Setup { extra_ca_file: Some(dir.path().join("ca.pem")), ..Setup::default() }).await;

    let stranger = https_demo_api(&h, &test_ca(None)).await;
    let untrusted = h.gateway_to(&format!("/https/{stranger}/joke"), &[]).await;
    assert_eq!(untrusted.status, 502, "a certificate from an unknown CA must not be trusted");
    assert_eq!(untrusted.json()["reason"], "upstream_unreachable");
    assert!(untrusted.json()["detail"].as_str().unwrap().contains("certificate"));

    let addr = https_demo_api(&h, &trusted).await;
    let reply = h.gateway_to(&format!("/https/{addr}/joke"), &[]).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].scheme, "https");
    assert_eq!(rows[0].status, "settled");
    assert_eq!(rows[0].delivered, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_paying_row_is_written_before_the_wallet_is_asked() {
    let wallet = WalletServiceOptions { ignore_payments: true, ..WalletServiceOptions::default() };
    let h = Arc::new(Harness::start(Setup { wallet, ..Setup::default() }).await);
    let agent = h.clone();
    let request = tokio::spawn(async move { agent.forward(Method::GET, &agent.demo("/joke"), "", &[]).await });
    // Once the wallet holds the request, the ledger must already show it as sent to the wallet (`paying`).
    let mut waited = Duration::ZERO;
    while h.sandbox.wallet.pay_requests() == 0 {
        assert!(waited < Duration::from_secs(10), "the wallet was never asked");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += Duration::from_millis(10);
    }
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "paying");
    assert_eq!(rows[0].amount_msat, Some(1000));
    assert_eq!(request.await.unwrap().status, 503);
    assert_eq!(h.rows().await[0].status, "unknown");
}
