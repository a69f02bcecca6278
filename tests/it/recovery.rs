//! Payments whose outcome was never written, resolved with the sandbox wallet's own record over real NIP-47:
//! a wallet that paid but whose answer was lost, a row reserved but never sent, and the process killed
//! (`SIGKILL`) again and again in the middle of paid calls.

use purser::ledger::payments::Reservation;
use purser::policy::Rules;
use purser::recovery::{self, Pass};
use purser::sandbox::wallet_service::WalletServiceOptions;
use purser::units::{Msats, Preimage};
use purser::wallet::nwc::NwcWallet;

use crate::harness::{Harness, Setup, quick_nwc};

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_whose_answer_was_lost_is_settled_from_the_wallets_record() {
    let wallet = WalletServiceOptions { pay_silently: true, ..WalletServiceOptions::default() };
    let h = Harness::start(Setup { wallet, ..Setup::default() }).await;
    let lost = h.get("/joke").await;
    assert_eq!(lost.status, 503, "{:?}", lost.body);
    assert_eq!(lost.json()["reason"], "wallet_timeout");
    let row = h.rows().await.pop().unwrap();
    assert_eq!(row.status, "unknown", "sent and not answered: unknown, never failed");

    let nwc = NwcWallet::new(&h.sandbox.wallet.uri, quick_nwc()).unwrap();
    let report = recovery::resolve(&h.ledger, &nwc, Pass::Start { started_ms: now_ms() }).await.unwrap();
    assert_eq!((report.checked, report.settled), (1, 1), "{report:?}");
    let row = h.rows().await.pop().unwrap();
    assert_eq!(row.status, "settled");
    assert_eq!((row.delivered, row.reason.as_deref()), (Some(false), Some("interrupted")), "paid, not delivered");
    assert_eq!(h.sandbox.wallet.payments().len(), 1);
    // The credential was kept from the recovered preimage: the next call is served without paying again.
    let again = h.get("/joke").await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(h.sandbox.wallet.pay_requests(), 1, "nothing paid twice");
    assert_eq!(h.rows().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_reserved_but_never_sent_is_closed_at_start_and_stops_counting() {
    let h = Harness::start(Setup::default()).await;
    let agent = h.ledger.agent_id("research").await.unwrap();
    let p = crate::harness::payment(agent, "research", 3, 40);
    let Reservation::Reserved { .. } = h.ledger.reserve(&p, purser::policy::Approved::Not, &Rules).await.unwrap()
    else {
        panic!()
    };
    let nwc = NwcWallet::new(&h.sandbox.wallet.uri, quick_nwc()).unwrap();
    // A periodic pass leaves a fresh row alone: it may be in flight in this process.
    let report = recovery::resolve(&h.ledger, &nwc, Pass::Periodic).await.unwrap();
    assert_eq!(report.checked, 0);
    let report = recovery::resolve(&h.ledger, &nwc, Pass::Start { started_ms: now_ms() }).await.unwrap();
    assert_eq!((report.checked, report.failed), (1, 1), "{report:?}");
    let row = h.rows().await.pop().unwrap();
    assert_eq!((row.status.as_str(), row.reason.as_deref()), ("failed", Some("never_sent")));
    let uses = h.ledger.budget_uses(&Default::default()).await.unwrap();
    assert!(uses.iter().all(|u| u.used == Msats(0)), "a closed row no longer counts: {uses:?}");
    assert_eq!(h.sandbox.wallet.pay_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_without_lookup_is_asked_for_its_list_of_payments() {
    let wallet = WalletServiceOptions { pay_silently: true, no_lookup: true, ..WalletServiceOptions::default() };
    let h = Harness::start(Setup { wallet, ..Setup::default() }).await;
    assert_eq!(h.get("/joke").await.status, 503);
    assert_eq!(h.rows().await.pop().unwrap().status, "unknown");
    let nwc = NwcWallet::new(&h.sandbox.wallet.uri, quick_nwc()).unwrap();
    let report = recovery::resolve(&h.ledger, &nwc, Pass::Start { started_ms: now_ms() }).await.unwrap();
    assert_eq!((report.checked, report.settled), (1, 1), "{report:?}");
    let row = h.rows().await.pop().unwrap();
    assert_eq!(row.status, "settled");
    assert_eq!(Some(row.payment_hash.unwrap()), h.sandbox.wallet.payments().first().map(|(p, _)| p.to_hex()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_proxy_per_data_directory() {
    let h = Harness::start(Setup::default()).await;
    let settings = purser::config::Settings::new(h.dir.path().to_path_buf());
    let second = purser::proxy::Proxy::new(
        settings,
        h.ledger.clone(),
        purser::proxy::WalletHandle::new(None),
        purser::events::Events::default(),
    );
    let Err(e) = second else { panic!("a second proxy on the same ledger started") };
    assert!(e.to_string().contains("another Purser is already running"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallets_preimage_corrects_a_row_marked_failed_but_nothing_reopens_a_settled_one() {
    use purser::ledger::payments::Outcome;
    let h = Harness::start(Setup::default()).await;
    let agent = h.ledger.agent_id("research").await.unwrap();
    let preimage = Preimage([5; 32]);
    let p = crate::harness::payment(agent, "research", 5, 1);
    let Reservation::Reserved { payment_id, .. } =
        h.ledger.reserve(&p, purser::policy::Approved::Not, &Rules).await.unwrap()
    else {
        panic!()
    };
    h.ledger.finish(payment_id, &Outcome::Failed { reason: "payment_failed".into() }, None).await.unwrap();
    h.ledger.finish(payment_id, &Outcome::Settled { preimage: preimage.clone(), fee: Msats(0) }, None).await.unwrap();
    assert_eq!(h.rows().await.pop().unwrap().status, "settled");
    h.ledger.finish(payment_id, &Outcome::Failed { reason: "payment_failed".into() }, None).await.unwrap();
    assert_eq!(h.rows().await.pop().unwrap().status, "settled", "a settled row is never reopened");
}
