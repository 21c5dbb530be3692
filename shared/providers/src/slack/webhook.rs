//! Slack's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use std::time::Duration;

use portage_core::provider::{HandshakeReply, Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use serde::Deserialize;
use serde_json::json;

use crate::fields::MAX_LEN;
use crate::signing::{body_id, check_window, ct_eq, hmac_sha256, optional_header, required_header};

const SIGNATURE_HEADER: &str = "X-Slack-Signature";
const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";
/// The official SDKs' window, both ways.
const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// `v0=<hex>` for a body at a timestamp, as Slack signs it. The timestamp
/// is signed as the header's text.
pub fn signature(body: &[u8], timestamp: &str, secret: &Secret) -> String {
    let mac = hmac_sha256(secret.expose().as_bytes(), &[b"v0:", timestamp.as_bytes(), b":", body]);
    format!("v0={}", hex::encode(mac))
}

/// Reads the timestamp as `slack_sdk` does (Python's `int()`): surrounding
/// white space, a sign and single underscores between digits are accepted.
fn parse_timestamp(text: &str) -> Option<i64> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    let well_placed = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_')
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__");
    if !well_placed {
        return None;
    }
    trimmed.replace('_', "").parse().ok()
}

/// Checks a request as `slack_sdk`'s `SignatureVerifier.is_valid` does: the
/// timestamp within the window (both ways), then the signature equal to
/// `v0=` and the lowercase hex HMAC exactly.
fn verify(request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
    if secrets.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    let given = required_header(request, SIGNATURE_HEADER)?;
    let timestamp_text = required_header(request, TIMESTAMP_HEADER)?;
    let timestamp = parse_timestamp(timestamp_text).ok_or(RejectReason::MalformedSignature)?;
    if !given.starts_with("v0=") {
        return Err(RejectReason::NoSupportedSignature);
    }
    if std::str::from_utf8(&request.body).is_err() {
        return Err(RejectReason::MalformedPayload);
    }
    let matched = secrets.iter().filter(|s| !s.expose().trim().is_empty()).fold(false, |found, s| {
        found | ct_eq(signature(&request.body, timestamp_text, s).as_bytes(), given.as_bytes())
    });
    if !matched {
        return Err(RejectReason::SignatureMismatch);
    }
    let tolerance = i64::try_from(options.tolerance.as_secs()).unwrap_or(i64::MAX);
    check_window(timestamp, options.now_secs, tolerance, true)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Envelope {
    #[serde(rename = "type")]
    kind: Option<String>,
    challenge: Option<String>,
    event_id: Option<String>,
    event_time: Option<i64>,
    team_id: Option<String>,
    event: Option<Inner>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Inner {
    #[serde(rename = "type")]
    kind: Option<String>,
}

fn is_json(request: &WebhookRequest) -> bool {
    optional_header(request, "content-type").is_some_and(|c| c.starts_with("application/json"))
        || request.body.first() == Some(&b'{')
}

fn normalise(request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
    if !is_json(request) {
        // Slash commands and interactivity: form-encoded, with no event id.
        let form: Vec<(String, String)> =
            form_urlencoded::parse(&request.body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let event_type = match (field("command"), field("payload")) {
            (Some(_), _) => "slash_command",
            (None, Some(_)) => "interactive",
            (None, None) => return Err(RejectReason::MalformedPayload),
        };
        return Ok(NormalizedEvent {
            event_id: body_id(&request.body),
            event_type: event_type.to_owned(),
            occurred_at: received_at_secs,
            account: field("team_id").filter(|t| t.len() <= MAX_LEN).map(str::to_owned),
            object_kind: None,
            object_id: None,
            livemode: None,
        });
    }
    let envelope: Envelope = serde_json::from_slice(&request.body).map_err(|_| RejectReason::MalformedPayload)?;
    let event_id =
        envelope.event_id.filter(|id| !id.is_empty() && id.len() <= MAX_LEN).ok_or(RejectReason::MalformedPayload)?;
    let inner = envelope.event.and_then(|e| e.kind).filter(|k| k.len() <= MAX_LEN);
    Ok(NormalizedEvent {
        event_id,
        event_type: inner.or(envelope.kind).unwrap_or_else(|| "event_callback".to_owned()),
        occurred_at: envelope.event_time.unwrap_or(received_at_secs),
        account: envelope.team_id.filter(|t| t.len() <= MAX_LEN),
        object_kind: None,
        object_id: None,
        livemode: None,
    })
}

/// The Slack provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct Slack;

impl Provider for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn default_tolerance(&self) -> Duration {
        DEFAULT_TOLERANCE
    }

    fn verify(&self, request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
        verify(request, secrets, options)
    }

    fn signed_handshake(&self, request: &WebhookRequest) -> Option<HandshakeReply> {
        if !is_json(request) {
            return None;
        }
        let envelope: Envelope = serde_json::from_slice(&request.body).ok()?;
        (envelope.kind.as_deref() == Some("url_verification")).then(|| HandshakeReply {
            status: 200,
            body: json!({ "challenge": envelope.challenge.unwrap_or_default() }),
        })
    }

    fn normalise(&self, request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise(request, received_at_secs)
    }

    fn sign(&self, _url: &str, body: &[u8], secret: &Secret, now_secs: i64) -> Vec<(String, String)> {
        let timestamp = now_secs.to_string();
        vec![
            (SIGNATURE_HEADER.to_owned(), signature(body, &timestamp, secret)),
            (TIMESTAMP_HEADER.to_owned(), timestamp),
        ]
    }

    fn generate_secret(&self) -> Secret {
        Secret::new(crate::signing::random_secret(32).to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;
    use proptest::prelude::*;

    use crate::signing::test_request as request;

    #[test]
    fn slacks_documented_example_verifies() {
        // From Slack's "Verifying requests from Slack" page.
        let body: &'static [u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let pairs = [
            (SIGNATURE_HEADER, "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
            (TIMESTAMP_HEADER, "1531420618"),
        ];
        let secret = [Secret::new("8f742231b10e8888abcd99yyyzzz85a5")];
        let at = |now| VerifyOptions { tolerance: DEFAULT_TOLERANCE, now_secs: now, legacy_schemes: false };
        assert_eq!(verify(&request(&pairs, body), &secret, at(1_531_420_618)), Ok(()));
        assert_eq!(
            verify(&request(&pairs, body), &secret, at(1_531_420_918 + 1)),
            Err(RejectReason::TimestampOutsideTolerance)
        );
        assert_eq!(
            verify(&request(&pairs, body), &secret, at(1_531_420_318 - 1)),
            Err(RejectReason::TimestampOutsideTolerance)
        );
        let event = normalise(&request(&pairs, body), 9).unwrap();
        assert_eq!((event.event_type.as_str(), event.account.as_deref()), ("slash_command", Some("T1DC2JH3J")));
    }

    #[test]
    fn url_verification_is_answered_with_its_challenge() {
        let reply =
            Slack.signed_handshake(&request(&[], br#"{"token":"t","challenge":"3eZbrw1a","type":"url_verification"}"#));
        assert_eq!(reply, Some(HandshakeReply { status: 200, body: json!({"challenge": "3eZbrw1a"}) }));
        assert_eq!(Slack.signed_handshake(&request(&[], br#"{"type":"event_callback"}"#)), None);
    }

    proptest! {
        #[test]
        fn never_panics(sig in ".{0,100}", ts in ".{0,24}", body in proptest::collection::vec(any::<u8>(), 0..512), now in any::<i64>()) {
            let mut headers = HeaderMap::new();
            for (name, value) in [(SIGNATURE_HEADER, &sig), (TIMESTAMP_HEADER, &ts)] {
                if let Ok(value) = http::HeaderValue::from_str(value) {
                    headers.insert(name, value);
                }
            }
            let req = WebhookRequest { method: "POST".into(), url: String::new(), headers, body: Bytes::from(body) };
            let _ = verify(&req, &[Secret::new("s")], VerifyOptions { tolerance: DEFAULT_TOLERANCE, now_secs: now, legacy_schemes: false });
            let _ = normalise(&req, 0);
            let _ = Slack.signed_handshake(&req);
        }
    }
}
