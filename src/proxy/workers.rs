//! The threads that serve agents. Each runs a single-threaded runtime that owns the agent connections handed
//! to it and the upstream connections their requests open (each thread has its own upstream pool), so a
//! request and its answer never hop between threads: no cross-thread wake-ups on the pass-through path.
//! Accepting stays on the caller's runtime, which hands the connections to the threads in turn.
//! Work that outlives a request (asking the wallet, recovery) runs on the caller's runtime too.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

thread_local! {
    static INDEX: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The serving thread this code runs on, if it is one.
pub fn current() -> Option<usize> {
    INDEX.with(Cell::get)
}

/// How many serving threads a proxy starts: one per core, at least one.
pub fn count() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 16)
}

/// The running serving threads of one proxy.
pub struct Workers {
    streams: Vec<mpsc::UnboundedSender<std::net::TcpStream>>,
    /// Which thread the next connection goes to. In turn rather than by load: a tunnel or upgrade outlives
    /// the HTTP connection that opened it, so a count of open connections would miss them.
    next: AtomicUsize,
}

impl Workers {
    /// Starts `n` threads; each serves a connection it is handed with `serve`, until the connection ends.
    /// After [`Workers::stop`], a thread ends once its last connection has.
    pub fn start<F, Fut>(n: usize, serve: F) -> std::io::Result<Workers>
    where
        F: Fn(std::net::TcpStream) -> Fut + Send + Sync + Clone + 'static,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        let mut streams = Vec::with_capacity(n);
        for index in 0..n {
            let (tx, mut rx) = mpsc::unbounded_channel::<std::net::TcpStream>();
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let serve = serve.clone();
            std::thread::Builder::new().name(format!("purser-serve-{index}")).spawn(move || {
                INDEX.with(|i| i.set(Some(index)));
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, async move {
                    let mut connections = tokio::task::JoinSet::new();
                    while let Some(stream) = rx.recv().await {
                        while connections.try_join_next().is_some() {}
                        connections.spawn_local(serve(stream));
                    }
                    // Stopped: connections already open finish on their own.
                    while connections.join_next().await.is_some() {}
                });
            })?;
            streams.push(tx);
        }
        Ok(Workers { streams, next: AtomicUsize::new(0) })
    }

    /// Hands an accepted connection to the next thread.
    pub fn hand(&self, stream: std::net::TcpStream) {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.streams.len().max(1);
        if let Some(thread) = self.streams.get(index) {
            let _ = thread.send(stream);
        }
    }

    /// Takes no more connections; each thread ends when its open connections have.
    pub fn stop(self) {
        drop(self.streams);
    }
}
