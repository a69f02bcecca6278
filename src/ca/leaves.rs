//! TLS server configurations for the hosts agents reach through `CONNECT`, each with a leaf minted by the
//! CA on first use and kept in a bounded cache, so a host's certificate is made once and TLS sessions with
//! agents can be resumed.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use rustls::ServerConfig;

use super::{Authority, Error, Result};

/// How many hosts' configurations are kept; the least recently used goes first.
pub const DEFAULT_CAPACITY: usize = 1024;

pub struct Leaves {
    authority: Arc<Authority>,
    cache: Mutex<LruCache<String, Arc<ServerConfig>>>,
}

impl Leaves {
    pub fn new(authority: Arc<Authority>, capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Leaves { authority, cache: Mutex::new(LruCache::new(capacity)) }
    }

    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The configuration to accept an agent's TLS for `host`, offering HTTP/2 and HTTP/1.1.
    pub fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>> {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        if let Some(config) = self.lock().get(&host) {
            return Ok(config.clone());
        }
        crate::install_crypto_provider();
        let leaf = self.authority.leaf(&host)?;
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(leaf.chain, leaf.key)
            .map_err(|e| Error::Tls { host: host.clone(), reason: e.to_string() })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let config = Arc::new(config);
        self.lock().put(host, config.clone());
        Ok(config)
    }

    /// How many hosts are cached now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Arc<ServerConfig>>> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_minted_once_and_the_cache_stays_bounded() {
        let leaves = Leaves::new(Arc::new(Authority::generate().unwrap()), 2);
        let a = leaves.server_config("a.example").unwrap();
        assert!(Arc::ptr_eq(&a, &leaves.server_config("A.example").unwrap()), "same host, same config");
        leaves.server_config("127.0.0.1").unwrap();
        leaves.server_config("c.example").unwrap();
        assert_eq!(leaves.len(), 2, "the cache never holds more than its capacity");
        assert!(!Arc::ptr_eq(&a, &leaves.server_config("a.example").unwrap()), "the oldest host was evicted");
    }
}
