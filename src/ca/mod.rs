//! Purser's local certificate authority, so it can see inside the HTTPS an agent sends through `CONNECT`.
//!
//! The authority is made once, on first start, and kept in the data directory: the certificate is public
//! (agents trust it), the key is readable by the user only. It is never made anew silently: a damaged or
//! mismatched pair stops Purser with a message saying which file to look at.
//!
//! - [`authority`]: the CA itself, and minting a leaf certificate for one host.
//! - [`files`]: where the CA lives on disk, loading or creating it, and the trust bundle agents use.
//! - [`leaves`]: the bounded cache of per-host TLS server configurations built from minted leaves.

pub mod authority;
pub mod files;
pub mod leaves;

pub use authority::Authority;
pub use leaves::Leaves;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error(
        "{path} is not a usable {what}: {reason}. Purser does not replace its CA silently, because agents \
         trust the old one; restore the file, or delete both files in {dir} to make a new CA (and trust it again)"
    )]
    Damaged { path: String, what: &'static str, reason: String, dir: String },
    #[error("cannot make a certificate: {0}")]
    Mint(#[from] rcgen::Error),
    #[error("cannot use the certificate for {host}: {reason}")]
    Tls { host: String, reason: String },
}

pub type Result<T> = std::result::Result<T, Error>;
