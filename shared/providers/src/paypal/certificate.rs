//! The signing material a PayPal connection verifies with: the certificate
//! PayPal serves at `PAYPAL-CERT-URL` (its leaf's RSA key), or a development
//! key pair's private key; and the checks the official SDK makes on the
//! certificate itself (a `.paypal.com` common name, valid now).

use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePrivateKey;
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::der::asn1::{PrintableStringRef, Utf8StringRef};
use x509_cert::der::referenced::OwnedToRef;

use crate::signing::pem_der;

/// The common name's object identifier, 2.5.4.3.
const COMMON_NAME: x509_cert::der::oid::ObjectIdentifier = x509_cert::der::oid::ObjectIdentifier::new_unwrap("2.5.4.3");

/// A verification key found in a connection's secrets.
pub(super) enum SigningMaterial {
    /// The leaf of a certificate chain PayPal served.
    Certificate(Box<Certificate>),
    /// A development key pair (what `generate_secret` makes): its public half.
    Development(RsaPublicKey),
}

/// The development key pair's private key in `text`.
pub(super) fn development_key(text: &str) -> Option<rsa::RsaPrivateKey> {
    rsa::RsaPrivateKey::from_pkcs8_der(&pem_der(text, "PRIVATE KEY")?).ok()
}

/// Every key in `text`: the first certificate of a chain (its leaf), and a
/// development private key.
pub(super) fn materials(text: &str) -> Vec<SigningMaterial> {
    let mut found = Vec::new();
    if let Some(cert) = pem_der(text, "CERTIFICATE").and_then(|der| Certificate::from_der(&der).ok()) {
        found.push(SigningMaterial::Certificate(Box::new(cert)));
    }
    if let Some(private) = development_key(text) {
        found.push(SigningMaterial::Development(private.to_public_key()));
    }
    found
}

impl SigningMaterial {
    /// The RSA key to check signatures with, if this material may be used
    /// at `now` (Unix seconds): a certificate only while valid and issued to
    /// a `.paypal.com` name, as the official SDK requires.
    pub(super) fn key_at(&self, now: i64) -> Option<RsaPublicKey> {
        match self {
            Self::Development(key) => Some(key.clone()),
            Self::Certificate(cert) => {
                let tbs = &cert.tbs_certificate;
                let secs = |t: &x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).ok();
                let valid = secs(&tbs.validity.not_before)? <= now && now <= secs(&tbs.validity.not_after)?;
                let paypal = common_name(cert).is_some_and(|cn| cn.to_ascii_lowercase().ends_with(".paypal.com"));
                if !(valid && paypal) {
                    return None;
                }
                RsaPublicKey::try_from(tbs.subject_public_key_info.owned_to_ref()).ok()
            }
        }
    }
}

/// The subject's common name.
fn common_name(cert: &Certificate) -> Option<String> {
    let attribute =
        cert.tbs_certificate.subject.0.iter().flat_map(|rdn| rdn.0.iter()).find(|a| a.oid == COMMON_NAME)?;
    let value = &attribute.value;
    value
        .decode_as::<Utf8StringRef<'_>>()
        .map(|s| s.as_str().to_owned())
        .or_else(|_| value.decode_as::<PrintableStringRef<'_>>().map(|s| s.as_str().to_owned()))
        .ok()
}
