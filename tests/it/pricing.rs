//! Published pricing over real sockets: every form the demo API publishes read and agreeing, caching as
//! `Cache-Control` says, "no pricing published", and the agent endpoint on the proxy's port.

use std::collections::BTreeMap;
use std::time::Duration;

use http::Method;
use purser::http::client as upstream;
use purser::ledger::policy_store::ScopeSpec;
use purser::policy::Period;
use purser::pricing::{Fetcher, PriceModel};

use crate::harness::{Harness, Setup, canned_server, collect, send};
use crate::refusals::agent;

fn fetcher(ledger: Option<purser::ledger::Ledger>) -> Fetcher {
    let client = upstream::client(upstream::tls_config(None, &[]).unwrap());
    let store = ledger.map(|l| std::sync::Arc::new(l) as std::sync::Arc<dyn purser::pricing::fetch::PriceStore>);
    Fetcher::new(client, Duration::from_secs(5), store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_published_form_is_read_and_they_agree() {
    let h = Harness::start(Setup::default()).await;
    let origin = format!("http://{}", h.sandbox.demo_addr);
    let f = fetcher(Some(h.ledger.clone()));
    let list = f.get(&origin).await;
    let mut by_source: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for p in list.prices.iter().filter(|p| p.model == PriceModel::Fixed) {
        by_source.entry(p.source.clone()).or_default().insert(p.path.clone(), p.price_msat);
    }
    let sources: Vec<&str> = by_source.keys().map(String::as_str).collect();
    assert_eq!(sources, ["l402-services", "l402.json", "openapi", "pricing"]);
    let pricing = &by_source["pricing"];
    for (source, prices) in &by_source {
        assert_eq!(prices, pricing, "{source} says other prices");
    }
    assert_eq!(pricing["/joke"], 1_000);
    assert_eq!(pricing["/surge"], 10_000);
    assert_eq!(pricing["/mpp"], 3_000);
    assert!(!pricing.contains_key("/evm"), "no sat price is published for the EVM-only endpoint");
    assert_eq!(list.price_for("POST", "/summarize").unwrap().price_msat, 21_000);
    assert!(list.free_tier.is_some() && list.payment_hints.is_some());
    // The dynamically priced endpoint is in the two forms that can say so, with where it is quoted.
    let quoted: Vec<(&str, Option<&str>, Option<&str>)> = list
        .prices
        .iter()
        .filter(|p| p.path == "/quoted")
        .map(|p| (p.source.as_str(), p.quote_endpoint.as_deref(), p.service.as_deref()))
        .collect();
    assert_eq!(
        quoted,
        [("l402.json", Some("/l402/quote"), Some("demo")), ("openapi", Some("/l402/quote"), Some("demo"))]
    );
    assert!(list.prices.iter().filter(|p| p.path == "/quoted").all(|p| p.model == PriceModel::Dynamic));
    // Stored per API with when they were read: the fixed prices, which invoices are compared with.
    let stored = h.ledger.prices(Some(&origin)).await.unwrap();
    assert_eq!(stored.len(), list.prices.iter().filter(|p| p.model == PriceModel::Fixed).count());
    assert!(stored.iter().all(|p| p.read_at_ms == list.read_at_ms && p.origin == origin));
}

const CACHED: &str = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=300\r\n\
    content-length: 51\r\nconnection: close\r\n\r\n{\"priced_endpoints\":[{\"path\":\"/a\",\"price_sats\":2}]}";
const NOT_STORED: &str = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: no-store\r\n\
    content-length: 51\r\nconnection: close\r\n\r\n{\"priced_endpoints\":[{\"path\":\"/a\",\"price_sats\":2}]}";
const MISSING: &str = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// How many requests reached a canned server so far.
fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> usize {
    let mut n = 0;
    while rx.try_recv().is_ok() {
        n += 1;
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_cached_as_cache_control_says() {
    let f = fetcher(None);
    let (cached, mut seen) = canned_server(CACHED).await;
    let origin = format!("http://{cached}");
    // Ten first payments at once: the API is asked for its four documents once.
    let burst = futures_util::future::join_all((0..10).map(|_| f.get(&origin))).await;
    let first = burst[0].clone();
    assert!(burst.iter().all(|l| l.read_at_ms == first.read_at_ms));
    assert_eq!(first.price_for("GET", "/a").unwrap().price_msat, 2_000);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(drain(&mut seen), 4, "the four documents are asked for once");
    let again = f.get(&origin).await;
    assert_eq!(again.read_at_ms, first.read_at_ms);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(drain(&mut seen), 0, "max-age=300: served from the cache");
    f.forget(&origin);
    f.get(&origin).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(drain(&mut seen), 4);

    // Answering after 200 ms, so a burst's callers all arrive while its one fetch is under way, however
    // busy the machine.
    let (uncached, mut seen) = crate::harness::canned_server_after(NOT_STORED, Duration::from_millis(200)).await;
    let origin = format!("http://{uncached}");
    f.get(&origin).await;
    f.get(&origin).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(drain(&mut seen), 8, "no-store: asked again every time");
    // Callers arriving while a fetch is under way share its answer, cached or not.
    futures_util::future::join_all((0..10).map(|_| f.get(&origin))).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(drain(&mut seen), 4, "one fetch for a burst, even with no-store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_without_documents_publishes_no_pricing() {
    let f = fetcher(None);
    let (missing, _) = canned_server(MISSING).await;
    let list = f.get(&format!("http://{missing}")).await;
    assert!(list.is_empty());
    assert_eq!(list.tried.len(), 4);
    assert!(list.tried.iter().all(|t| t.outcome == "not published (404)"), "{:?}", list.tried);
    // Nobody listening: each document says why, and nothing hangs.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let list = f.get(&format!("http://{closed}")).await;
    assert!(list.is_empty() && list.tried.iter().all(|t| t.outcome.starts_with("unreachable")), "{:?}", list.tried);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_endpoint_tells_budgets_and_prices() {
    let h = Harness::start(Setup {
        budgets: vec![(agent("research"), Period::Day, 100), (ScopeSpec::default(), Period::Month, 5_000)],
        ..Setup::default()
    })
    .await;
    assert_eq!(h.get("/joke").await.status, 200);
    let own = format!("http://{}/_purser/agent", h.proxy_addr);
    let me = h.forward(Method::GET, &own, "", &[]).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    let v = me.json();
    assert_eq!(v["agent"], "research");
    let budgets = v["budgets"].as_array().unwrap();
    assert!(budgets.iter().any(|b| b["limit_msat"] == 5_000_000 && b["period"] == "month"), "{v}");
    let daily = budgets.iter().find(|b| b["limit_msat"] == 100_000).unwrap();
    assert_eq!(daily["used_msat"].as_u64().unwrap() + daily["remaining_msat"].as_u64().unwrap(), 100_000);
    assert!(daily["used_msat"].as_u64().unwrap() >= 1_000, "{daily}");

    let prices = format!("{own}/prices?api=http://{}/", h.sandbox.demo_addr);
    let p = h.forward(Method::GET, &prices, "", &[]).await.json();
    assert_eq!(p["published"], true);
    assert!(p["prices"].as_array().unwrap().iter().any(|x| x["path"] == "/joke" && x["price_msat"] == 1000), "{p}");

    // Called directly (origin-form) with the key in Authorization, as a script without a proxy setting would.
    let auth = h.auth();
    let direct =
        collect(send(h.proxy_addr, Method::GET, "/_purser/agent", "", &[("authorization", &auth)]).await).await;
    assert_eq!(direct.status, 200);
    let none = collect(send(h.proxy_addr, Method::GET, "/_purser/agent", "", &[]).await).await;
    assert_eq!(none.status, 407);
    let wrong = purser::proxy::auth::basic("research", "not-the-key");
    let wrong =
        collect(send(h.proxy_addr, Method::GET, "/_purser/agent", "", &[("authorization", &wrong)]).await).await;
    assert_eq!(wrong.status, 407);
    let bad = h.forward(Method::GET, &format!("{own}/prices"), "", &[]).await;
    assert_eq!((bad.status, bad.json()["reason"].as_str()), (400, Some("bad_agent_call")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_price_is_quoted_before_its_invoice_is_paid() {
    let h = Harness::start(Setup::default()).await;
    // A dry run shows the quote the invoice is held to.
    let dry = h.forward(Method::GET, &h.demo("/quoted"), "", &[("purser-dry-run", "1")]).await.json();
    assert_eq!((dry["advertised_msat"].as_u64(), dry["quoted"].as_bool()), (Some(7_000), Some(true)), "{dry}");
    assert_eq!(dry["would_pay"], true, "{dry}");
    let reply = h.get("/quoted").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert!(reply.json()["forecast"].is_string());
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].status.as_str(), rows[0].amount_msat), ("settled", Some(7_000)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_above_its_quote_is_refused_unpaid() {
    let demo = purser::sandbox::demo_api::DemoOptions { quote_sats: Some(3), ..Default::default() };
    let h = Harness::start(Setup { demo, ..Setup::default() }).await;
    let reply = h.get("/quoted").await;
    assert_eq!(reply.status, 402, "{:?}", reply.body);
    assert_eq!(reply.headers["purser-refused"], "price_mismatch");
    let body = reply.json();
    assert!(body["detail"].as_str().unwrap().contains("above the 3000 msat the API's quote endpoint quoted"), "{body}");
    assert_eq!(h.sandbox.wallet.pay_requests(), 0, "nothing paid");
    let rows = h.rows().await;
    assert_eq!((rows[0].status.as_str(), rows[0].reason.as_deref()), ("refused", Some("price_mismatch")));
}
