//! MPP Lightning sessions against the sandbox's session endpoint over real sockets: one deposit paid with
//! the sandbox wallet over NIP-47, calls drawn from it, the dry session closed with its refund paid back to
//! an invoice the wallet made, and what is held at the API as it goes. Hostile servers: one that keeps
//! serving draws past the balance, one that says it refunded and does not, one that forgets its sessions.

use std::time::Duration;

use purser::ledger::sessions::{RefundState, SessionState};
use purser::sandbox::demo_api::DemoOptions;
use purser::sandbox::demo_session::{DEPOSIT_SATS, SessionHostility, UNIT_SATS};

use purser::policy::Period;
use purser::units::Msats;

use crate::harness::{Harness, Setup, collect, send};

async fn with(hostility: SessionHostility, refund_wait: Duration) -> Harness {
    let demo = DemoOptions { session_hostility: hostility, ..DemoOptions::default() };
    Harness::start(Setup { demo, session_refund_wait: refund_wait, ..Setup::default() }).await
}

/// Waits until the newest-but-one session's refund is no longer awaited, and returns the sessions.
async fn refund_settled(h: &Harness) -> Vec<purser::ledger::sessions::SessionInfo> {
    for _ in 0..100 {
        let sessions = h.ledger.sessions(10).await.unwrap();
        if sessions.iter().all(|s| s.refund_state != RefundState::Waiting) {
            return sessions;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the refund was never settled either way");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_deposit_then_draws_then_the_dry_session_is_closed_and_its_refund_received() {
    let h = with(SessionHostility::None, Duration::from_secs(10)).await;
    let host = h.sandbox.demo_addr.to_string();
    // 10 sats deposit, 3 per call: the open call and three draws.
    let mut held = Vec::new();
    for _ in 0..4 {
        let reply = h.get("/session").await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        held.push(h.ledger.held_at_apis().await.unwrap()[0].held_msat / 1000);
    }
    assert_eq!(held, vec![DEPOSIT_SATS, DEPOSIT_SATS - UNIT_SATS, DEPOSIT_SATS - 2 * UNIT_SATS, 1]);
    assert_eq!(h.sandbox.wallet.pay_requests(), 1, "one deposit paid");
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1, "draws are not payments");
    assert_eq!((rows[0].challenge_kind.as_str(), rows[0].status.as_str()), ("mpp_session", "settled"));
    assert_eq!(rows[0].amount_msat, Some(10_000));

    // 1 sat left cannot pay a call: the session is closed (its sat returned) and a new deposit paid.
    let reply = h.get("/session").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(h.sandbox.wallet.pay_requests(), 2);
    let sessions = refund_settled(&h).await;
    let (new, old) = (&sessions[0], &sessions[1]);
    assert_eq!((old.state, old.draws, old.drawn_msat), (SessionState::Closed, 3, 9_000));
    assert_eq!(
        (old.refund_claimed_msat, old.refund_msat, old.refund_state),
        (Some(1_000), Some(1_000), RefundState::Received)
    );
    assert_eq!((new.state, new.held_msat, new.host.as_str()), (SessionState::Open, DEPOSIT_SATS * 1000, host.as_str()));
    let held = h.ledger.held_at_apis().await.unwrap();
    assert_eq!((held.len(), held[0].held_msat, held[0].open_sessions), (1, DEPOSIT_SATS * 1000, 1));
    // The API saw each session's calls: the open one and three draws, then the new one.
    let mut served: Vec<u64> = h.sandbox.demo.session_book.served().into_values().collect();
    served.sort_unstable();
    assert_eq!(served, vec![1, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_never_draw_more_than_the_deposit() {
    // The server would serve draws past the balance: only Purser's own count stops them.
    let h = with(SessionHostility::DrawsPastBalance, Duration::from_secs(10)).await;
    assert_eq!(h.get("/session").await.status, 200);
    let calls = (0..8).map(|_| h.get("/session"));
    let replies = futures_util::future::join_all(calls).await;
    assert!(replies.iter().all(|r| r.status == 200), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    let sessions = refund_settled(&h).await;
    for s in &sessions {
        assert!(s.drawn_msat <= s.deposit_msat, "{s:?}");
    }
    let draws: u64 = sessions.iter().map(|s| s.draws).sum();
    let opens = sessions.len() as u64;
    assert_eq!(draws + opens, 9, "every call was either an open or one draw: {sessions:?}");
    // Calls that found no session waited for the one being opened: 3 sessions (open + 3 draws each, the
    // last just opened), not a deposit per call.
    assert_eq!(opens, 3, "{sessions:?}");
    assert_eq!(h.sandbox.wallet.pay_requests(), 3, "a deposit per session");
    // Per session the API served its open call and at most three draws, though it would have served more.
    assert!(h.sandbox.demo.session_book.served().values().all(|n| *n <= 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_that_never_comes_is_recorded_missing_and_alerted() {
    let h = with(SessionHostility::RefundNeverSent, Duration::from_secs(1)).await;
    for _ in 0..5 {
        assert_eq!(h.get("/session").await.status, 200);
    }
    let sessions = refund_settled(&h).await;
    let old = &sessions[1];
    assert_eq!((old.state, old.refund_claimed_msat), (SessionState::Closed, Some(1_000)));
    assert_eq!((old.refund_state, old.refund_msat), (RefundState::Missing, None));
    let alerts = h.ledger.alerts(10).await.unwrap();
    let missing: Vec<_> = alerts.iter().filter(|a| a.kind.as_str() == "session_refund_missing").collect();
    assert_eq!(missing.len(), 1, "{alerts:?}");
    assert!(missing[0].message.contains("1 sat"), "{}", missing[0].message);

    // The refund arrives after all: the periodic look at the wallet records it received.
    let hash = h.ledger.session_return_hash(old.id).await.unwrap().unwrap();
    let hash = purser::units::PaymentHash::from_hex(&hash).unwrap();
    h.sandbox.mint.settle_paying(&hash, purser::units::Msats::from_sats(1)).unwrap();
    let wallet = purser::wallet::nwc::NwcWallet::new(&h.sandbox.wallet.uri, crate::harness::quick_nwc()).unwrap();
    assert_eq!(purser::recovery::refunds(&h.ledger, &wallet, &h.events).await.unwrap(), 1);
    let late = h.ledger.sessions(10).await.unwrap().into_iter().find(|s| s.id == old.id).unwrap();
    assert_eq!((late.refund_state, late.refund_msat), (RefundState::Received, Some(1_000)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_api_forgets_is_ended_and_what_it_held_alerted() {
    let h = with(SessionHostility::Forgets, Duration::from_secs(10)).await;
    assert_eq!(h.get("/session").await.status, 200, "opened");
    assert_eq!(h.get("/session").await.status, 200, "drawn once; the API then forgets the session");
    let reply = h.get("/session").await;
    assert_eq!(reply.status, 200, "a new session opened: {:?}", reply.body);
    assert_eq!(h.sandbox.wallet.pay_requests(), 2);
    let sessions = h.ledger.sessions(10).await.unwrap();
    let old = &sessions[1];
    assert_eq!(
        (old.state, old.draws, old.refund_state, old.held_msat),
        (SessionState::Ended, 1, RefundState::Missing, 0)
    );
    let alerts = h.ledger.alerts(10).await.unwrap();
    let ended = alerts.iter().find(|a| a.kind.as_str() == "session_refund_missing").expect("alerted");
    assert!(ended.message.contains("still held 7 sat"), "{}", ended.message);
}

/// The acceptance: what is held at the API goes down with each call and back to zero when a person closes
/// the session (through the running proxy's control endpoint, as `purser sessions close` does) and the
/// refund reaches the wallet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_closes_a_session_and_what_was_held_comes_back() {
    let h = with(SessionHostility::None, Duration::from_secs(10)).await;
    let mut heard = h.events.subscribe();
    assert_eq!(h.get("/session").await.status, 200);
    assert_eq!(h.get("/session").await.status, 200);
    let held = h.ledger.held_at_apis().await.unwrap();
    assert_eq!(held[0].held_msat, (DEPOSIT_SATS - UNIT_SATS) * 1000);
    let id = h.ledger.sessions(1).await.unwrap()[0].id;
    let closed = purser::proxy::control::call(&h.control, http::Method::POST, &format!("sessions/{id}/close"), None)
        .await
        .unwrap();
    assert_eq!(
        (closed["ended_by_api"].as_bool(), closed["refund_msat"].as_u64()),
        (Some(false), Some(7_000)),
        "{closed}"
    );
    let sessions = refund_settled(&h).await;
    assert_eq!(
        (sessions[0].state, sessions[0].refund_state, sessions[0].refund_msat),
        (SessionState::Closed, RefundState::Received, Some(7_000))
    );
    assert!(h.ledger.held_at_apis().await.unwrap().is_empty(), "nothing held any more");
    // The window hears of each change to what is held, though none is a payment: the draw, the close, the
    // refund received.
    let mut held_news = 0;
    while held_news < 3 {
        match tokio::time::timeout(Duration::from_secs(5), heard.recv()).await {
            Ok(Ok(purser::events::Event::HeldChanged { host })) => {
                assert_eq!(host, h.sandbox.demo_addr.to_string());
                held_news += 1;
            }
            Ok(Ok(_)) => {}
            other => panic!("{held_news} changes heard, then {other:?}"),
        }
    }
    // Closed once: a second close finds no open session.
    let again =
        purser::proxy::control::call(&h.control, http::Method::POST, &format!("sessions/{id}/close"), None).await;
    assert!(again.is_err(), "{again:?}");
    assert_eq!(h.sandbox.wallet.pay_requests(), 1, "nothing more paid");
}

/// A budget on what is held at one API: another agent's deposit there is refused while the first agent's
/// session holds most of the cap (draws from it are no payments), and paid once that session is closed and
/// its refund arrived; the budget shows what is held there as it goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_caps_what_is_held_at_one_api() {
    let h = with(SessionHostility::None, Duration::from_secs(10)).await;
    let api = purser::ledger::policy_store::ScopeSpec::parse(None, Some(&h.demo("")));
    let cap_sats = DEPOSIT_SATS + UNIT_SATS + 2;
    let cap = h.ledger.add_budget(&api, Period::Held, Msats::from_sats(cap_sats), None, None).await.unwrap();
    assert!(cap.describe().contains("on what is held at API 127.0.0.1:"), "{}", cap.describe());
    let shown = |h: &Harness, id: i64| {
        let ledger = h.ledger.clone();
        async move {
            let uses = ledger.budget_uses(&Default::default()).await.unwrap();
            uses.into_iter().find(|u| u.budget.id == id).unwrap().used
        }
    };
    assert_eq!(h.get("/session").await.status, 200, "research's deposit");
    assert_eq!(h.get("/session").await.status, 200, "drawn from it");
    let held_now = Msats::from_sats(DEPOSIT_SATS - UNIT_SATS);
    assert_eq!(shown(&h, cap.id).await, held_now);

    let (_, key) = h.ledger.add_agent("other").await.unwrap();
    let other = purser::proxy::auth::basic("other", &key);
    let as_other = || async {
        let headers = [("proxy-authorization", other.as_str())];
        collect(send(h.proxy_addr, http::Method::GET, &h.demo("/session"), "", &headers).await).await
    };
    let refused = as_other().await;
    assert_eq!(
        (refused.status, refused.header("purser-refused")),
        (402, Some("budget_exceeded")),
        "{:?}",
        refused.body
    );
    let why = refused.json()["detail"].as_str().unwrap_or_default().to_string();
    assert!(why.contains(&format!("{held_now} held there now")), "{why}");
    assert_eq!(h.sandbox.wallet.pay_requests(), 1, "the refused deposit was not paid");
    let alerts = h.ledger.alerts(10).await.unwrap();
    let reached = alerts.iter().find(|a| a.message.contains("on what is held")).expect("the cap's alert");
    assert!(
        reached.message.contains("100 % reached: a payment was refused (7 sats of 15 sats held)"),
        "{}",
        reached.message
    );

    // A per-request or daily budget would not free up; this one does once the money comes back.
    let id = h.ledger.sessions(1).await.unwrap()[0].id;
    purser::proxy::control::call(&h.control, http::Method::POST, &format!("sessions/{id}/close"), None).await.unwrap();
    refund_settled(&h).await;
    assert_eq!(shown(&h, cap.id).await, Msats(0));
    let paid = as_other().await;
    assert_eq!(paid.status, 200, "{:?}", paid.body);
    assert_eq!(shown(&h, cap.id).await, Msats::from_sats(DEPOSIT_SATS));
    assert_eq!(h.sandbox.wallet.pay_requests(), 2, "one deposit each");
}

/// An API that closes an idle session on its own pays what it held to the return invoice: the periodic look
/// at the wallet finds it and records the session closed, nothing held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_api_closes_when_idle_is_found_closed_with_its_refund() {
    let h = with(SessionHostility::None, Duration::from_secs(10)).await;
    assert_eq!(h.get("/session").await.status, 200);
    assert_eq!(h.get("/session").await.status, 200);
    h.sandbox.demo.close_idle_sessions();
    let wallet = purser::wallet::nwc::NwcWallet::new(&h.sandbox.wallet.uri, crate::harness::quick_nwc()).unwrap();
    assert_eq!(purser::recovery::refunds(&h.ledger, &wallet, &h.events).await.unwrap(), 1);
    let s = &h.ledger.sessions(1).await.unwrap()[0];
    assert_eq!(
        (s.state, s.refund_state, s.refund_msat, s.held_msat),
        (SessionState::Closed, RefundState::Received, Some(7_000), 0)
    );
    assert!(h.ledger.held_at_apis().await.unwrap().is_empty());
    // The next call opens a new session.
    assert_eq!(h.get("/session").await.status, 200);
    assert_eq!(h.sandbox.wallet.pay_requests(), 2);
}

/// A pause stops draws from a session as it stops payments, and `Purser-Max-Sats` caps what one call draws:
/// the deposit is spending too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_and_a_calls_own_cap_stop_draws_from_an_open_session() {
    let h = with(SessionHostility::None, Duration::from_secs(10)).await;
    assert_eq!(h.get("/session").await.status, 200);
    h.ledger.set_agent_paused(&h.agent, true).await.unwrap();
    let reply = h.get("/session").await;
    assert_eq!(reply.status, 402, "{:?}", reply.body);
    assert_eq!(reply.json()["reason"], "payments_paused");
    assert_eq!(h.ledger.sessions(1).await.unwrap()[0].draws, 0, "nothing drawn");
    h.ledger.set_agent_paused(&h.agent, false).await.unwrap();
    assert_eq!(h.get("/session").await.status, 200);
    assert_eq!(h.ledger.sessions(1).await.unwrap()[0].draws, 1);
    // A call's own cap holds for draws too: 3 sats a call is above 2.
    let capped = h.forward(http::Method::GET, &h.demo("/session"), "", &[("purser-max-sats", "2")]).await;
    assert_eq!(capped.json()["reason"], "max_sats_exceeded", "{:?}", capped.body);
    assert_eq!(h.ledger.sessions(1).await.unwrap()[0].draws, 1, "nothing drawn");
}

/// An API that counts less left than Purser does (it billed the open call) refuses a draw Purser thought
/// covered: the draw is given back and the session closed, returning what the API still held; the shortfall
/// is alerted, and a new session opened with a fresh challenge (the refused draw used the first one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draw_the_api_refuses_closes_the_session_with_what_it_still_holds() {
    let h = with(SessionHostility::BillsOpen, Duration::from_secs(10)).await;
    for _ in 0..4 {
        let reply = h.get("/session").await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    assert_eq!(h.sandbox.wallet.pay_requests(), 2, "the refused draw led to a second session");
    let sessions = refund_settled(&h).await;
    let old = &sessions[1];
    assert_eq!((old.state, old.draws), (SessionState::Closed, 2), "{old:?}");
    assert_eq!(
        (old.refund_claimed_msat, old.refund_state, old.refund_msat),
        (Some(1_000), RefundState::Received, Some(1_000))
    );
    let alerts = h.ledger.alerts(10).await.unwrap();
    assert!(alerts.iter().any(|a| a.message.contains("holding 4 sat and returns 1 sat")), "{alerts:?}");
    assert_eq!(sessions[0].state, SessionState::Open);
}
