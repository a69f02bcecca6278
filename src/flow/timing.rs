//! Where a paid request's time went: Purser's own work (reading the challenge, checks, policy, the ledger,
//! building the proof) against waiting on others (the API, the wallet, a person). Paid answers carry it to
//! the agent as `Server-Timing: purser;dur=…, upstream;dur=…, wallet;dur=…, approval;dur=…` (milliseconds),
//! which is also how the benchmarks measure Purser's own share of a paid call.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use http::HeaderValue;

/// What a request waited for besides Purser itself.
#[derive(Debug, Clone, Copy)]
pub enum Wait {
    /// The API: the request, its retry, its pricing documents.
    Upstream,
    /// The wallet, over Nostr Wallet Connect.
    Wallet,
    /// A person answering an approval.
    Approval,
}

/// One request's clock.
#[derive(Debug)]
pub struct Timing {
    started: Instant,
    waited_us: [AtomicU64; 3],
}

impl Default for Timing {
    fn default() -> Self {
        Timing::new()
    }
}

impl Timing {
    pub fn new() -> Self {
        Timing { started: Instant::now(), waited_us: Default::default() }
    }

    /// How long ago the request arrived.
    pub fn since_arrival(&self) -> Duration {
        self.started.elapsed()
    }

    /// Adds `spent` to what the request waited for `on`.
    pub fn add(&self, on: Wait, spent: Duration) {
        self.waited_us[on as usize].fetch_add(spent.as_micros() as u64, Ordering::Relaxed);
    }

    /// Runs `work`, counting its time as waiting for `on`.
    pub async fn wait<T>(&self, on: Wait, work: impl Future<Output = T>) -> T {
        let start = Instant::now();
        let out = work.await;
        self.add(on, start.elapsed());
        out
    }

    pub fn waited(&self, on: Wait) -> Duration {
        Duration::from_micros(self.waited_us[on as usize].load(Ordering::Relaxed))
    }

    /// Purser's own share so far: the time since the request arrived, less every wait.
    pub fn own(&self) -> Duration {
        let waited = [Wait::Upstream, Wait::Wallet, Wait::Approval].iter().map(|w| self.waited(*w)).sum();
        self.started.elapsed().saturating_sub(waited)
    }

    /// The `Server-Timing` value, durations in milliseconds.
    pub fn header(&self) -> HeaderValue {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let value = format!(
            "purser;dur={:.3};desc=\"Purser\", upstream;dur={:.3}, wallet;dur={:.3}, approval;dur={:.3}",
            ms(self.own()),
            ms(self.waited(Wait::Upstream)),
            ms(self.waited(Wait::Wallet)),
            ms(self.waited(Wait::Approval)),
        );
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("purser"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_are_left_out_of_purser_s_own_share() {
        let timing = Timing::new();
        timing.wait(Wait::Wallet, tokio::time::sleep(Duration::from_millis(40))).await;
        // Purser's own work, as far as this clock can tell.
        tokio::time::sleep(Duration::from_millis(3)).await;
        timing.wait(Wait::Upstream, tokio::time::sleep(Duration::from_millis(7))).await;
        assert_eq!(timing.waited(Wait::Wallet), Duration::from_millis(40));
        assert_eq!(timing.waited(Wait::Upstream), Duration::from_millis(7));
        assert_eq!(timing.waited(Wait::Approval), Duration::ZERO);
        assert_eq!(timing.own(), Duration::from_millis(3));
        let header = timing.header();
        assert_eq!(
            header.to_str().unwrap(),
            "purser;dur=3.000;desc=\"Purser\", upstream;dur=7.000, wallet;dur=40.000, approval;dur=0.000"
        );
    }
}
