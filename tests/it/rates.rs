//! BTC rates from local price servers in each supported shape, over real sockets: agreeing sources, a source
//! down, slow, malformed or absurd (0, negative, 100× off), two sources disagreeing (reported), every source
//! down (no rate, each reason named), the one-minute cache, and a trusted rate never used past the allowed
//! age.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use purser::policy::ManualClock;
use purser::rates::race::Disagreement;
use purser::rates::shape::Shape;
use purser::rates::{Rates, RatesError, Source};
use tokio::net::TcpListener;

use crate::harness::canned_server;

const MINUTE_MS: i64 = 60_000;

/// A price server answering every request with `body` (JSON); its address and the requests it got.
async fn server(body: &str) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let (addr, rx) = canned_server(Box::leak(answer.into_boxed_str())).await;
    (format!("http://{addr}"), rx)
}

fn coinbase(price: &str) -> String {
    format!(r#"{{"data":{{"amount":"{price}","base":"BTC","currency":"USD"}}}}"#)
}

fn kraken(price: &str) -> String {
    format!(r#"{{"error":[],"result":{{"XXBTZUSD":{{"c":["{price}","0.001"]}}}}}}"#)
}

fn rates(sources: Vec<Source>, clock: Arc<ManualClock>) -> (Rates, Arc<Mutex<Vec<Disagreement>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let client = purser::http::client::client(purser::http::client::tls_config(None, &[]).unwrap());
    let rates = Rates::new(client, sources, clock)
        .with_timeout(Duration::from_millis(500))
        .on_disagreement(move |d| log.lock().unwrap().push(d));
    (rates, seen)
}

/// An address that takes connections and never answers.
async fn silent() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    format!("http://{addr}")
}

/// An address nothing listens on.
fn closed() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agreeing_sources_in_every_shape_and_the_minute_cache() {
    let (cb, mut cb_got) = server(&coinbase("97000.50")).await;
    let (kr, _) = server(&kraken("97100.0")).await;
    let (cg, _) = server(r#"{"bitcoin":{"usd":97050}}"#).await;
    let (mp, _) = server(r#"{"time":1764633600,"USD":97020,"EUR":90000}"#).await;
    let sources = vec![
        Source::new("cb", &format!("{cb}/v2/prices/BTC-{{CURRENCY}}/spot"), Shape::Coinbase),
        Source::new("kr", &format!("{kr}/0/public/Ticker?pair=XBT{{CURRENCY}}"), Shape::Kraken),
        Source::new(
            "cg",
            &format!("{cg}/api/v3/simple/price?ids=bitcoin&vs_currencies={{currency}}"),
            Shape::Coingecko,
        ),
        Source::new("mp", &format!("{mp}/api/v1/prices"), Shape::Mempool),
    ];
    let clock = ManualClock::new(1_764_633_600_000);
    let (rates, disagreements) = rates(sources, clock.clone());
    let rate = rates.get("usd", Duration::from_secs(300)).await.unwrap();
    assert_eq!(rate.currency, "USD");
    assert!((97_000.0..=97_100.0).contains(&rate.per_btc), "{rate:?}");
    assert!(["cb", "kr", "cg", "mp"].contains(&rate.source.as_str()));
    assert_eq!(rate.at_ms, 1_764_633_600_000);
    let asked = cb_got.recv().await.unwrap();
    assert!(asked.starts_with("GET /v2/prices/BTC-USD/spot "), "{asked}");

    // Within the minute, no source is asked again.
    clock.advance_ms(30_000);
    assert_eq!(rates.get("USD", Duration::from_secs(300)).await.unwrap(), rate);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(cb_got.try_recv().is_err(), "the cached rate was used");
    assert!(disagreements.lock().unwrap().is_empty(), "{:?}", disagreements.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_slow_malformed_and_absurd_sources_are_passed_over_and_disagreement_is_reported() {
    let (good, _) = server(&coinbase("97000")).await;
    let (agrees, _) = server(r#"{"bitcoin":{"usd":97500}}"#).await;
    let (malformed, _) = server("<html>busy</html>").await;
    let (zero, _) = server(&coinbase("0")).await;
    let (negative, _) = server(r#"{"USD":-97000}"#).await;
    let (hundredfold, _) = server(&kraken("9700000")).await;
    let sources = vec![
        Source::new("down", &closed(), Shape::Coinbase),
        Source::new("slow", &silent().await, Shape::Coinbase),
        Source::new("malformed", &malformed, Shape::Coinbase),
        Source::new("zero", &zero, Shape::Coinbase),
        Source::new("negative", &negative, Shape::Mempool),
        Source::new("hundredfold", &hundredfold, Shape::Kraken),
        Source::new("good", &good, Shape::Coinbase),
        Source::new("agrees", &agrees, Shape::Coingecko),
    ];
    let (rates, disagreements) = rates(sources, ManualClock::new(0));
    let rate = rates.get("USD", Duration::from_secs(300)).await.unwrap();
    // 100× off is not absurd to a first race with nothing to compare against, but it has no second source
    // agreeing with it: the two that agree win.
    assert!(["good", "agrees"].contains(&rate.source.as_str()), "{rate:?}");
    // The 100× answer is reported as a disagreement once it is in.
    for _ in 0..100 {
        if disagreements.lock().unwrap().iter().any(|d| d.other.0 == "hundredfold") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = disagreements.lock().unwrap().clone();
    assert!(seen.iter().any(|d| d.other.0 == "hundredfold" && d.other.1 == 9_700_000.0), "{seen:?}");
    assert!(seen.iter().all(|d| d.other.0 != "good" && d.other.0 != "agrees"), "within 2 %: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_five_percent_apart_raise_a_disagreement() {
    let (a, _) = server(&coinbase("100000")).await;
    let (b, _) = server(r#"{"bitcoin":{"usd":105000}}"#).await;
    let sources = vec![Source::new("a", &a, Shape::Coinbase), Source::new("b", &b, Shape::Coingecko)];
    let (rates, disagreements) = rates(sources, ManualClock::new(0));
    let rate = rates.get("USD", Duration::from_secs(300)).await.unwrap();
    // Nothing to tell which is right: the higher price, which turns a limit in dollars into fewer sats.
    assert_eq!((rate.source.as_str(), rate.per_btc), ("b", 105_000.0));
    let seen = disagreements.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0].trusted.1, seen[0].other.1), (105_000.0, 100_000.0));
}

/// A price server that answers one request with `body`, then is gone.
async fn once(body: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        drop(listener);
        let mut buf = vec![0u8; 4096];
        let _ = s.read(&mut buf).await;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = s.write_all(answer.as_bytes()).await;
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_source_down_no_rate_older_than_the_allowed_age_is_used() {
    let max_age = Duration::from_secs(300);
    let sources = vec![
        Source::new("once", &once(r#"{"data":{"amount":"97000","currency":"USD"}}"#).await, Shape::Coinbase),
        Source::new("down", &closed(), Shape::Coinbase),
        Source::new("slow", &silent().await, Shape::Mempool),
    ];
    let clock = ManualClock::new(0);
    let (rates, _) = rates(sources, clock.clone());
    let first = rates.get("USD", max_age).await.unwrap();
    assert_eq!((first.source.as_str(), first.per_btc), ("once", 97_000.0));

    // Two minutes on, every source is down: the rate trusted then is still young enough.
    clock.set(2 * MINUTE_MS);
    assert_eq!(rates.get("USD", max_age).await.unwrap(), first);
    // Six minutes on it is not, and nothing else is there: no rate, each source's reason named.
    clock.set(6 * MINUTE_MS);
    let none = rates.get("USD", max_age).await.unwrap_err();
    let RatesError::Unavailable { currency, tried } = &none;
    assert_eq!(currency, "USD");
    assert_eq!(tried.len(), 3, "{tried:?}");
    assert!(tried.iter().any(|t| t.starts_with("down:")), "{tried:?}");
    assert!(tried.iter().any(|t| t.starts_with("slow: no answer within")), "{tried:?}");
    assert!(none.to_string().starts_with("no BTC/USD rate"), "{none}");
    // A caller allowing only a minute gets none already at two.
    clock.set(2 * MINUTE_MS);
    assert!(rates.get("USD", Duration::from_secs(60)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purser_rate_asks_the_sources_purser_toml_names() {
    let (feed, mut asked) = server(r#"{"time":1764633600,"USD":97000,"EUR":90000}"#).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "currency = \"EUR\"\n[[rate_sources]]\nname = \"own feed\"\nurl = \"{feed}/prices\"\nshape = \"mempool\"\n"
    );
    std::fs::write(dir.path().join("purser.toml"), config).unwrap();
    let path = dir.path().to_path_buf();
    let out =
        tokio::task::spawn_blocking(move || crate::cli::run_ok(crate::cli::purser(&path).arg("rate"))).await.unwrap();
    assert!(out.contains("1 BTC = 90000.00 EUR (from own feed)"), "{out}");
    // 1 EUR at 90,000 EUR a bitcoin: 1,111.111 sats.
    assert!(out.contains("1 EUR = 1,111.111 sats"), "{out}");
    assert!(asked.recv().await.unwrap().starts_with("GET /prices "));

    std::fs::write(
        dir.path().join("purser.toml"),
        format!("[[rate_sources]]\nname = \"gone\"\nurl = \"{}\"\nshape = \"coinbase\"\n", closed()),
    )
    .unwrap();
    let path = dir.path().to_path_buf();
    let failed = tokio::task::spawn_blocking(move || crate::cli::purser(&path).args(["rate", "usd"]).output().unwrap())
        .await
        .unwrap();
    assert!(!failed.status.success());
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(err.contains("no BTC/USD rate: gone:"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_serves_a_play_rate_and_says_so() {
    let sandbox = purser::sandbox::Sandbox::start(Default::default(), Default::default()).await.unwrap();
    let (rates, _) = rates(vec![sandbox.rate_source()], ManualClock::new(0));
    let usd = rates.get("USD", Duration::from_secs(300)).await.unwrap();
    assert_eq!((usd.source.as_str(), usd.per_btc), ("sandbox play rate", 100_000.0));
    // $1 at the play rate: 1,000 sats exactly.
    assert_eq!(usd.msat_for(1.0), purser::units::Msats(1_000_000));
    let url = format!("http://{}/api/v1/prices", sandbox.demo_addr);
    let client = purser::http::client::client(purser::http::client::tls_config(None, &[]).unwrap());
    let resp = client.request(http::Request::get(url).body(purser::http::body::empty()).unwrap()).await.unwrap();
    let body = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("not a market price"));
}
