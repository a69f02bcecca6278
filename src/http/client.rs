//! The client Purser uses to reach APIs: HTTP/1.1 and HTTP/2, TLS verified against the system roots plus an
//! optional extra CA file. It never follows redirects and never uses a proxy itself.

use std::path::Path;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

use super::body::ProxyBody;

pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the extra CA file {path}: {reason}")]
    ExtraCa { path: String, reason: String },
    #[error("no trusted root certificates: neither the system store nor an extra CA file gave any")]
    NoRoots,
}

/// The system roots, plus every certificate in `extra_ca` (PEM) and `extra_roots`.
pub fn roots(extra_ca: Option<&Path>, extra_roots: &[CertificateDer<'static>]) -> Result<RootCertStore, Error> {
    let mut store = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    store.add_parsable_certificates(native.certs);
    store.add_parsable_certificates(extra_roots.iter().cloned());
    if let Some(path) = extra_ca {
        let err = |reason: String| Error::ExtraCa { path: path.display().to_string(), reason };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| err(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?;
        if certs.is_empty() {
            return Err(err("it holds no PEM certificate".into()));
        }
        for cert in certs {
            store.add(cert).map_err(|e| err(e.to_string()))?;
        }
    }
    if store.is_empty() {
        return Err(Error::NoRoots);
    }
    Ok(store)
}

/// How Purser checks upstreams' certificates: against [`roots`].
pub fn tls_config(extra_ca: Option<&Path>, extra_roots: &[CertificateDer<'static>]) -> Result<ClientConfig, Error> {
    crate::install_crypto_provider();
    Ok(ClientConfig::builder().with_root_certificates(roots(extra_ca, extra_roots)?).with_no_client_auth())
}

/// The pooled client for ordinary requests; it offers HTTP/2 and HTTP/1.1 to upstreams.
pub fn client(tls: ClientConfig) -> UpstreamClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(std::time::Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new()).build(https)
}

/// An error with its causes: "client error (Connect): tcp connect error: Connection refused".
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
