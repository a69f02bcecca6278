//! Task allowances over real sockets with the sandbox wallet: an agent asks, the person answers once (lowering
//! the maximum), payments within it go ahead without a question, an overage is held with the task's figures
//! and approved or denied, the allowance is closed with its summary; exhausted and expired by the ledger's
//! clock; chosen by header; never usable by another agent; never exceeded by concurrent payments; quotes that
//! pay nothing.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use purser::ledger::allowances::{AllowanceAsk, NewMax, OpenedBy};
use purser::ledger::payments::Reservation;
use purser::policy::{Approved, ManualClock, Rules};
use purser::proxy::control;
use purser::units::Msats;
use serde_json::{Value, json};

use crate::harness::{Harness, Reply, Setup, collect, send};

/// A call to Purser's own agent endpoints with `h`'s agent key.
pub(crate) async fn own(h: &Harness, method: Method, path: &str, body: Value) -> Reply {
    let url = format!("http://{}{path}", h.proxy_addr);
    let body = if body.is_null() { String::new() } else { body.to_string() };
    h.forward(method, &url, &body, &[("content-type", "application/json")]).await
}

async fn person(h: &Harness, path: &str, body: Value) -> Value {
    control::call(&h.control, Method::POST, path, Some(body)).await.unwrap()
}

async fn allowance_ids(h: &Harness) -> Vec<Option<i64>> {
    sqlx::query_scalar("SELECT allowance_id FROM payments ORDER BY id").fetch_all(h.ledger.pool()).await.unwrap()
}

fn ask(agent: &str, max_sats: u64, apis: Vec<String>) -> AllowanceAsk {
    AllowanceAsk {
        agent: agent.into(),
        purpose: "a test task".into(),
        max: Msats::from_sats(max_sats),
        per_payment_max: None,
        apis,
        duration_ms: 600_000,
        plan: None,
        fiat: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asked_approved_lower_spent_overage_held_then_closed_with_its_summary() {
    let h = Arc::new(Harness::start(Setup { auto_sats: 10, ask_sats: 1000, ..Setup::default() }).await);
    let fortune = h.demo("/fortune");
    let asked = own(
        &h,
        Method::POST,
        "/_purser/allowances",
        json!({"purpose": "read five fortunes", "max_sats": 100, "time_limit_secs": 600,
               "calls": [{"url": fortune, "count": 5}]}),
    )
    .await;
    assert_eq!(asked.status, 201, "{:?}", asked.body);
    let a = asked.json();
    let id = a["id"].as_i64().unwrap();
    assert_eq!((a["state"].as_str(), a["max_msat"].as_u64()), (Some("requested"), Some(100_000)));
    // The quote the person sees: five calls at the published 21 sats.
    assert_eq!(a["plan"]["quote"]["total"]["expected_msat"], 105_000, "{a}");

    // The agent waits for the answer; the person approves a lower maximum.
    let waiting = {
        let h = h.clone();
        tokio::spawn(
            async move { own(&h, Method::GET, &format!("/_purser/allowances/{id}?wait=30"), Value::Null).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "the agent's wait holds until the person answers");
    person(&h, &format!("allowances/{id}/approve"), json!({"max_sats": 70})).await;
    let answered = waiting.await.unwrap().json();
    assert_eq!((answered["state"].as_str(), answered["max_msat"].as_u64()), (Some("active"), Some(70_000)));

    // 21 sats with a 10-sat fee reserve each: two fit in 70 sats without a question.
    for _ in 0..2 {
        assert_eq!(h.get("/fortune").await.status, 200);
    }
    assert_eq!(allowance_ids(&h).await, [Some(id), Some(id)]);

    // The third is an overage: held with the task's figures and the agent's reason; the person lets it go.
    let third = {
        let h = h.clone();
        tokio::spawn(async move {
            h.forward(Method::GET, &h.demo("/fortune"), "", &[("purser-reason", "one more source")]).await
        })
    };
    let held = h.held(1).await.remove(0);
    let why = held["explanation"].as_str().unwrap();
    assert!(why.contains(&format!("overage on allowance #{id}")) && why.contains("of 70 sats used"), "{why}");
    assert!(why.contains("the agent says: one more source"), "{why}");
    assert_eq!(held["budget"]["allowance"]["id"], id, "{held}");
    control::call(&h.control, Method::POST, &format!("approvals/{}/approve", held["id"]), None).await.unwrap();
    assert_eq!(third.await.unwrap().status, 200);

    // The fourth is denied: the agent hears allowance_exceeded.
    let fourth = {
        let h = h.clone();
        tokio::spawn(async move { h.get("/fortune").await })
    };
    let held = h.held(1).await.remove(0);
    control::call(&h.control, Method::POST, &format!("approvals/{}/deny", held["id"]), None).await.unwrap();
    let denied = fourth.await.unwrap();
    assert_eq!((denied.status, denied.header("purser-refused")), (402, Some("allowance_exceeded")));

    // The ledger shows and filters by the allowance, in the CSV too.
    let filter = purser::ledger::queries::PaymentFilter { allowance_id: Some(id), ..Default::default() };
    let rows = h.ledger.payments_matching(&filter, 100).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.allowance_id).collect::<Vec<_>>(), [Some(id); 3]);
    let csv = h.ledger.export_csv(&filter).await.unwrap();
    assert!(csv.lines().next().unwrap().contains(",allowance_id,") && csv.lines().count() == 4, "{csv}");

    // The agent closes it: the summary counts the three paid calls.
    let closed = own(&h, Method::POST, &format!("/_purser/allowances/{id}/close"), Value::Null).await.json();
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["summary"]["calls"], 3, "{closed}");
    assert_eq!(closed["summary"]["delivered"], 3, "{closed}");
    assert!(closed["summary"]["spent_msat"].as_i64().unwrap() >= 63_000, "{closed}");
    assert_eq!(closed["used_msat"].as_u64(), closed["summary"]["spent_msat"].as_u64());
    let again = own(&h, Method::POST, &format!("/_purser/allowances/{id}/close"), Value::Null).await;
    assert_eq!(again.status, 400, "closing twice is said, not silently accepted");
    assert!(String::from_utf8_lossy(&again.body).contains("already closed"));
    // Closed, it no longer carries payments: the next is asked about as usual, outside any task.
    let after = {
        let h = h.clone();
        tokio::spawn(async move { h.get("/fortune").await })
    };
    let held = h.held(1).await.remove(0);
    assert!(held["explanation"].as_str().unwrap().contains("auto-approve limit"), "{held}");
    control::call(&h.control, Method::POST, &format!("approvals/{}/deny", held["id"]), None).await.unwrap();
    assert_eq!(after.await.unwrap().header("purser-refused"), Some("denied_by_user"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_and_expired_by_the_ledgers_clock() {
    let clock = ManualClock::new(jiff::Timestamp::now().as_millisecond());
    let h =
        Harness::start(Setup { auto_sats: 10, ask_sats: 1000, clock: Some(clock.clone()), ..Setup::default() }).await;
    let a =
        h.ledger.open_allowance(&ask("research", 31, Vec::new()), OpenedBy::Person { confirmed: false }).await.unwrap();
    assert_eq!(a.state.as_str(), "active");
    // A dry run says what the allowance would do: pay, without asking.
    let dry = h.forward(Method::GET, &h.demo("/fortune"), "", &[("purser-dry-run", "1")]).await.json();
    assert_eq!(dry["decision"], "allow", "{dry}");
    assert!(dry["explanation"].as_str().unwrap().contains(&format!("within allowance #{}", a.id)), "{dry}");
    assert_eq!(h.get("/fortune").await.status, 200);
    let spent = h.ledger.allowance(a.id).await.unwrap();
    assert_eq!(spent.calls, 1);
    // 21 sats and its fee leave less than the next call needs; the maximum itself is not reached.
    assert_eq!(spent.state.as_str(), "active");
    assert!(
        h.ledger.raise_allowance(a.id, NewMax::Sats(Msats::from_sats(21)), false).await.is_err(),
        "lowering is not raising"
    );
    sqlx::query("UPDATE allowances SET max_msat = 21000 WHERE id = $1")
        .bind(a.id)
        .execute(h.ledger.pool())
        .await
        .unwrap();
    assert_eq!(h.ledger.allowance(a.id).await.unwrap().state.as_str(), "exhausted");
    let raised = h.ledger.raise_allowance(a.id, NewMax::Sats(Msats::from_sats(100)), false).await.unwrap();
    assert_eq!(raised.state.as_str(), "active");

    clock.advance_ms(600_001);
    assert_eq!(h.ledger.allowance(a.id).await.unwrap().state.as_str(), "expired");
    let open = h.ledger.allowances(Some("research"), true, 10).await.unwrap();
    assert!(open.is_empty(), "an expired allowance is not open: {open:?}");
    // Expired, it covers nothing: the next payment is decided as if it never was.
    let p = crate::harness::payment(1, "research", 9, 21);
    let decided = h.ledger.reserve(&p, Approved::Not, &Rules).await.unwrap();
    assert!(matches!(decided, Reservation::NeedsApproval { .. }), "{decided:?}");
    // An answer to a request that lapsed is refused.
    let lapsed = h.ledger.open_allowance(&ask("research", 50, Vec::new()), OpenedBy::Agent).await.unwrap();
    clock.advance_ms(600_001);
    let answer = purser::ledger::allowances::AllowanceAnswer { approve: true, ..Default::default() };
    assert!(h.ledger.decide_allowance(lapsed.id, &answer).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_chooses_among_an_agents_allowances_and_no_agent_uses_anothers() {
    let h = Harness::start(Setup { auto_sats: 10, ask_sats: 1000, ..Setup::default() }).await;
    let by_person = OpenedBy::Person { confirmed: false };
    let first = h.ledger.open_allowance(&ask("research", 100, Vec::new()), by_person).await.unwrap();
    let second = h.ledger.open_allowance(&ask("research", 100, Vec::new()), by_person).await.unwrap();
    // Two cover the call and none is named: neither applies, so the threshold asks (answered by a timeout
    // here would be slow: the price is within the auto-approve limit instead).
    assert_eq!(h.get("/joke").await.status, 200);
    assert_eq!(allowance_ids(&h).await, [None]);
    let named = second.id.to_string();
    let paid = h.forward(Method::GET, &h.demo("/fortune"), "", &[("purser-allowance", &named)]).await;
    assert_eq!(paid.status, 200);
    assert_eq!(allowance_ids(&h).await, [None, Some(second.id)]);
    assert_eq!(h.ledger.allowance(first.id).await.unwrap().calls, 0);

    // Another agent names research's allowance: refused, and research's allowance is untouched.
    let (_, other_key) = h.ledger.add_agent("other").await.unwrap();
    let other = purser::proxy::auth::basic("other", &other_key);
    let headers = [("proxy-authorization", other.as_str()), ("purser-allowance", named.as_str())];
    let refused = collect(send(h.proxy_addr, Method::GET, &h.demo("/fortune"), "", &headers).await).await;
    assert_eq!((refused.status, refused.header("purser-refused")), (402, Some("allowance_not_usable")));
    let seen = collect(
        send(
            h.proxy_addr,
            Method::GET,
            &format!("http://{}/_purser/allowances/{named}", h.proxy_addr),
            "",
            &headers[..1],
        )
        .await,
    )
    .await;
    assert_eq!(seen.status, 404, "another agent's allowance is not found");
    let closing = collect(
        send(
            h.proxy_addr,
            Method::POST,
            &format!("http://{}/_purser/allowances/{named}/close", h.proxy_addr),
            "",
            &headers[..1],
        )
        .await,
    )
    .await;
    assert_eq!(closing.status, 404);
    assert_eq!(h.ledger.allowance(second.id).await.unwrap().state.as_str(), "active");

    // An API entry that names no host is refused: it would read as a limit and cover everything.
    let blank = h.ledger.open_allowance(&ask("research", 10, vec![" ".into()]), by_person).await;
    assert!(blank.unwrap_err().to_string().contains("names no API"));
    // An allowance limited to another API does not carry this one's payments, even when named.
    let elsewhere = h
        .ledger
        .open_allowance(&ask("research", 100, vec!["https://api.example.com".into()]), by_person)
        .await
        .unwrap();
    let id = elsewhere.id.to_string();
    let off = h.forward(Method::GET, &h.demo("/fortune"), "", &[("purser-allowance", &id)]).await;
    assert_eq!(off.header("purser-refused"), Some("allowance_not_usable"));
    assert!(String::from_utf8_lossy(&off.body).contains("does not cover"), "{:?}", off.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_payments_never_take_an_allowance_past_its_maximum() {
    let h = Harness::start(Setup { auto_sats: 10, ask_sats: 1000, ..Setup::default() }).await;
    let a = h
        .ledger
        .open_allowance(&ask("research", 1_000, Vec::new()), OpenedBy::Person { confirmed: false })
        .await
        .unwrap();
    let ledger = h.ledger.clone();
    let tasks: Vec<_> = (0..200u8)
        .map(|n| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let p = crate::harness::payment(1, "research", n, 21);
                ledger.reserve(&p, Approved::Not, &Rules).await.unwrap()
            })
        })
        .collect();
    let mut reserved = 0;
    for t in tasks {
        match t.await.unwrap() {
            Reservation::Reserved { .. } => reserved += 1,
            Reservation::NeedsApproval { details, .. } => assert_eq!(details["allowance"]["id"], a.id),
            other => panic!("{other:?}"),
        }
    }
    // Each holds 21 sats and a 10-sat fee reserve: 32 fit in 1,000 sats, and no more.
    assert_eq!(reserved, 32);
    let used = h.ledger.allowance(a.id).await.unwrap().used_msat;
    assert!(used <= 1_000_000, "{used}");
    assert_eq!(used, 32 * 31_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_for_every_demo_endpoint_pays_nothing_and_writes_nothing() {
    let h = Harness::start(Setup { auto_sats: 10, ask_sats: 1000, ..Setup::default() }).await;
    assert_eq!(h.get("/joke").await.status, 200);
    let (rows, wallet) = (h.rows().await.len(), h.sandbox.wallet.pay_requests());
    let paths =
        ["/joke", "/fortune", "/premium", "/legacy", "/mpp", "/x402", "/surge", "/lnbits", "/quoted", "/nowhere"];
    let calls: Vec<Value> = paths.iter().map(|p| json!({"url": h.demo(p), "count": 2})).collect();
    let quote = own(&h, Method::POST, "/_purser/quote", json!({ "calls": calls })).await;
    assert_eq!(quote.status, 200, "{:?}", quote.body);
    let q = quote.json();
    let line = |path: &str| q["calls"].as_array().unwrap().iter().find(|c| c["path"] == path).unwrap().clone();
    assert_eq!(line("/fortune")["published_msat"], 21_000);
    assert_eq!(line("/fortune")["policy"]["decision"], "ask", "{q}");
    assert_eq!(line("/joke")["policy"]["decision"], "pay");
    assert_eq!(line("/joke")["usual"]["median_msat"], 1_000, "the ledger's recent payments");
    // Priced dynamically in the discovery document: what the API's quote endpoint says now.
    assert_eq!(
        (line("/quoted")["published_msat"].as_u64(), line("/quoted")["published_source"].as_str()),
        (Some(7_000), Some("quote endpoint")),
        "{q}"
    );
    assert!(q["total"]["sources"].as_array().unwrap().iter().any(|s| s == "the APIs' quotes"), "{q}");
    assert_eq!(line("/nowhere")["policy"]["decision"], "unknown");
    assert!(
        q["total"]["unpriced"].as_array().unwrap().iter().any(|u| u.as_str().unwrap().ends_with("/nowhere")),
        "{q}"
    );
    let total = &q["total"];
    assert!(total["lowest_msat"].as_u64() <= total["expected_msat"].as_u64(), "{total}");
    assert!(total["expected_msat"].as_u64() <= total["highest_msat"].as_u64(), "{total}");
    assert_eq!(q["paid"], false);
    assert_eq!((h.rows().await.len(), h.sandbox.wallet.pay_requests()), (rows, wallet), "nothing paid or written");

    let bad = own(&h, Method::POST, "/_purser/quote", json!({"calls": [{"url": "ftp://x"}]})).await;
    assert_eq!((bad.status, bad.json()["reason"].as_str()), (400, Some("bad_quote_call")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_lists_answers_opens_and_closes_allowances() {
    let h = Harness::start(Setup { auto_sats: 10, ask_sats: 1000, ..Setup::default() }).await;
    let asked = own(&h, Method::POST, "/_purser/allowances", json!({"purpose": "nightly digest", "max_sats": 100}));
    let id = asked.await.json()["id"].as_i64().unwrap();
    let dir = h.dir.path().to_path_buf();
    let (listed, approved, opened, closed) = tokio::task::spawn_blocking(move || {
        let cli = |args: &[&str]| crate::cli::run_ok(crate::cli::purser(&dir).args(args));
        let listed = cli(&["allowances"]);
        let approved = cli(&["allowance", "approve", &id.to_string(), "--max", "50", "--for", "30m"]);
        let opened = cli(&["allowance", "open", "--agent", "research", "--purpose", "backfill", "--max", "20"]);
        let closed = cli(&["allowance", "close", &id.to_string()]);
        (listed, approved, opened, closed)
    })
    .await
    .unwrap();
    assert!(listed.contains(&format!("#{id}  requested")) && listed.contains("\"nightly digest\""), "{listed}");
    assert!(approved.contains("active") && approved.contains("0 sats of 50 sats"), "{approved}");
    assert!(opened.contains("active") && opened.contains("of 20 sats"), "{opened}");
    assert!(closed.contains("closed") && closed.contains("summary"), "{closed}");
    let a = h.ledger.allowance(id).await.unwrap();
    assert_eq!((a.max_msat, a.closed_by.as_deref()), (50_000, Some("person")));
    assert!(a.expires_at_ms - a.decided_at_ms.unwrap() <= 1_800_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowance_above_the_confirm_tier_needs_the_passphrase_and_then_covers_it() {
    let h =
        Harness::start(Setup { auto_sats: 10, ask_sats: 1000, confirm_above_sats: Some(20), ..Setup::default() }).await;
    h.ledger.set_passphrase_hash(Some(&purser::consent::hash("correct horse battery").unwrap())).await.unwrap();
    let asked = own(&h, Method::POST, "/_purser/allowances", json!({"purpose": "fortunes", "max_sats": 100})).await;
    let id = asked.json()["id"].as_i64().unwrap();
    let path = format!("allowances/{id}/approve");
    let click = control::call(&h.control, Method::POST, &path, Some(json!({}))).await.unwrap_err().to_string();
    assert!(click.contains("needs your passphrase"), "{click}");
    let wrong = control::call(&h.control, Method::POST, &path, Some(json!({"passphrase": "nope nope nope"}))).await;
    assert!(wrong.unwrap_err().to_string().contains("wrong passphrase"));
    assert_eq!(h.ledger.allowance(id).await.unwrap().state.as_str(), "requested");
    let ok = person(&h, &path, json!({"passphrase": "correct horse battery"})).await;
    assert_eq!((ok["state"].as_str(), ok["confirmed"].as_bool()), (Some("active"), Some(true)));
    // 21 sats is in the confirm tier: the confirmed allowance covers it, no one is asked.
    assert_eq!(h.get("/fortune").await.status, 200);
    assert_eq!(allowance_ids(&h).await, [Some(id)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_probes_an_unpriced_endpoint_once_and_only_when_asked() {
    let h = Harness::start(Setup::default()).await;
    // A real server's 402 (captured from lsat-js: 21 sats), from an API that publishes no prices.
    let captured: Value = serde_json::from_str(include_str!("../data/captured-402-responses.json")).unwrap();
    let first = &captured["responses"][0];
    let (www, body) = (first["www_authenticate"][0].as_str().unwrap(), first["body"].as_str().unwrap());
    let canned = format!(
        "HTTP/1.1 402 Payment Required\r\nwww-authenticate: {www}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let (addr, mut seen) = crate::harness::canned_server(Box::leak(canned.into_boxed_str())).await;
    let url = format!("http://{addr}/l402/21");
    let probes = |seen: &mut tokio::sync::mpsc::UnboundedReceiver<String>| {
        std::iter::from_fn(|| seen.try_recv().ok()).filter(|r| r.starts_with("GET /l402/21 ")).count()
    };

    let unasked = own(&h, Method::POST, "/_purser/quote", json!({"calls": [{"url": url}]})).await.json();
    assert_eq!(unasked["calls"][0]["policy"]["decision"], "unknown", "{unasked}");
    assert_eq!(probes(&mut seen), 0, "no request to the endpoint unless the agent asks");

    let probed = own(&h, Method::POST, "/_purser/quote", json!({"calls": [{"url": url, "count": 3}], "probe": true}));
    let probed = probed.await.json();
    let line = &probed["calls"][0];
    assert_eq!(
        (line["probed_msat"].as_u64(), line["expected_msat"].as_u64()),
        (Some(21_000), Some(21_000)),
        "{probed}"
    );
    assert_eq!(line["policy"]["decision"], "pay", "{probed}");
    assert_eq!(probed["total"]["expected_msat"], 63_000);
    assert_eq!(probes(&mut seen), 1, "one unpaid request");
    assert_eq!((h.rows().await.len(), h.sandbox.wallet.pay_requests()), (0, 0));

    let posted = json!({"calls": [{"method": "POST", "url": url}], "probe": true});
    let post = own(&h, Method::POST, "/_purser/quote", posted).await.json();
    assert!(post["calls"][0]["probe"].as_str().unwrap().contains("only GET and HEAD"), "{post}");
}
