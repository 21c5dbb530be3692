//! Standard Webhooks signatures (<https://www.standardwebhooks.com>), as the
//! official `standardwebhooks` library and Svix's `svix` library check them
//! (cross-checked by `fixtures/standardwebhooks/vectors`).
//!
//! Headers `webhook-id`, `webhook-timestamp`, `webhook-signature`, or the same
//! with `svix-` (each `svix-` header wins over its `webhook-` twin, as in the
//! Svix library). The signed content is `"{id}.{timestamp}.{raw body}"`,
//! HMAC-SHA256 keyed with the base64-decoded secret after its `whsec_`
//! prefix; `webhook-signature` holds space-separated `v1,<base64>` entries,
//! any of which may match. Entries of other versions (`v1a`, Ed25519) are
//! skipped, and an entry that does not parse counts as not matching (the
//! Python library raises there). Timestamps more than the tolerance away
//! from now, in either direction, are refused.

use std::time::Duration;

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use portage_core::provider::{VerifyOptions, WebhookRequest};
use portage_core::{RejectReason, Secret};

use crate::signing::{check_window, ct_eq, hmac_sha256, optional_header};

/// The libraries' tolerance, both ways.
pub(crate) const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// The prefix of a Standard Webhooks secret.
const SECRET_PREFIX: &str = "whsec_";

/// Base64 as Python's `b64decode` reads it here: padding optional, stray
/// trailing bits allowed.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The three headers of a delivery, `svix-` names first.
pub(crate) struct Headers<'a> {
    /// The message id, also the event id.
    pub id: &'a str,
    /// Unix seconds, as sent.
    pub timestamp: &'a str,
    /// The signature entries.
    pub signature: &'a str,
}

fn pick<'a>(request: &'a WebhookRequest, name: &str) -> Option<&'a str> {
    optional_header(request, &format!("svix-{name}"))
        .or_else(|| optional_header(request, &format!("webhook-{name}")))
        .filter(|v| !v.is_empty())
}

/// Reads the three headers; `missing_signature` when any is absent or empty.
pub(crate) fn headers(request: &WebhookRequest) -> Result<Headers<'_>, RejectReason> {
    let missing = RejectReason::MissingSignature;
    Ok(Headers {
        id: pick(request, "id").ok_or(missing)?,
        timestamp: pick(request, "timestamp").ok_or(missing)?,
        signature: pick(request, "signature").ok_or(missing)?,
    })
}

/// The HMAC key of a secret: base64 after the `whsec_` prefix (padding
/// optional). `None` for a secret that does not decode or is empty.
pub(crate) fn key(secret: &Secret) -> Option<Vec<u8>> {
    let text = secret.expose();
    let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
    LENIENT.decode(encoded).ok().filter(|k| !k.is_empty())
}

/// Reads the timestamp as the Python library does (`float()`, then rounded
/// to microseconds, then floored): white space, a sign, a fraction, an
/// exponent and single underscores between digits are accepted.
pub(crate) fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits_only =
        |part: &str| !part.starts_with('_') && !part.ends_with('_') && !part.contains("__") && !part.contains("_.");
    if !digits_only(text.trim_start_matches(['+', '-'])) || text.contains("._") {
        return None;
    }
    let cleaned = text.replace('_', "");
    let lowered = cleaned.to_ascii_lowercase();
    if lowered.contains("inf") || lowered.contains("nan") {
        return None;
    }
    let value: f64 = cleaned.parse().ok()?;
    let micros = (value * 1e6).round_ties_even();
    let seconds = (micros / 1e6).floor();
    (seconds.is_finite() && seconds.abs() < 1e15).then_some(seconds as i64)
}

/// The `v1,…` value for a message.
pub(crate) fn sign(id: &str, timestamp: i64, body: &[u8], key: &[u8]) -> String {
    let mac = hmac_sha256(key, &[id.as_bytes(), b".", timestamp.to_string().as_bytes(), b".", body]);
    format!("v1,{}", STANDARD.encode(mac))
}

/// Checks a delivery against any of the secrets.
pub(crate) fn verify(request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
    if secrets.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    let headers = headers(request)?;
    let timestamp = parse_timestamp(headers.timestamp).ok_or(RejectReason::MalformedSignature)?;
    let given: Vec<Vec<u8>> = headers
        .signature
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, signature)| LENIENT.decode(signature).ok())
        .collect();
    let any_v1 = headers.signature.split(' ').any(|entry| entry.starts_with("v1,"));
    if !any_v1 {
        return Err(RejectReason::NoSupportedSignature);
    }
    let timestamp_text = timestamp.to_string();
    let content = [headers.id.as_bytes(), b".", timestamp_text.as_bytes(), b".", &request.body[..]];
    let matched = secrets.iter().filter_map(key).fold(false, |found, key| {
        let expected = hmac_sha256(&key, &content);
        given.iter().fold(found, |found, sig| found | ct_eq(&expected, sig))
    });
    if !matched {
        return Err(RejectReason::SignatureMismatch);
    }
    let tolerance = i64::try_from(options.tolerance.as_secs()).unwrap_or(i64::MAX);
    check_window(timestamp, options.now_secs, tolerance, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;
    use proptest::prelude::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    use crate::signing::test_request as request;

    fn check(pairs: &[(&str, &str)], now: i64) -> Result<(), RejectReason> {
        let body = br#"{"test": 2432232314}"#;
        verify(
            &request(pairs, body),
            &[Secret::new(SECRET)],
            VerifyOptions { tolerance: DEFAULT_TOLERANCE, now_secs: now, legacy_schemes: false },
        )
    }

    #[test]
    fn the_specification_example_verifies() {
        let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let pairs = [
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", sig),
        ];
        assert_eq!(check(&pairs, 1_614_265_330), Ok(()));
        assert_eq!(check(&pairs, 1_614_265_330 + 301), Err(RejectReason::TimestampOutsideTolerance));
        assert_eq!(check(&pairs, 1_614_265_330 - 301), Err(RejectReason::TimestampOutsideTolerance));
        let svix =
            [("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("svix-timestamp", "1614265330"), ("svix-signature", sig)];
        assert_eq!(check(&svix, 1_614_265_330), Ok(()));
    }

    #[test]
    fn header_shapes() {
        let (id, ts) = (("webhook-id", "msg_1"), ("webhook-timestamp", "1614265330"));
        assert_eq!(check(&[id, ts], 1_614_265_330), Err(RejectReason::MissingSignature));
        assert_eq!(
            check(&[id, ("webhook-timestamp", "soon"), ("webhook-signature", "v1,AA==")], 0),
            Err(RejectReason::MalformedSignature)
        );
        assert_eq!(
            check(&[id, ts, ("webhook-signature", "v1a,AA== v2,AA==")], 0),
            Err(RejectReason::NoSupportedSignature)
        );
        assert_eq!(
            check(&[id, ts, ("webhook-signature", "v1,!!! v1,AA==")], 1_614_265_330),
            Err(RejectReason::SignatureMismatch)
        );
        assert_eq!(parse_timestamp(" +1_614_265_330.9999999 "), Some(1_614_265_331));
        assert_eq!(parse_timestamp("1.6e9"), Some(1_600_000_000));
        assert_eq!(parse_timestamp("1__0"), None);
        assert_eq!(parse_timestamp("inf"), None);
    }

    #[test]
    fn secrets_decode_with_or_without_prefix_and_padding() {
        assert_eq!(key(&Secret::new("whsec_AAEC")), Some(vec![0, 1, 2]));
        assert_eq!(key(&Secret::new("AAEC")), Some(vec![0, 1, 2]));
        assert_eq!(key(&Secret::new("whsec_AAE")), Some(vec![0, 1]));
        assert_eq!(key(&Secret::new("whsec_")), None);
        assert_eq!(key(&Secret::new("whsec_***")), None);
    }

    proptest! {
        #[test]
        fn never_panics(id in ".{0,64}", ts in ".{0,32}", sig in ".{0,200}", body in proptest::collection::vec(any::<u8>(), 0..512), now in any::<i64>()) {
            let mut headers = HeaderMap::new();
            for (name, value) in [("webhook-id", &id), ("webhook-timestamp", &ts), ("webhook-signature", &sig)] {
                if let Ok(value) = http::HeaderValue::from_str(value) {
                    headers.insert(name, value);
                }
            }
            let req = WebhookRequest { method: "POST".into(), url: String::new(), headers, body: Bytes::from(body) };
            let _ = verify(&req, &[Secret::new(SECRET)], VerifyOptions { tolerance: DEFAULT_TOLERANCE, now_secs: now, legacy_schemes: false });
        }
    }
}
