//! The payment hash an L402 token names, when it names one: a macaroon whose identifier has the layout
//! Aperture and lsat-js write (a big-endian `u16` version 0, the 32-byte payment hash, a 32-byte token id;
//! as raw bytes, or as their hex). A token minted for another invoice's hash cannot be made valid by paying
//! this one, so such a challenge is refused unpaid.

use crate::units::PaymentHash;

/// Bytes in a version-0 identifier.
const ID_LEN: usize = 2 + 32 + 32;

/// The payment hash `token` (base64 macaroon) carries in its identifier, if it has that layout.
pub fn payment_hash(token: &str) -> Option<PaymentHash> {
    let mac = macaroon::Macaroon::deserialize(token.trim()).ok()?;
    let raw = mac.identifier().0;
    let id = if raw.len() == ID_LEN {
        raw
    } else if raw.len() == 2 * ID_LEN {
        hex::decode(&raw).ok()?
    } else {
        return None;
    };
    if id[..2] != [0, 0] {
        return None;
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&id[2..34]);
    Some(PaymentHash(hash))
}

#[cfg(test)]
mod tests {
    use macaroon::{ByteString, Format, Macaroon, MacaroonKey};

    use super::*;

    fn token(id: Vec<u8>) -> String {
        let key = MacaroonKey::generate(b"root");
        Macaroon::create(Some("test".into()), &key, ByteString::from(id)).unwrap().serialize(Format::V2).unwrap()
    }

    fn identifier(version: u8, hash: [u8; 32]) -> Vec<u8> {
        let mut id = vec![0, version];
        id.extend_from_slice(&hash);
        id.extend_from_slice(&[7; 32]);
        id
    }

    #[test]
    fn the_hash_is_read_from_raw_and_hex_identifiers() {
        assert_eq!(payment_hash(&token(identifier(0, [5; 32]))), Some(PaymentHash([5; 32])));
        let hex_id = hex::encode(identifier(0, [6; 32])).into_bytes();
        assert_eq!(payment_hash(&token(hex_id)), Some(PaymentHash([6; 32])));
    }

    #[test]
    fn other_layouts_name_no_hash() {
        assert_eq!(payment_hash(&token(identifier(1, [5; 32]))), None, "an unknown version");
        assert_eq!(payment_hash(&token(b"some opaque id".to_vec())), None);
        assert_eq!(payment_hash("not a macaroon"), None);
        assert_eq!(payment_hash("AgE"), None);
    }
}
