//! The keys an eBay connection verifies with, in the forms they come in:
//! getPublicKey's answer (`{"key": "-----BEGIN PUBLIC KEY-----…", "digest":
//! "SHA1", …}`, the PEM without line breaks), the PEM alone, or a
//! development key pair's private key.

use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, LineEnding};
use serde_json::Value;
use sha2::Digest as _;

use crate::signing::pem_der;

/// The digest a key signs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Digest {
    /// SHA-1, what eBay's keys say today.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl Digest {
    /// The digest of `bytes`.
    pub(super) fn hash(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(bytes).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(bytes).to_vec(),
        }
    }
}

/// The development key pair's private key in `text`.
pub(super) fn development_key(text: &str) -> Option<SigningKey> {
    SigningKey::from_pkcs8_der(&pem_der(text, "PRIVATE KEY")?).ok()
}

/// The key in one secret, with the digest getPublicKey's answer names.
fn verifying_key(text: &str) -> Option<(VerifyingKey, Option<Digest>)> {
    if let Ok(Value::Object(served)) = serde_json::from_str::<Value>(text) {
        let digest = match served.get("digest").and_then(Value::as_str).map(str::to_ascii_uppercase).as_deref() {
            Some("SHA1") => Some(Digest::Sha1),
            Some("SHA256") => Some(Digest::Sha256),
            _ => None,
        };
        let key = served.get("key").and_then(Value::as_str)?;
        return Some((VerifyingKey::from_public_key_der(&pem_der(key, "PUBLIC KEY")?).ok()?, digest));
    }
    if let Some(der) = pem_der(text, "PUBLIC KEY") {
        return Some((VerifyingKey::from_public_key_der(&der).ok()?, None));
    }
    development_key(text).map(|k| (*k.verifying_key(), None))
}

/// Every key among the secrets.
pub(super) fn verifying_keys(secrets: &[portage_core::Secret]) -> Vec<(VerifyingKey, Option<Digest>)> {
    secrets.iter().filter_map(|s| verifying_key(s.expose())).collect()
}

/// The verification token in a secret: its first line, unless the secret
/// is a key.
pub(super) fn plain_text(text: &str) -> Option<&str> {
    crate::signing::first_plain_line(text).filter(|first| !first.starts_with('{'))
}

/// A new development key pair, as its PKCS#8 PEM private key.
pub(super) fn generate_development_pem() -> String {
    let key = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    key.to_pkcs8_pem(LineEnding::LF).map(|pem| pem.to_string()).unwrap_or_default()
}
