//! Where the CA lives in the data directory, loading it (or creating it on first start), and the trust
//! bundle agents point `SSL_CERT_FILE` and friends at.
//!
//! ```text
//! <data dir>/ca/purser-ca.pem   the CA certificate (public; agents trust it)
//! <data dir>/ca/purser-ca.key   its key (0600)
//! <data dir>/ca/bundle.pem      the system's roots plus the CA certificate
//! ```

use std::path::{Path, PathBuf};

use super::{Authority, Error, Result};

pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("ca")
}

/// The CA certificate, PEM: what `purser ca path` prints.
pub fn cert_path(data_dir: &Path) -> PathBuf {
    dir(data_dir).join("purser-ca.pem")
}

pub fn key_path(data_dir: &Path) -> PathBuf {
    dir(data_dir).join("purser-ca.key")
}

/// The system's roots and Purser's CA in one PEM file.
pub fn bundle_path(data_dir: &Path) -> PathBuf {
    dir(data_dir).join("bundle.pem")
}

/// The CA kept in `data_dir`, created there first if neither of its files exists yet.
pub fn load_or_create(data_dir: &Path) -> Result<Authority> {
    let (cert, key) = (cert_path(data_dir), key_path(data_dir));
    if !cert.exists() && !key.exists() {
        let authority = Authority::generate()?;
        let write = |path: &Path, text: &str, private: bool| {
            crate::private_fs::write_atomic(path, text.as_bytes(), private)
                .map_err(|source| Error::Write { path: path.display().to_string(), source })
        };
        crate::private_fs::create_dir(&dir(data_dir))
            .map_err(|source| Error::Write { path: dir(data_dir).display().to_string(), source })?;
        // The key first: a certificate without its key would stop the next start.
        write(&key, authority.key_pem(), true)?;
        write(&cert, authority.cert_pem(), false)?;
        tracing::info!("made Purser's local CA: {}", cert.display());
        return Ok(authority);
    }
    load(data_dir)
}

/// The CA kept in `data_dir`; an error if it is missing or damaged.
pub fn load(data_dir: &Path) -> Result<Authority> {
    let (cert, key) = (cert_path(data_dir), key_path(data_dir));
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.display().to_string(), source })
    };
    let (cert_pem, key_pem) = (read(&cert)?, read(&key)?);
    Authority::from_pem(&cert_pem, &key_pem).map_err(|unusable| Error::Damaged {
        path: if unusable.key { key.display().to_string() } else { cert.display().to_string() },
        what: if unusable.key { "CA key" } else { "CA certificate" },
        reason: unusable.reason,
        dir: dir(data_dir).display().to_string(),
    })
}

/// Writes the trust bundle (the system's roots, then Purser's CA) unless it already holds exactly that, and
/// returns its path.
pub fn write_bundle(data_dir: &Path, authority: &Authority) -> Result<PathBuf> {
    let path = bundle_path(data_dir);
    let mut text = String::new();
    // Run from an agent's shell, the "system" roots are read from this very bundle (SSL_CERT_FILE): leave
    // Purser's CA out there, so it is in the bundle once.
    for cert in system_roots(authority) {
        text.push_str(&pem::encode(&pem::Pem::new("CERTIFICATE", cert.to_vec())));
    }
    text.push_str(authority.cert_pem());
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        crate::private_fs::write_atomic(&path, text.as_bytes(), false)
            .map_err(|source| Error::Write { path: path.display().to_string(), source })?;
    }
    Ok(path)
}

/// The system's trusted roots, without Purser's own CA.
fn system_roots(authority: &Authority) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    let mut roots = rustls_native_certs::load_native_certs().certs;
    roots.retain(|c| c != authority.cert_der());
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_loaded_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let pem = std::fs::read_to_string(cert_path(dir.path())).unwrap();
        assert_eq!(pem, first.cert_pem());
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(again.cert_pem(), pem, "a second start must load the same CA");
        assert_eq!(std::fs::read_to_string(cert_path(dir.path())).unwrap(), pem);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_path(dir.path())).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the CA key must be readable by the user only");
            let mode = std::fs::metadata(super::dir(dir.path())).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }

    #[test]
    fn a_missing_or_foreign_key_is_an_error_not_a_new_ca() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        let pem = std::fs::read_to_string(cert_path(dir.path())).unwrap();

        std::fs::write(key_path(dir.path()), Authority::generate().unwrap().key_pem()).unwrap();
        let err = load_or_create(dir.path()).err().expect("a key from another CA must be refused");
        assert!(matches!(err, Error::Damaged { what: "CA key", .. }), "{err}");
        assert!(err.to_string().contains("does not belong"), "{err}");

        std::fs::remove_file(key_path(dir.path())).unwrap();
        let err = load_or_create(dir.path()).err().expect("a missing key must be refused");
        assert!(matches!(err, Error::Read { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(cert_path(dir.path())).unwrap(), pem, "the certificate is kept");
        assert!(!key_path(dir.path()).exists(), "no key is made up for the old certificate");
    }

    #[test]
    fn the_bundle_holds_the_system_roots_and_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let ca = load_or_create(dir.path()).unwrap();
        let path = write_bundle(dir.path(), &ca).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with(ca.cert_pem()));
        let system = system_roots(&ca).len();
        assert!(system > 0, "the machine has system roots");
        assert_eq!(text.matches("BEGIN CERTIFICATE").count(), system + 1);
        assert_eq!(text.matches(ca.cert_pem()).count(), 1, "Purser's CA is in the bundle once");
    }
}
