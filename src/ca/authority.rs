//! The CA: its certificate and key, and minting leaf certificates for the hosts agents reach.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::Result;

/// The name agents see on the CA in their trust stores.
pub const COMMON_NAME: &str = "Purser local CA";

/// How long a new CA is valid.
const CA_YEARS: i16 = 10;
/// How long a minted leaf is valid: leaves live in memory only and are minted again after a restart.
const LEAF_DAYS: i32 = 90;

/// A loaded or new CA, ready to mint leaves.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key_pem: String,
    /// One key for every leaf of this process: minting a leaf is then only a signature.
    leaf_key: KeyPair,
}

/// A minted leaf: the chain to send (leaf, then the CA) and its key.
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Authority {
    /// A new CA with a fresh key, named [`COMMON_NAME`].
    pub fn generate() -> Result<Self> {
        Self::generate_named(COMMON_NAME)
    }

    /// A new CA with a fresh key and the given common name.
    pub fn generate_named(common_name: &str) -> Result<Self> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, "Purser (this machine only)");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.serial_number = Some(random_serial());
        set_validity(&mut params, jiff::Span::new().years(CA_YEARS));
        let cert = params.self_signed(&key)?;
        let (cert_pem, cert_der) = (cert.pem(), cert.der().clone());
        let key_pem = key.serialize_pem();
        Ok(Authority { issuer: Issuer::new(params, key), cert_pem, cert_der, key_pem, leaf_key: KeyPair::generate()? })
    }

    /// The CA from its PEM certificate and key, after checking that the key signs for that certificate.
    /// Errors name no file; [`super::files`] adds which one.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> std::result::Result<Self, Unusable> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| Unusable::key(e.to_string()))?;
        let cert_der =
            pem::parse(cert_pem).map_err(|e| Unusable::certificate(e.to_string())).and_then(|p| match p.tag() {
                "CERTIFICATE" => Ok(CertificateDer::from(p.into_contents())),
                other => Err(Unusable::certificate(format!("it holds a {other}, not a CERTIFICATE"))),
            })?;
        let issuer = Issuer::from_ca_cert_der(&cert_der, key).map_err(|e| Unusable::certificate(e.to_string()))?;
        let authority = Authority {
            issuer,
            cert_pem: cert_pem.to_string(),
            cert_der,
            key_pem: key_pem.to_string(),
            leaf_key: KeyPair::generate().map_err(|e| Unusable::key(e.to_string()))?,
        };
        authority.check_signs()?;
        Ok(authority)
    }

    /// Mints a leaf for `host` (a DNS name or an IP address) and proves it chains to this CA's certificate,
    /// so a key that does not belong to the certificate is caught at load time, not by an agent.
    fn check_signs(&self) -> std::result::Result<(), Unusable> {
        crate::install_crypto_provider();
        let leaf = self.leaf("purser.invalid").map_err(|e| Unusable::key(e.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert_der.clone()).map_err(|e| Unusable::key(e.to_string()))?;
        let verifier = rustls::client::WebPkiServerVerifier::builder(roots.into())
            .build()
            .map_err(|e| Unusable::key(e.to_string()))?;
        let name =
            rustls::pki_types::ServerName::try_from("purser.invalid").map_err(|e| Unusable::key(e.to_string()))?;
        verifier
            .verify_server_cert(&leaf.chain[0], &[], &name, &[], rustls::pki_types::UnixTime::now())
            .map(|_| ())
            .map_err(|e| Unusable::key(format!("it does not belong to the CA certificate ({e})")))
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// A leaf certificate for `host` (a DNS name or an IP address), signed by this CA, valid for server
    /// authentication.
    pub fn leaf(&self, host: &str) -> Result<Leaf> {
        self.leaf_for(&[host])
    }

    /// A leaf certificate valid for every name in `names`; the first is its common name.
    pub fn leaf_for(&self, names: &[&str]) -> Result<Leaf> {
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or_default());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        set_validity(&mut params, jiff::Span::new().days(LEAF_DAYS));
        let cert = params.signed_by(&self.leaf_key, &self.issuer)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        Ok(Leaf { chain: vec![cert.der().clone(), self.cert_der.clone()], key })
    }
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // a positive integer
    SerialNumber::from_slice(&bytes)
}

/// Valid from yesterday (clocks differ a little) for `span` from today, whole UTC days.
fn set_validity(params: &mut CertificateParams, span: jiff::Span) {
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let ymd = |d: jiff::civil::Date| rcgen::date_time_ymd(d.year().into(), d.month() as u8, d.day() as u8);
    params.not_before = ymd(today.yesterday().unwrap_or(today));
    params.not_after = ymd(today.saturating_add(span));
}

/// Why a stored CA cannot be used: which of its two files, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {} is not usable: {reason}", if *.key { "CA key" } else { "CA certificate" })]
pub struct Unusable {
    /// The key file (`true`) or the certificate file.
    pub key: bool,
    pub reason: String,
}

impl Unusable {
    fn key(reason: String) -> Self {
        Unusable { key: true, reason }
    }

    fn certificate(reason: String) -> Self {
        Unusable { key: false, reason }
    }
}
