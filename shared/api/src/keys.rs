//! Making and checking API keys. A key is `ptg_` and 43 base64url
//! characters (256 random bits); only its SHA-256 is stored, and a presented
//! key is found by that hash, so no stored value is ever compared with it.

use base64::Engine;
use portage_core::Secret;
use portage_core::api_keys::{ApiKeyRecord, Scope};
use sha2::{Digest, Sha256};

/// What every key starts with, so a leaked one is recognisable (secret scanners).
pub const KEY_PREFIX: &str = "ptg_";

/// How many characters of a key a listing shows.
const SHOWN_PREFIX_LEN: usize = 12;

/// The longest key name.
const MAX_NAME_LEN: usize = 64;

/// Hex SHA-256 of a key: what the store knows it by.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether `name` may name a key: 1 to 64 letters, digits, `_`, `-` or `.`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A new random key and the record to store for it. The key itself is
/// returned once, to be shown once.
pub fn issue(name: &str, scopes: &[Scope], now_ms: i64) -> (Secret, ApiKeyRecord) {
    let random: [u8; 32] = rand::random();
    let key = format!("{KEY_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random));
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let record = ApiKeyRecord {
        name: name.to_owned(),
        prefix: key[..SHOWN_PREFIX_LEN].to_owned(),
        hash: hash_key(&key),
        scopes,
        created_at_ms: now_ms,
        last_used_at_ms: None,
    };
    (Secret::new(key), record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_stored_only_as_a_hash() {
        let (a, record) = issue("ci", &[Scope::StateRead, Scope::StateRead], 1);
        let (b, _) = issue("ci", &[Scope::StateRead], 1);
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with(KEY_PREFIX));
        assert_eq!(a.expose().len(), KEY_PREFIX.len() + 43, "256 bits in base64url");
        assert_eq!(record.hash, hash_key(a.expose()));
        assert!(!record.hash.contains(&a.expose()[KEY_PREFIX.len()..]));
        assert!(a.expose().starts_with(&record.prefix));
        assert_eq!(record.scopes, [Scope::StateRead], "scopes are deduplicated");
    }

    #[test]
    fn names_are_checked() {
        assert!(is_valid_name("ci-deploy.2"));
        for bad in ["", "a b", "a/b", "ключ", &"x".repeat(65)] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }
}
