//! Fetching an API's pricing documents, each with a timeout, and caching the result per origin for as long
//! as the API's `Cache-Control` allows (ten minutes when it says nothing; not at all for `no-store`).
//! "No pricing published" is cached the same way, so an API without documents costs one round of 404s; an API
//! that did not answer at all is asked again after 30 s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::header::{self, HeaderValue};
use http::{Method, Request, StatusCode, Uri};

use super::documents::{self, LOCATIONS};
use super::{PriceList, Tried};
use crate::bounded::BoundedMap;
use crate::http::body::{self, empty};
use crate::http::client::UpstreamClient;

/// How long a result is kept when the API's `Cache-Control` says nothing.
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);
/// How long a result is kept when no document answered at all (unreachable, timed out): soon asked again,
/// so an outage does not switch the price check off for long.
const UNANSWERED_TTL: Duration = Duration::from_secs(30);
/// The longest a result is kept, whatever the API says.
const MAX_TTL: Duration = Duration::from_secs(86_400);
/// The largest pricing document read.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Origins whose prices are kept in memory at most, and the bytes they may take together.
const CACHED_ORIGINS: usize = 1_000;
const CACHED_BYTES: usize = 16 << 20;

/// Fetches and caches pricing documents; one per proxy.
pub struct Fetcher {
    client: UpstreamClient,
    timeout: Duration,
    /// Where found prices are stored with when they were read; `None` for a one-off lookup.
    store: Option<Arc<dyn PriceStore>>,
    /// Bounded in entries and bytes: every origin an agent calls can put a document here.
    cache: Mutex<BoundedMap<String, (Instant, Arc<PriceList>)>>,
    /// The fetch under way per origin, shared: a burst of first payments to an API asks it for its documents
    /// once and every caller gets that one answer, even when the API says not to cache it.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<PriceList>>>>>,
    /// Where an origin's L402 discovery document is when its responses say (a `Link` with
    /// `rel="l402-manifest"`) and it is not at the usual place; read with the other documents.
    linked: Mutex<BoundedMap<String, String>>,
}

pub use crate::http::target::origin_of;

/// Where prices found are kept, with when they were read (the ledger), so they are known while an API's
/// documents cannot be read.
#[async_trait::async_trait]
pub trait PriceStore: Send + Sync {
    async fn keep(&self, list: &PriceList) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// The lifetime `Cache-Control` allows: `None` when it says nothing about it.
fn max_age(value: Option<&HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.to_ascii_lowercase();
    let mut age = None;
    for directive in text.split(',').map(str::trim) {
        if directive == "no-store" || directive == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = directive.strip_prefix("max-age=").and_then(|s| s.trim_matches('"').parse::<u64>().ok()) {
            age = Some(Duration::from_secs(secs));
        }
    }
    age
}

impl Fetcher {
    pub fn new(client: UpstreamClient, timeout: Duration, store: Option<Arc<dyn PriceStore>>) -> Self {
        Fetcher {
            client,
            timeout,
            store,
            cache: Mutex::new(BoundedMap::new(CACHED_ORIGINS, CACHED_BYTES)),
            inflight: Mutex::new(HashMap::new()),
            linked: Mutex::new(BoundedMap::new(CACHED_ORIGINS, CACHED_BYTES / 16)),
        }
    }

    pub(super) fn client(&self) -> &UpstreamClient {
        &self.client
    }

    /// How long each document, and a quote, may take.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Learns where `origin` keeps its discovery document from a `Link` header's target (`link`), so the
    /// next lookup reads it there. Only a path on the same origin is followed: an API names its own prices.
    /// The first such link has the documents read again at once; a later, different one waits for the
    /// cached documents to expire, so an API changing its link on every 402 cannot have them read every
    /// time. Returns whether the documents are read again now.
    pub fn learn_manifest(&self, origin: &str, link: &str) -> bool {
        let Some(path) = same_origin_path(origin, link) else { return false };
        let usual = LOCATIONS.iter().any(|(p, _)| *p == path);
        let mut linked = self.linked.lock().unwrap();
        let known = linked.get(origin).cloned();
        if usual || known.as_deref() == Some(path.as_str()) {
            return false;
        }
        let bytes = origin.len() + path.len();
        linked.insert(origin.to_string(), path, bytes);
        drop(linked);
        if known.is_some() {
            return false;
        }
        self.forget(origin);
        true
    }

    /// What `origin` publishes, from the cache while it is fresh.
    pub async fn get(&self, origin: &str) -> Arc<PriceList> {
        if let Some(list) = self.cached(origin) {
            return list;
        }
        let shared = self.inflight.lock().unwrap().entry(origin.to_string()).or_default().clone();
        let list = shared.get_or_init(|| self.fetch_and_keep(origin)).await.clone();
        let mut inflight = self.inflight.lock().unwrap();
        if inflight.get(origin).is_some_and(|current| Arc::ptr_eq(current, &shared)) {
            inflight.remove(origin);
        }
        list
    }

    fn cached(&self, origin: &str) -> Option<Arc<PriceList>> {
        let cache = self.cache.lock().unwrap();
        cache.get(origin).filter(|(until, _)| Instant::now() < *until).map(|(_, list)| list.clone())
    }

    async fn fetch_and_keep(&self, origin: &str) -> Arc<PriceList> {
        let (list, ttl) = self.fetch(origin).await;
        let list = Arc::new(list);
        if let Some(store) = &self.store
            && !list.is_empty()
            && let Err(e) = store.keep(&list).await
        {
            tracing::warn!(origin, "cannot store prices: {e}");
        }
        if !ttl.is_zero() {
            let bytes = origin.len() + serde_json::to_string(&*list).map_or(MAX_DOCUMENT_BYTES, |s| s.len());
            self.cache.lock().unwrap().insert(origin.to_string(), (Instant::now() + ttl, list.clone()), bytes);
        }
        list
    }

    /// Forgets what is cached for `origin`, so the next lookup fetches again.
    pub fn forget(&self, origin: &str) {
        self.cache.lock().unwrap().remove(origin);
    }

    /// Fetches every document of `origin` at once; returns what was found and how long it may be kept.
    pub async fn fetch(&self, origin: &str) -> (PriceList, Duration) {
        let linked = self.linked.lock().unwrap().get(origin).cloned();
        let mut locations: Vec<(&str, &str)> = LOCATIONS.to_vec();
        if let Some(path) = &linked {
            locations.push((path.as_str(), "l402.json"));
        }
        let fetches = locations.iter().map(|(path, source)| self.fetch_one(origin, path, source));
        let results = futures_util::future::join_all(fetches).await;
        let mut list = PriceList {
            origin: origin.to_string(),
            read_at_ms: jiff::Timestamp::now().as_millisecond(),
            ..Default::default()
        };
        let mut ttl: Option<Duration> = None;
        let mut answered = false;
        for (tried, read, age, status) in results {
            answered |= status;
            list.tried.push(tried);
            if let Some(age) = age {
                ttl = Some(ttl.map_or(age, |t| t.min(age)));
            }
            if let Some(read) = read {
                list.prices.extend(read.prices);
                list.free_tier = list.free_tier.or(read.free_tier);
                list.payment_hints = list.payment_hints.or(read.payment_hints);
            }
        }
        let ttl = if answered { ttl.unwrap_or(DEFAULT_TTL) } else { UNANSWERED_TTL };
        (list, ttl.min(MAX_TTL))
    }

    async fn fetch_one(
        &self,
        origin: &str,
        path: &str,
        source: &str,
    ) -> (Tried, Option<documents::Read>, Option<Duration>, bool) {
        let url = format!("{origin}{path}");
        let tried = |outcome: String| Tried { url: url.clone(), outcome };
        let Ok(uri) = url.parse::<Uri>() else {
            return (tried("not a valid URL".into()), None, None, false);
        };
        let mut req = Request::new(empty());
        *req.method_mut() = Method::GET;
        *req.uri_mut() = uri;
        req.headers_mut().insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let answer = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| format!("unreachable: {}", crate::http::client::error_chain(&e)))?;
            let status = resp.status();
            let age = max_age(resp.headers().get(header::CACHE_CONTROL));
            if status != StatusCode::OK {
                return Ok((status, age, None));
            }
            let (head, rest) = body::read_bounded(resp.into_body(), MAX_DOCUMENT_BYTES)
                .await
                .map_err(|e| format!("body unreadable: {e}"))?;
            if rest.is_some() {
                return Err(format!("larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            Ok((status, age, Some(head)))
        };
        match tokio::time::timeout(self.timeout, answer).await {
            Err(_) => (tried(format!("no answer within {} s", self.timeout.as_secs())), None, None, false),
            Ok(Err(e)) => (tried(e), None, None, false),
            Ok(Ok((status, age, None))) => (tried(format!("not published ({})", status.as_u16())), None, age, true),
            Ok(Ok((_, age, Some(bytes)))) => match documents::read(source, &bytes) {
                None => (tried("not a JSON document".into()), None, age, true),
                Some(read) => {
                    let n = read.prices.len();
                    (tried(format!("{n} price{}", if n == 1 { "" } else { "s" })), Some(read), age, true)
                }
            },
        }
    }
}

/// `link` (a path or a URL) as a path on `origin`; `None` when it points elsewhere.
pub(super) fn same_origin_path(origin: &str, link: &str) -> Option<String> {
    let base = url::Url::parse(origin).ok()?;
    let target = base.join(link).ok()?;
    let path = match target.query() {
        Some(q) => format!("{}?{q}", target.path()),
        None => target.path().to_string(),
    };
    (origin_of(target.as_str()).as_deref() == Some(origin)).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_and_origins() {
        let v = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(max_age(Some(&v("public, max-age=300"))), Some(Duration::from_secs(300)));
        assert_eq!(max_age(Some(&v("no-store"))), Some(Duration::ZERO));
        assert_eq!(max_age(Some(&v("private"))), None);
        assert_eq!(max_age(None), None);
        assert_eq!(origin_of("http://127.0.0.1:8080/pricing?x").as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(origin_of("HTTPS://API.Example.com/").as_deref(), Some("https://api.example.com:443"));
        assert_eq!(origin_of("ftp://x"), None);
    }

    #[test]
    fn a_changing_manifest_link_has_the_documents_read_again_once() {
        let client = crate::http::client::client(crate::http::client::tls_config(None, &[]).unwrap());
        let f = Fetcher::new(client, Duration::from_secs(1), None);
        let origin = "http://127.0.0.1:9";
        assert!(!f.learn_manifest(origin, "/.well-known/l402.json"), "the usual place is read anyway");
        assert!(f.learn_manifest(origin, "/m/1.json"), "the first link: read again now");
        assert!(!f.learn_manifest(origin, "/m/1.json"));
        assert!(!f.learn_manifest(origin, "/m/2.json"), "a new link waits for the cache to expire");
        assert_eq!(f.linked.lock().unwrap().get(origin).map(String::as_str), Some("/m/2.json"));
        assert!(!f.learn_manifest(origin, "http://other.example/m.json"));
    }

    #[test]
    fn a_manifest_link_is_followed_on_its_own_origin_only() {
        let origin = "https://api.example.com:443";
        assert_eq!(same_origin_path(origin, "/meta/l402.json").as_deref(), Some("/meta/l402.json"));
        assert_eq!(same_origin_path(origin, "https://api.example.com/m?v=1").as_deref(), Some("/m?v=1"));
        assert_eq!(same_origin_path(origin, "https://other.example.com/l402.json"), None);
        assert_eq!(same_origin_path(origin, "http://api.example.com/l402.json"), None, "another scheme");
        assert_eq!(same_origin_path(origin, "//169.254.169.254/latest"), None);
    }
}
