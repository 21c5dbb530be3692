//! GitHub's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use portage_core::provider::{HandshakeReply, Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use serde::Deserialize;
use serde_json::json;

use crate::fields::MAX_LEN;
use crate::signing::{ct_eq, hmac_sha256, optional_header, required_header};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// The delivery's GUID, the same on a redelivery: the event id.
const DELIVERY_HEADER: &str = "X-GitHub-Delivery";
/// The event's name, e.g. `push`, `issues`, `ping`.
const EVENT_HEADER: &str = "X-GitHub-Event";

/// The GitHub provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct GitHub;

/// `sha256=<lowercase hex>` of the body, as GitHub sends it.
pub fn signature(body: &[u8], secret: &Secret) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(secret.expose().as_bytes(), &[body])))
}

/// Checks the signature as `@octokit/webhooks-methods` does: the header must
/// equal `sha256=` and the lowercase hex HMAC exactly (no other case, no
/// spaces); the body and the secret must not be empty.
fn verify(request: &WebhookRequest, secrets: &[Secret]) -> Result<(), RejectReason> {
    if secrets.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    let given = required_header(request, SIGNATURE_HEADER)?;
    if given.is_empty() {
        return Err(RejectReason::MissingSignature);
    }
    if !given.starts_with("sha256=") {
        return Err(RejectReason::NoSupportedSignature);
    }
    if request.body.is_empty() || std::str::from_utf8(&request.body).is_err() {
        return Err(RejectReason::MalformedPayload);
    }
    let matched = secrets
        .iter()
        .filter(|s| !s.expose().is_empty())
        .fold(false, |found, secret| found | ct_eq(signature(&request.body, secret).as_bytes(), given.as_bytes()));
    if matched { Ok(()) } else { Err(RejectReason::SignatureMismatch) }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Payload {
    action: Option<String>,
    installation: Option<Installation>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Installation {
    id: Option<u64>,
}

fn normalise(request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
    let delivery = optional_header(request, DELIVERY_HEADER).filter(|d| !d.is_empty() && d.len() <= MAX_LEN);
    let event = optional_header(request, EVENT_HEADER).filter(|e| !e.is_empty() && e.len() <= MAX_LEN);
    let (Some(delivery), Some(event)) = (delivery, event) else {
        return Err(RejectReason::MalformedPayload);
    };
    let value: serde_json::Value = serde_json::from_slice(&request.body).map_err(|_| RejectReason::MalformedPayload)?;
    let payload: Payload = serde_json::from_value(value).unwrap_or_default();
    let event_type = match payload.action.filter(|a| !a.is_empty() && a.len() <= MAX_LEN) {
        Some(action) => format!("{event}.{action}"),
        None => event.to_owned(),
    };
    Ok(NormalizedEvent {
        event_id: delivery.to_owned(),
        event_type,
        // GitHub's deliveries carry no event time common to every event.
        occurred_at: received_at_secs,
        account: payload.installation.and_then(|i| i.id).map(|id| id.to_string()),
        object_kind: None,
        object_id: None,
        livemode: None,
    })
}

impl Provider for GitHub {
    fn name(&self) -> &'static str {
        "github"
    }

    fn verify(
        &self,
        request: &WebhookRequest,
        secrets: &[Secret],
        _options: VerifyOptions,
    ) -> Result<(), RejectReason> {
        verify(request, secrets)
    }

    fn signed_handshake(&self, request: &WebhookRequest) -> Option<HandshakeReply> {
        // Sent once when a webhook is created; nothing to record.
        (optional_header(request, EVENT_HEADER) == Some("ping"))
            .then(|| HandshakeReply { status: 200, body: json!({ "received": true, "ping": true }) })
    }

    fn normalise(&self, request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise(request, received_at_secs)
    }

    fn sign(&self, _url: &str, body: &[u8], secret: &Secret, _now_secs: i64) -> Vec<(String, String)> {
        let delivery = crate::signing::sha256_hex(body);
        vec![
            (SIGNATURE_HEADER.to_owned(), signature(body, secret)),
            (
                DELIVERY_HEADER.to_owned(),
                format!(
                    "{}-{}-{}-{}-{}",
                    &delivery[..8],
                    &delivery[8..12],
                    &delivery[12..16],
                    &delivery[16..20],
                    &delivery[20..32]
                ),
            ),
            (EVENT_HEADER.to_owned(), "push".to_owned()),
        ]
    }

    fn generate_secret(&self) -> Secret {
        Secret::new(crate::signing::random_secret(40))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;
    use proptest::prelude::*;

    fn request(signature: Option<&str>, body: &'static [u8]) -> WebhookRequest {
        let mut headers = HeaderMap::new();
        if let Some(s) = signature {
            headers.insert(SIGNATURE_HEADER, s.parse().unwrap());
        }
        headers.insert(DELIVERY_HEADER, "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap());
        headers.insert(EVENT_HEADER, "issues".parse().unwrap());
        WebhookRequest { method: "POST".into(), url: String::new(), headers, body: Bytes::from_static(body) }
    }

    #[test]
    fn githubs_documented_example_verifies() {
        // From GitHub's "Validating webhook deliveries" page.
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let secret = [Secret::new("It's a Secret to Everybody")];
        assert_eq!(verify(&request(Some(sig), b"Hello, World!"), &secret), Ok(()));
        assert_eq!(
            verify(&request(Some(&sig.to_uppercase().replace("SHA256", "sha256")), b"Hello, World!"), &secret),
            Err(RejectReason::SignatureMismatch)
        );
        assert_eq!(verify(&request(Some(sig), b"Hello, World?"), &secret), Err(RejectReason::SignatureMismatch));
        assert_eq!(verify(&request(None, b"Hello"), &secret), Err(RejectReason::MissingSignature));
        assert_eq!(verify(&request(Some("sha1=00"), b"Hello"), &secret), Err(RejectReason::NoSupportedSignature));
    }

    #[test]
    fn normalises_event_and_action() {
        let event = normalise(&request(None, br#"{"action":"opened","installation":{"id":42}}"#), 7).unwrap();
        assert_eq!((event.event_type.as_str(), event.occurred_at), ("issues.opened", 7));
        assert_eq!(event.event_id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        assert_eq!(event.account.as_deref(), Some("42"));
        assert_eq!(normalise(&request(None, b"not json"), 7), Err(RejectReason::MalformedPayload));
    }

    proptest! {
        #[test]
        fn never_panics(sig in ".{0,100}", body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = http::HeaderValue::from_str(&sig) {
                headers.insert(SIGNATURE_HEADER, value);
            }
            let req = WebhookRequest { method: "POST".into(), url: String::new(), headers, body: Bytes::from(body) };
            let _ = verify(&req, &[Secret::new("s")]);
            let _ = normalise(&req, 0);
        }
    }
}
