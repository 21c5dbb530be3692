//! `Stripe-Signature` verification, parsed and checked the way Stripe's
//! official libraries do it (cross-checked by `fixtures/stripe/vectors`).
//!
//! The header is `t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`. The signed
//! content is `"{t}.{raw body}"`, HMAC-SHA256 keyed with the whole `whsec_…`
//! secret as UTF-8 bytes, lowercase hex. Any `v1` matching any configured
//! secret passes; other schemes are ignored. Like the official libraries, only
//! timestamps older than the tolerance are refused; future ones pass.

use std::time::Duration;

use hmac::{Hmac, Mac};
use portage_core::provider::{VerifyOptions, WebhookRequest};
use portage_core::{RejectReason, Secret};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";
/// The official libraries' default tolerance.
pub(super) const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

struct ParsedHeader<'a> {
    timestamp: i64,
    signatures: Vec<&'a str>,
}

/// Parses the header as the official libraries do: items split on `,`, each
/// item's key and value split on `=`, keys compared exactly, the first `t`
/// wins, and a `t` or `v1` item without a value makes the header unreadable.
fn parse(header: &str) -> Result<ParsedHeader<'_>, RejectReason> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let mut parts = item.split('=');
        let key = parts.next().unwrap_or_default();
        if key != "t" && key != "v1" {
            continue;
        }
        let value = parts.next().ok_or(RejectReason::MalformedSignature)?;
        if key == "v1" {
            signatures.push(value);
        } else if timestamp.is_none() {
            timestamp = Some(parse_timestamp(value).ok_or(RejectReason::MalformedSignature)?);
        }
    }
    let timestamp = timestamp.ok_or(RejectReason::MalformedSignature)?;
    Ok(ParsedHeader { timestamp, signatures })
}

/// Reads `t` as Python's `int()` does in the official library: surrounding
/// white space, a sign, leading zeros and single underscores between digits
/// are allowed. The signed content uses the number, not the header's text.
fn parse_timestamp(value: &str) -> Option<i64> {
    let text = value.trim();
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let well_placed = !digits.starts_with('_') && !digits.ends_with('_') && !digits.contains("__");
    if !well_placed {
        return None;
    }
    text.replace('_', "").parse().ok()
}

fn mac(body: &[u8], secret: &Secret, timestamp: i64) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn expected_hex(body: &[u8], secret: &Secret, timestamp: i64) -> String {
    hex::encode(mac(body, secret, timestamp).finalize().into_bytes())
}

/// Checks a delivery's `Stripe-Signature` against any of the secrets.
pub(super) fn verify(request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
    if secrets.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    let header = request.headers.get(SIGNATURE_HEADER).ok_or(RejectReason::MissingSignature)?;
    let header = header.to_str().map_err(|_| RejectReason::MalformedSignature)?;
    let parsed = parse(header)?;
    if parsed.signatures.is_empty() {
        return Err(RejectReason::NoSupportedSignature);
    }
    let matched = secrets.iter().any(|secret| {
        let expected = expected_hex(&request.body, secret, parsed.timestamp);
        parsed
            .signatures
            .iter()
            .fold(false, |found, given| found | bool::from(expected.as_bytes().ct_eq(given.as_bytes())))
    });
    if !matched {
        return Err(RejectReason::SignatureMismatch);
    }
    let tolerance = i64::try_from(options.tolerance.as_secs()).unwrap_or(i64::MAX);
    if tolerance > 0 && parsed.timestamp < options.now_secs.saturating_sub(tolerance) {
        return Err(RejectReason::TimestampOutsideTolerance);
    }
    Ok(())
}

/// Builds a `Stripe-Signature` value for `body` at `timestamp`, one `v1` per
/// secret, as Stripe does during secret rotation.
pub fn signature_header(body: &[u8], secrets: &[&Secret], timestamp: i64) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&expected_hex(body, secret, timestamp));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;
    use proptest::prelude::*;

    const NOW: i64 = 1_750_000_000;

    fn request(header: Option<&str>, body: &'static [u8]) -> WebhookRequest {
        let mut headers = HeaderMap::new();
        if let Some(h) = header {
            headers.insert("stripe-signature", h.parse().unwrap());
        }
        WebhookRequest {
            method: "POST".into(),
            url: "http://localhost/webhooks/stripe".into(),
            headers,
            body: Bytes::from_static(body),
        }
    }

    fn check(header: Option<&str>, body: &'static [u8], secret: &str, now: i64) -> Result<(), RejectReason> {
        let options = VerifyOptions { tolerance: DEFAULT_TOLERANCE, now_secs: now, legacy_schemes: false };
        verify(&request(header, body), &[Secret::new(secret)], options)
    }

    #[test]
    fn accepts_its_own_signature_and_rejects_tampering() {
        let secret = Secret::new("whsec_test");
        let header = signature_header(b"{}", &[&secret], NOW);
        assert_eq!(check(Some(&header), b"{}", "whsec_test", NOW), Ok(()));
        assert_eq!(check(Some(&header), b"{ }", "whsec_test", NOW), Err(RejectReason::SignatureMismatch));
        assert_eq!(check(Some(&header), b"{}", "whsec_other", NOW), Err(RejectReason::SignatureMismatch));
    }

    #[test]
    fn tolerance_rejects_old_but_not_future_timestamps() {
        let header = signature_header(b"{}", &[&Secret::new("s")], NOW);
        assert_eq!(check(Some(&header), b"{}", "s", NOW + 300), Ok(()));
        assert_eq!(check(Some(&header), b"{}", "s", NOW + 301), Err(RejectReason::TimestampOutsideTolerance));
        assert_eq!(check(Some(&header), b"{}", "s", NOW - 86_400), Ok(()));
    }

    #[test]
    fn header_shapes() {
        assert_eq!(check(None, b"{}", "s", NOW), Err(RejectReason::MissingSignature));
        assert_eq!(check(Some("garbage"), b"{}", "s", NOW), Err(RejectReason::MalformedSignature));
        assert_eq!(check(Some("t=abc,v1=00"), b"{}", "s", NOW), Err(RejectReason::MalformedSignature));
        assert_eq!(check(Some("t=1,v0=00"), b"{}", "s", NOW), Err(RejectReason::NoSupportedSignature));
        assert_eq!(check(Some("t=1,v1"), b"{}", "s", NOW), Err(RejectReason::MalformedSignature));
        assert_eq!(parse_timestamp(" +0_1_2 "), Some(12));
        assert_eq!(parse_timestamp("1__2"), None);
        assert_eq!(parse_timestamp("_12"), None);
        assert_eq!(parse_timestamp("12.0"), None);
    }

    #[test]
    fn any_secret_and_any_v1_may_match() {
        let (old, new) = (Secret::new("old"), Secret::new("new"));
        let header = signature_header(b"x", &[&old, &new], NOW);
        let options = VerifyOptions { tolerance: DEFAULT_TOLERANCE, now_secs: NOW, legacy_schemes: false };
        assert_eq!(verify(&request(Some(&header), b"x"), &[Secret::new("new")], options), Ok(()));
        let only_old = signature_header(b"x", &[&old], NOW);
        assert_eq!(verify(&request(Some(&only_old), b"x"), &[new.clone(), old.clone()], options), Ok(()));
    }

    proptest! {
        #[test]
        fn never_panics(header in ".{0,200}", body in proptest::collection::vec(any::<u8>(), 0..512), now in any::<i64>()) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = http::HeaderValue::from_str(&header) {
                headers.insert("stripe-signature", value);
            }
            let req = WebhookRequest { method: "POST".into(), url: String::new(), headers, body: Bytes::from(body) };
            let _ = verify(&req, &[Secret::new("s")], VerifyOptions { tolerance: DEFAULT_TOLERANCE, now_secs: now, legacy_schemes: false });
        }
    }
}
