//! HubSpot request signatures, as the official `hubspot-api-client`
//! (`hubspot.utils.signature.Signature`) checks them
//! (cross-checked by `fixtures/hubspot/vectors`).
//!
//! - v3: `X-HubSpot-Signature-v3` = base64 HMAC-SHA256, keyed with the app's
//!   client secret, of `{METHOD}{URI}{raw body}{timestamp}`, where the
//!   timestamp is `X-HubSpot-Request-Timestamp` (Unix milliseconds, signed as
//!   sent) and the URI is the full public URL with HubSpot's listed
//!   percent-encodings decoded. Refused when the timestamp is 300 s old or
//!   more; a future one passes, as in the library.
//! - v1 / v2 (`X-HubSpot-Signature`, `X-HubSpot-Signature-Version`): lowercase
//!   hex SHA-256 (not an HMAC) of `{secret}{body}` or
//!   `{secret}{METHOD}{URI}{body}`. They sign no timestamp, so they are
//!   accepted only when the connection opts in (`legacy_schemes`).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portage_core::provider::{VerifyOptions, WebhookRequest};
use portage_core::{RejectReason, Secret};
use sha2::{Digest, Sha256};

use crate::signing::{ct_eq, hmac_sha256, optional_header, required_header};

/// The library's window, past only.
pub(crate) const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
pub(super) const V3_HEADER: &str = "X-HubSpot-Signature-v3";
pub(super) const TIMESTAMP_HEADER: &str = "X-HubSpot-Request-Timestamp";
pub(super) const LEGACY_HEADER: &str = "X-HubSpot-Signature";
pub(super) const VERSION_HEADER: &str = "X-HubSpot-Signature-Version";

/// The URI as HubSpot signs it: these percent-encodings decoded (HubSpot's
/// v3 documentation lists exactly these).
pub(crate) fn signed_uri(url: &str) -> String {
    const DECODED: [(&str, &str); 12] = [
        ("%3A", ":"),
        ("%2F", "/"),
        ("%3F", "?"),
        ("%40", "@"),
        ("%21", "!"),
        ("%24", "$"),
        ("%27", "'"),
        ("%28", "("),
        ("%29", ")"),
        ("%2A", "*"),
        ("%2C", ","),
        ("%3B", ";"),
    ];
    let mut uri = url.to_owned();
    for (encoded, plain) in DECODED {
        uri = uri.replace(encoded, plain).replace(&encoded.to_ascii_lowercase(), plain);
    }
    uri
}

/// The v3 value for a request.
pub(crate) fn v3(method: &str, uri: &str, body: &[u8], timestamp: &str, secret: &Secret) -> String {
    let mac = hmac_sha256(secret.expose().as_bytes(), &[method.as_bytes(), uri.as_bytes(), body, timestamp.as_bytes()]);
    STANDARD.encode(mac)
}

/// The v1 (`v2 == false`) or v2 value for a request.
pub(crate) fn legacy(method: &str, uri: &str, body: &[u8], secret: &Secret, v2: bool) -> String {
    let mut hash = Sha256::new();
    hash.update(secret.expose().as_bytes());
    if v2 {
        hash.update(method.as_bytes());
        hash.update(uri.as_bytes());
    }
    hash.update(body);
    hex::encode(hash.finalize())
}

/// Reads the millisecond timestamp as the library does (`float(…) // 1000`).
fn timestamp_secs(text: &str) -> Option<i64> {
    let ms: f64 = text.trim().parse().ok()?;
    let secs = (ms / 1000.0).floor();
    (secs.is_finite() && secs.abs() < 1e15).then_some(secs as i64)
}

/// Checks a request against any of the secrets.
pub(crate) fn verify(request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
    if secrets.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    if std::str::from_utf8(&request.body).is_err() {
        return Err(RejectReason::MalformedPayload);
    }
    let uri = signed_uri(&request.url);
    let any = |expected: &dyn Fn(&Secret) -> String, given: &str| {
        secrets.iter().fold(false, |found, s| found | ct_eq(expected(s).as_bytes(), given.as_bytes()))
    };
    if let Some(given) = optional_header(request, V3_HEADER) {
        let timestamp = required_header(request, TIMESTAMP_HEADER)?;
        let secs = timestamp_secs(timestamp).ok_or(RejectReason::MalformedSignature)?;
        let tolerance = i64::try_from(options.tolerance.as_secs()).unwrap_or(i64::MAX);
        if tolerance > 0 && options.now_secs.saturating_sub(secs) >= tolerance {
            return Err(RejectReason::TimestampOutsideTolerance);
        }
        let expected = |s: &Secret| v3(&request.method, &uri, &request.body, timestamp, s);
        return if any(&expected, given) { Ok(()) } else { Err(RejectReason::SignatureMismatch) };
    }
    let given = required_header(request, LEGACY_HEADER)?;
    let v2 = match optional_header(request, VERSION_HEADER).unwrap_or("v1") {
        "v1" => false,
        "v2" => true,
        _ => return Err(RejectReason::NoSupportedSignature),
    };
    if !options.legacy_schemes {
        return Err(RejectReason::NoSupportedSignature);
    }
    let expected = |s: &Secret| legacy(&request.method, &uri, &request.body, s, v2);
    if any(&expected, given) { Ok(()) } else { Err(RejectReason::SignatureMismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;
    use proptest::prelude::*;

    fn request(pairs: &[(&str, &str)], method: &str, url: &str, body: &'static [u8]) -> WebhookRequest {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        WebhookRequest { method: method.into(), url: url.into(), headers, body: Bytes::from_static(body) }
    }

    fn options(legacy: bool) -> VerifyOptions {
        VerifyOptions { tolerance: DEFAULT_TOLERANCE, now_secs: 1_795_689_600, legacy_schemes: legacy }
    }

    #[test]
    fn hubspots_documented_legacy_examples() {
        // HubSpot's "Validating requests" page: v1 and v2 examples.
        let secret = [Secret::new("yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy")];
        let body: &'static [u8] = br#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;
        let v1 = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de";
        assert_eq!(legacy("POST", "", body, &secret[0], false), v1);
        let req = request(&[(LEGACY_HEADER, v1)], "POST", "https://www.example.com/webhook_uri", body);
        assert_eq!(verify(&req, &secret, options(true)), Ok(()));
        assert_eq!(verify(&req, &secret, options(false)), Err(RejectReason::NoSupportedSignature), "opt-in only");
        let v2 = legacy("POST", "https://www.example.com/webhook_uri", body, &secret[0], true);
        let req = request(
            &[(LEGACY_HEADER, &v2), (VERSION_HEADER, "v2")],
            "POST",
            "https://www.example.com/webhook_uri",
            body,
        );
        assert_eq!(verify(&req, &secret, options(true)), Ok(()));
    }

    #[test]
    fn v3_window_and_uri_decoding() {
        let secret = Secret::new("client-secret");
        let url = "https://hooks.example.com/webhooks/hubspot?a=%3Ab%2Cc";
        let ts = "1795689500000";
        let sig = v3("POST", "https://hooks.example.com/webhooks/hubspot?a=:b,c", b"[]", ts, &secret);
        let ok = request(&[(V3_HEADER, &sig), (TIMESTAMP_HEADER, ts)], "POST", url, b"[]");
        assert_eq!(verify(&ok, std::slice::from_ref(&secret), options(false)), Ok(()));
        let old = VerifyOptions { now_secs: 1_795_689_800, ..options(false) };
        assert_eq!(verify(&ok, std::slice::from_ref(&secret), old), Err(RejectReason::TimestampOutsideTolerance));
        let future = VerifyOptions { now_secs: 1_000_000_000, ..options(false) };
        assert_eq!(verify(&ok, &[secret], future), Ok(()), "only old timestamps are refused");
    }

    proptest! {
        #[test]
        fn never_panics(sig in ".{0,100}", ts in ".{0,30}", url in ".{0,100}", body in proptest::collection::vec(any::<u8>(), 0..512), now in any::<i64>()) {
            let mut headers = HeaderMap::new();
            for (name, value) in [(V3_HEADER, &sig), (TIMESTAMP_HEADER, &ts), (LEGACY_HEADER, &sig)] {
                if let Ok(value) = http::HeaderValue::from_str(value) {
                    headers.insert(name, value);
                }
            }
            let req = WebhookRequest { method: "POST".into(), url, headers, body: Bytes::from(body) };
            let _ = verify(&req, &[Secret::new("s")], VerifyOptions { tolerance: DEFAULT_TOLERANCE, now_secs: now, legacy_schemes: true });
        }
    }
}
