//! Settings with their defaults, and the data directory. Every limit here is what a first run uses; each
//! can be changed with a flag of `purser serve` / `purser sandbox`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::units::Msats;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8402";

/// The limits and knobs of one running proxy.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// The most one request may pay (the first policy's per-request cap).
    pub max_per_request: Msats,
    /// The most one agent may spend in all (settled + pending + fee reserve), across restarts.
    pub max_per_agent: Msats,
    /// Request bodies up to this size are kept so the request can be replayed after paying.
    pub body_buffer_limit_bytes: usize,
    /// The most of a 402 response body read to find a challenge.
    pub challenge_body_limit_bytes: usize,
    /// An invoice expiring sooner than this is refused.
    pub invoice_expiry_margin: Duration,
    /// How long to wait for an upstream's response headers.
    pub upstream_timeout: Duration,
    /// An extra PEM CA bundle trusted for HTTPS upstreams, besides the system roots.
    pub extra_ca_file: Option<PathBuf>,
}

impl Settings {
    pub fn new(data_dir: PathBuf) -> Self {
        Settings {
            data_dir,
            max_per_request: Msats::from_sats(100),
            max_per_agent: Msats::from_sats(5_000),
            body_buffer_limit_bytes: 8 * 1024 * 1024,
            challenge_body_limit_bytes: 1024 * 1024,
            invoice_expiry_margin: Duration::from_secs(30),
            upstream_timeout: Duration::from_secs(60),
            extra_ca_file: None,
        }
    }

    pub fn ledger_path(&self) -> PathBuf {
        self.data_dir.join("purser.sqlite")
    }
}

/// What the fee of a payment may be at most while it is pending: 1 % of the amount, at least 1 sat.
pub fn fee_reserve(amount: Msats) -> Msats {
    Msats((amount.0 / 100).max(1_000))
}

/// `$PURSER_DATA_DIR`, else `$XDG_DATA_HOME/purser`, else `~/.local/share/purser`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PURSER_DATA_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("purser");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/purser")
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("`{0}` is not an address:port")]
    Unparsable(String),
    #[error(
        "Purser listens on loopback only, and {0} is not a loopback address: use 127.0.0.1 or [::1]"
    )]
    NotLoopback(SocketAddr),
}

/// Parses a listen address and refuses anything that is not loopback.
pub fn loopback_addr(s: &str) -> Result<SocketAddr, ListenError> {
    let addr: SocketAddr = s
        .parse()
        .map_err(|_| ListenError::Unparsable(s.to_string()))?;
    if !addr.ip().is_loopback() {
        return Err(ListenError::NotLoopback(addr));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_accepted() {
        assert!(loopback_addr("127.0.0.1:8402").is_ok());
        assert!(loopback_addr("[::1]:0").is_ok());
        assert!(matches!(
            loopback_addr("0.0.0.0:8402"),
            Err(ListenError::NotLoopback(_))
        ));
        assert!(matches!(
            loopback_addr("192.168.1.2:80"),
            Err(ListenError::NotLoopback(_))
        ));
        assert!(matches!(
            loopback_addr("localhost"),
            Err(ListenError::Unparsable(_))
        ));
    }

    #[test]
    fn fee_reserve_is_one_percent_with_a_floor() {
        assert_eq!(fee_reserve(Msats::from_sats(21)), Msats(1_000));
        assert_eq!(fee_reserve(Msats::from_sats(250_000)), Msats(2_500_000));
    }
}
