//! The signing material a PayPal connection verifies with: the certificate
//! PayPal serves at `PAYPAL-CERT-URL` (its leaf's RSA key), or a development
//! key pair's private key; and the checks the official SDK makes on the
//! certificate itself (a `.paypal.com` common name, valid now).

use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePrivateKey;
use x509_cert::Certificate;
use x509_cert::der::asn1::{PrintableStringRef, Utf8StringRef};
use x509_cert::der::referenced::OwnedToRef;

/// The common name's object identifier, 2.5.4.3.
const COMMON_NAME: x509_cert::der::oid::ObjectIdentifier = x509_cert::der::oid::ObjectIdentifier::new_unwrap("2.5.4.3");

/// A verification key found in a connection's secrets.
pub enum SigningMaterial {
    /// The leaf of a certificate chain PayPal served.
    Certificate(Box<Certificate>),
    /// A development key pair (what `generate_secret` makes): its public half.
    Development(RsaPublicKey),
}

/// The PEM blocks of one type (`CERTIFICATE`, `PRIVATE KEY`) in `text`.
pub fn pem_blocks<'a>(text: &'a str, label: &str) -> Vec<&'a str> {
    let (begin, end) = (format!("-----BEGIN {label}-----"), format!("-----END {label}-----"));
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let Some(len) = rest[start..].find(&end) else { break };
        blocks.push(&rest[start..start + len + end.len()]);
        rest = &rest[start + len + end.len()..];
    }
    blocks
}

/// The text of a secret outside its PEM blocks: a webhook id, or nothing.
pub fn plain_text(text: &str) -> Option<&str> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    (!first.starts_with("-----")).then_some(first)
}

/// Every key in `text`: the first certificate of each chain, and
/// development private keys.
pub fn materials(text: &str) -> Vec<SigningMaterial> {
    let mut found = Vec::new();
    if let Some(leaf) = pem_blocks(text, "CERTIFICATE").first()
        && let Ok(cert) = <Certificate as x509_cert::der::DecodePem>::from_pem(leaf.as_bytes())
    {
        found.push(SigningMaterial::Certificate(Box::new(cert)));
    }
    for key in pem_blocks(text, "PRIVATE KEY") {
        if let Ok(private) = rsa::RsaPrivateKey::from_pkcs8_pem(key) {
            found.push(SigningMaterial::Development(private.to_public_key()));
        }
    }
    found
}

impl SigningMaterial {
    /// The RSA key to check signatures with, if this material may be used
    /// at `now` (Unix seconds): a certificate only while valid and issued to
    /// a `.paypal.com` name, as the official SDK requires.
    pub fn key_at(&self, now: i64) -> Option<RsaPublicKey> {
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
    let attribute = cert.tbs_certificate.subject.0.iter().flat_map(|rdn| rdn.0.iter()).find(|a| a.oid == COMMON_NAME)?;
    let value = &attribute.value;
    value
        .decode_as::<Utf8StringRef<'_>>()
        .map(|s| s.as_str().to_owned())
        .or_else(|_| value.decode_as::<PrintableStringRef<'_>>().map(|s| s.as_str().to_owned()))
        .ok()
}
