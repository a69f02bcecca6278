//! Asking every source at once for a currency's rate: each answer read by its shape and checked
//! ([`super::pick`]); the trusted one is cached for a minute and kept as the reference the next answers are
//! checked against. Answers still coming after the winner are compared with it, and one more than 2 % away
//! is reported ([`Disagreement`]). No rate older than the caller's allowed age is ever returned.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use http::{Request, StatusCode};

use super::pick::{self, Pick};
use super::{Rate, Source};
use crate::http::client::UpstreamClient;
use crate::policy::clock::Clock;

/// How long a trusted rate is used without asking again.
pub const CACHE_FOR: Duration = Duration::from_secs(60);

/// How long a failed race answers for its currency before the sources are asked again.
pub const FAILURE_KEPT: Duration = Duration::from_secs(10);

/// The longest a source is waited for.
pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read from a source.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why one source gave no usable price.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceFailure {
    #[error("bad URL: {0}")]
    BadUrl(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("answered {0}")]
    Status(StatusCode),
    #[error("the answer is too long")]
    TooLong,
    #[error("the answer broke off: {0}")]
    Broken(String),
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error(transparent)]
    Unreadable(#[from] super::shape::ShapeError),
    #[error("{price}: {why}")]
    NotSane { price: f64, why: &'static str },
}

/// One source's answer, by its name: the task each source is asked in.
type Asking = tokio::task::JoinHandle<(String, Result<f64, SourceFailure>)>;

/// Two sources more than 2 % apart.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Disagreement {
    pub currency: String,
    /// The trusted rate's source and price.
    pub trusted: (String, f64),
    /// The other source and its price.
    pub other: (String, f64),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RatesError {
    /// No source gave a sane answer and no trusted rate is young enough.
    #[error("no BTC/{currency} rate: {}", .tried.join("; "))]
    Unavailable { currency: String, tried: Vec<String> },
}

/// The sources, the client that asks them, and the last trusted rate per currency.
pub struct Rates {
    client: UpstreamClient,
    sources: Vec<Source>,
    timeout: Duration,
    clock: Arc<dyn Clock>,
    trusted: Mutex<HashMap<String, Rate>>,
    /// Currencies being asked for in the background now, so many payments at once start one race.
    refreshing: Mutex<std::collections::HashSet<String>>,
    /// One race per currency at a time: a caller that finds one under way waits for it and reads its result.
    racing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Each currency's last failed race, kept for [`FAILURE_KEPT`], so a burst of requests (or an agent naming
    /// currencies no source offers) does not ask every source again each time.
    failed: Mutex<HashMap<String, (i64, RatesError)>>,
    on_disagreement: Arc<dyn Fn(Disagreement) + Send + Sync>,
}

impl Rates {
    pub fn new(client: UpstreamClient, sources: Vec<Source>, clock: Arc<dyn Clock>) -> Self {
        Rates {
            client,
            sources,
            timeout: SOURCE_TIMEOUT,
            clock,
            trusted: Mutex::new(HashMap::new()),
            refreshing: Mutex::new(std::collections::HashSet::new()),
            racing: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
            on_disagreement: Arc::new(|_| {}),
        }
    }

    /// How long each source is waited for.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What to do when two sources disagree by more than 2 % (raise an alert).
    pub fn on_disagreement(mut self, f: impl Fn(Disagreement) + Send + Sync + 'static) -> Self {
        self.on_disagreement = Arc::new(f);
        self
    }

    /// The rate for `currency` no older than `max_age`: the cached one while it is younger than a minute
    /// (and `max_age`), else a fresh race; when no source answers sanely, the cached one if still young
    /// enough, else [`RatesError::Unavailable`].
    pub async fn get(&self, currency: &str, max_age: Duration) -> Result<Rate, RatesError> {
        let currency = currency.to_ascii_uppercase();
        let now = self.clock.now_ms();
        let age_ms = |r: &Rate| u64::try_from(now - r.at_ms).unwrap_or(0);
        let last = self.trusted.lock().unwrap_or_else(|e| e.into_inner()).get(&currency).cloned();
        if let Some(r) = &last
            && age_ms(r) < CACHE_FOR.min(max_age).as_millis() as u64
        {
            return Ok(r.clone());
        }
        // One race at a time per currency; who waited for it reads what it found.
        let gate = self.racing.lock().unwrap_or_else(|e| e.into_inner()).entry(currency.clone()).or_default().clone();
        let _racing = gate.lock().await;
        let now = self.clock.now_ms();
        let last = self.trusted.lock().unwrap_or_else(|e| e.into_inner()).get(&currency).cloned();
        let age_ms = |r: &Rate| u64::try_from(now - r.at_ms).unwrap_or(0);
        if let Some(r) = &last
            && age_ms(r) < CACHE_FOR.min(max_age).as_millis() as u64
        {
            return Ok(r.clone());
        }
        let failed = self.failed.lock().unwrap_or_else(|e| e.into_inner()).get(&currency).cloned();
        let fresh_failure = failed.filter(|(at, _)| now - at < FAILURE_KEPT.as_millis() as i64).map(|(_, e)| e);
        let raced = match fresh_failure {
            Some(e) => Err(e),
            None => self.race(&currency, last.as_ref().map(|r| r.per_btc)).await,
        };
        // The gate goes with the race: a caller still waiting on it finds the result cached.
        self.racing.lock().unwrap_or_else(|e| e.into_inner()).remove(&currency);
        match raced {
            Ok(rate) => {
                self.failed.lock().unwrap_or_else(|e| e.into_inner()).remove(&currency);
                self.trusted.lock().unwrap_or_else(|e| e.into_inner()).insert(currency, rate.clone());
                Ok(rate)
            }
            Err(e) => {
                let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
                failed.retain(|_, (at, _)| now - *at < FAILURE_KEPT.as_millis() as i64);
                failed.insert(currency.clone(), (now, e.clone()));
                drop(failed);
                match last {
                    Some(r) if age_ms(&r) < max_age.as_millis() as u64 => Ok(r),
                    _ => Err(e),
                }
            }
        }
    }

    /// The trusted rate for `currency` when it is younger than `max_age`, without asking anyone; and
    /// whether it is due to be asked again (older than a minute, or none).
    pub fn cached(&self, currency: &str, max_age: Duration) -> (Option<Rate>, bool) {
        let now = self.clock.now_ms();
        let last = self.trusted.lock().unwrap_or_else(|e| e.into_inner()).get(&currency.to_ascii_uppercase()).cloned();
        let age_ms = |r: &Rate| u64::try_from(now - r.at_ms).unwrap_or(0);
        let due = last.as_ref().is_none_or(|r| age_ms(r) >= CACHE_FOR.as_millis() as u64);
        (last.filter(|r| age_ms(r) < max_age.as_millis() as u64), due)
    }

    /// Asks for `currency`'s rate on `runtime` without waiting, unless that is already under way: the next
    /// payment then finds it cached.
    pub fn refresh_in_background(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        currency: &str,
        max_age: Duration,
    ) {
        let currency = currency.to_ascii_uppercase();
        if !self.refreshing.lock().unwrap_or_else(|e| e.into_inner()).insert(currency.clone()) {
            return;
        }
        let rates = self.clone();
        runtime.spawn(async move {
            if let Err(e) = rates.get(&currency, max_age).await {
                tracing::info!("{e}");
            }
            rates.refreshing.lock().unwrap_or_else(|e| e.into_inner()).remove(&currency);
        });
    }

    async fn race(&self, currency: &str, reference: Option<f64>) -> Result<Rate, RatesError> {
        let mut asking: FuturesUnordered<Asking> = self
            .sources
            .iter()
            .map(|s| {
                let (client, source, currency, timeout) =
                    (self.client.clone(), s.clone(), currency.to_string(), self.timeout);
                tokio::spawn(async move {
                    let answer = ask(&client, &source, &currency, reference, timeout).await;
                    (source.name, answer)
                })
            })
            .collect();
        let (mut sane, mut tried): (Vec<(String, f64)>, Vec<String>) = (Vec::new(), Vec::new());
        while let Some(joined) = asking.next().await {
            match joined {
                Ok((name, Ok(per_btc))) => sane.push((name, per_btc)),
                Ok((name, Err(why))) => tried.push(format!("{name}: {why}")),
                Err(e) => tried.push(format!("a source's request failed: {e}")),
            }
            let prices: Vec<f64> = sane.iter().map(|(_, p)| *p).collect();
            match pick::pick(&prices, asking.len(), reference.is_some()) {
                Pick::Wait => continue,
                Pick::Nothing => break,
                Pick::Take(i) => {
                    let (source, per_btc) = sane.swap_remove(i);
                    let rate = Rate { currency: currency.into(), per_btc, source, at_ms: self.clock.now_ms() };
                    self.watch_the_rest(&rate, sane, asking);
                    return Ok(rate);
                }
            }
        }
        Err(RatesError::Unavailable { currency: currency.into(), tried })
    }

    /// Compares the answers already in (`known`) and, in the background, those still coming (`rest`) with
    /// the trusted rate.
    fn watch_the_rest(&self, rate: &Rate, known: Vec<(String, f64)>, rest: FuturesUnordered<Asking>) {
        let report = self.on_disagreement.clone();
        let trusted = (rate.source.clone(), rate.per_btc);
        let currency = rate.currency.clone();
        let check = move |other: (String, f64)| {
            if pick::disagree(trusted.1, other.1) {
                report(Disagreement { currency: currency.clone(), trusted: trusted.clone(), other });
            }
        };
        known.into_iter().for_each(&check);
        if !rest.is_empty() {
            tokio::spawn(async move {
                for (name, answer) in rest.collect::<Vec<_>>().await.into_iter().flatten() {
                    if let Ok(p) = answer {
                        check((name, p));
                    }
                }
            });
        }
    }
}

/// One source's price for `currency`, or why not.
async fn ask(
    client: &UpstreamClient,
    source: &Source,
    currency: &str,
    reference: Option<f64>,
    timeout: Duration,
) -> Result<f64, SourceFailure> {
    let req = Request::get(source.url_for(currency))
        .header(http::header::ACCEPT, "application/json")
        .body(crate::http::body::empty())
        .map_err(|e| SourceFailure::BadUrl(e.to_string()))?;
    let body = tokio::time::timeout(timeout, async {
        let resp =
            client.request(req).await.map_err(|e| SourceFailure::Unreachable(crate::http::client::error_chain(&e)))?;
        if resp.status() != StatusCode::OK {
            return Err(SourceFailure::Status(resp.status()));
        }
        match crate::http::body::read_bounded(resp.into_body(), MAX_ANSWER_BYTES).await {
            Ok((bytes, None)) => Ok(bytes),
            Ok((_, Some(_))) => Err(SourceFailure::TooLong),
            Err(e) => Err(SourceFailure::Broken(e.to_string())),
        }
    })
    .await
    .map_err(|_| SourceFailure::Timeout(timeout))??;
    let per_btc = source.shape.read(&body, currency)?;
    pick::sane(per_btc, reference).map_err(|why| SourceFailure::NotSane { price: per_btc, why })?;
    Ok(per_btc)
}
