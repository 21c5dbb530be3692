//! What the webhook verifiers share: HMACs over several parts, constant-time
//! comparison, header reads that map to reason codes, timestamp windows, and
//! the event id of last resort.

use hmac::{Hmac, Mac};
use portage_core::RejectReason;
use portage_core::provider::WebhookRequest;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// HMAC-SHA256 of the parts, in order, as one message.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA1 of the parts, in order, as one message (Twilio's classic scheme).
pub(crate) fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// SHA-256 of the bytes, lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Compares in time that depends only on the lengths.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

/// A header that must be present: `missing_signature` when absent,
/// `malformed_signature` when not visible ASCII.
pub(crate) fn required_header<'a>(request: &'a WebhookRequest, name: &str) -> Result<&'a str, RejectReason> {
    let value = request.headers.get(name).ok_or(RejectReason::MissingSignature)?;
    value.to_str().map_err(|_| RejectReason::MalformedSignature)
}

/// A header that may be absent; `None` also when it is not visible ASCII.
pub(crate) fn optional_header<'a>(request: &'a WebhookRequest, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Refuses a signed timestamp (Unix seconds) more than `tolerance` seconds
/// in the past, and, when `future_too`, in the future. A zero tolerance
/// disables the check.
pub(crate) fn check_window(timestamp: i64, now: i64, tolerance: i64, future_too: bool) -> Result<(), RejectReason> {
    let too_old = timestamp < now.saturating_sub(tolerance);
    let too_new = future_too && timestamp > now.saturating_add(tolerance);
    if tolerance > 0 && (too_old || too_new) {
        return Err(RejectReason::TimestampOutsideTolerance);
    }
    Ok(())
}

/// The DER inside the first PEM block labelled `label` (`PUBLIC KEY`,
/// `PRIVATE KEY`, `CERTIFICATE`), line breaks or not: keys are pasted into
/// configuration in every shape.
pub(crate) fn pem_der(text: &str, label: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let (begin, end) = (format!("-----BEGIN {label}-----"), format!("-----END {label}-----"));
    let start = text.find(&begin)? + begin.len();
    let len = text[start..].find(&end)?;
    let body: String = text[start..start + len].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// A secret's first non-empty line when it is not a PEM block: the plain
/// value (a webhook id, a verification token) stored beside or instead of a
/// key.
pub(crate) fn first_plain_line(text: &str) -> Option<&str> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    (!first.starts_with("-----")).then_some(first)
}

/// The event id where a provider gives none: SHA-256 of the raw body, so an
/// exact redelivery is recognised as a duplicate.
pub(crate) fn body_id(body: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(body))
}

/// A delivery with these headers and body, for the providers' unit tests.
#[cfg(test)]
pub(crate) fn test_request(pairs: &[(&str, &str)], body: &'static [u8]) -> WebhookRequest {
    let mut headers = http::HeaderMap::new();
    for (name, value) in pairs {
        let name = http::HeaderName::from_bytes(name.as_bytes()).expect("test header name");
        headers.insert(name, value.parse().expect("test header value"));
    }
    WebhookRequest { method: "POST".into(), url: String::new(), headers, body: bytes::Bytes::from_static(body) }
}

/// A random alphanumeric secret, for development connections.
pub(crate) fn random_secret(len: usize) -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let mac = hmac_sha1(b"Jefe", &[b"what do ya want for nothing?"]);
        assert_eq!(hex::encode(mac), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }

    #[test]
    fn windows() {
        assert!(check_window(1000, 1300, 300, true).is_ok());
        assert!(check_window(999, 1300, 300, true).is_err());
        assert!(check_window(1700, 1300, 300, false).is_ok(), "future allowed");
        assert!(check_window(1601, 1300, 300, true).is_err(), "future refused");
        assert!(check_window(0, 1300, 0, true).is_ok(), "disabled");
    }
}
