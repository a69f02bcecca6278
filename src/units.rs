//! Amounts with their unit in the type, and the protocol values a payment is proved with.

use std::fmt;

use sha2::{Digest, Sha256};

/// Millisatoshis: the unit invoices, NIP-47 and the ledger use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Msats(pub u64);

impl Msats {
    pub fn from_sats(sats: u64) -> Self {
        Msats(sats.saturating_mul(1000))
    }

    /// Whole sats, rounded up: what a person reads next to a limit.
    pub fn sats_ceil(self) -> u64 {
        self.0.div_ceil(1000)
    }
}

/// "4,963": a whole number with a comma between thousands, as the UI writes it.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "1 sat", "21 sats", "4,963.964 sats": thousands grouped, millisats kept.
impl fmt::Display for Msats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0 / 1000, self.0 % 1000) {
            (1, 0) => f.write_str("1 sat"),
            (sats, 0) => write!(f, "{} sats", grouped(sats)),
            (sats, msat) => write!(f, "{}.{msat:03} sats", grouped(sats)),
        }
    }
}

/// The SHA-256 hash an invoice commits to; lowercase hex on the wire and in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PaymentHash(pub [u8; 32]);

impl PaymentHash {
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = hex::decode(s.trim()).ok()?;
        Some(PaymentHash(bytes.try_into().ok()?))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for PaymentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The secret whose hash is the payment hash: the proof of payment. Never logged; `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct Preimage(pub [u8; 32]);

impl Preimage {
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = hex::decode(s.trim()).ok()?;
        Some(Preimage(bytes.try_into().ok()?))
    }

    /// Lowercase hex: one known server accepts nothing else.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn payment_hash(&self) -> PaymentHash {
        PaymentHash(Sha256::digest(self.0).into())
    }

    pub fn matches(&self, hash: &PaymentHash) -> bool {
        self.payment_hash() == *hash
    }
}

impl fmt::Debug for Preimage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Preimage(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msats_display_and_rounding() {
        assert_eq!(Msats(21_000).to_string(), "21 sats");
        assert_eq!(Msats(1_500).to_string(), "1.500 sats");
        assert_eq!(Msats(1_000).to_string(), "1 sat");
        assert_eq!(Msats(4_963_964_000).to_string(), "4,963,964 sats");
        assert_eq!(Msats(4_963_964).to_string(), "4,963.964 sats");
        assert_eq!(Msats(999_000).to_string(), "999 sats");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(0), "0");
        assert_eq!(Msats(1_001).sats_ceil(), 2);
        assert_eq!(Msats::from_sats(3), Msats(3_000));
    }

    #[test]
    fn preimage_hashes_to_payment_hash_and_is_redacted() {
        // The NIP-47 exchange vector: this preimage pays that hash.
        let pre = Preimage::from_hex("da83a683def23ae2fb835d4c66eea7e6fc5422b81438f5dd9894f62cb5739468").unwrap();
        let hash = PaymentHash::from_hex("4ec96ac09250dbb7386cfd92bfd94510aee4f54db10a24ccdbce2fa7c105b322").unwrap();
        assert!(pre.matches(&hash));
        assert!(!format!("{pre:?}").contains("da83"));
        assert!(PaymentHash::from_hex("abcd").is_none());
    }
}
