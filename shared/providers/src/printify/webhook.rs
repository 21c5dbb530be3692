//! Printify's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use portage_core::provider::{Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use serde::Deserialize;

use crate::fields::{MAX_LEN, id_text, rfc3339_secs};
use crate::signing::{ct_eq, hmac_sha256, required_header};

const SIGNATURE_HEADER: &str = "X-Pfy-Signature";

/// `sha256=<lowercase hex>` HMAC-SHA256 of the body, keyed with the secret
/// given when the webhook was created.
pub fn signature(body: &[u8], secret: &Secret) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(secret.expose().as_bytes(), &[body])))
}

/// Printify documents no verification library; the hex digest is compared
/// as bytes, so its case does not matter.
fn verify(request: &WebhookRequest, secrets: &[Secret]) -> Result<(), RejectReason> {
    if secrets.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    let given = required_header(request, SIGNATURE_HEADER)?;
    let hex_digest = given.strip_prefix("sha256=").ok_or(RejectReason::NoSupportedSignature)?;
    let given = hex::decode(hex_digest).map_err(|_| RejectReason::MalformedSignature)?;
    let matched = secrets
        .iter()
        .fold(false, |found, secret| found | ct_eq(&hmac_sha256(secret.expose().as_bytes(), &[&request.body]), &given));
    if matched { Ok(()) } else { Err(RejectReason::SignatureMismatch) }
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    resource: Option<Resource>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Resource {
    id: Option<serde_json::Value>,
    #[serde(rename = "type")]
    kind: Option<String>,
    data: Option<ResourceData>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResourceData {
    shop_id: Option<serde_json::Value>,
}

fn normalise(request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
    let envelope: Envelope = serde_json::from_slice(&request.body).map_err(|_| RejectReason::MalformedPayload)?;
    let valid = |s: &str| !s.is_empty() && s.len() <= MAX_LEN;
    if !valid(&envelope.id) || !valid(&envelope.event_type) {
        return Err(RejectReason::MalformedPayload);
    }
    let occurred_at = envelope.created_at.as_deref().and_then(rfc3339_secs).unwrap_or(received_at_secs);
    let resource = envelope.resource.unwrap_or_default();
    Ok(NormalizedEvent {
        event_id: envelope.id,
        event_type: envelope.event_type,
        occurred_at,
        account: id_text(resource.data.unwrap_or_default().shop_id.as_ref(), MAX_LEN),
        object_kind: resource.kind.filter(|k| k.len() <= MAX_LEN),
        object_id: id_text(resource.id.as_ref(), MAX_LEN),
        livemode: None,
    })
}

/// The Printify provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct Printify;

impl Provider for Printify {
    fn name(&self) -> &'static str {
        "printify"
    }

    fn verify(
        &self,
        request: &WebhookRequest,
        secrets: &[Secret],
        _options: VerifyOptions,
    ) -> Result<(), RejectReason> {
        verify(request, secrets)
    }

    fn normalise(&self, request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise(request, received_at_secs)
    }

    fn sign(&self, _url: &str, body: &[u8], secret: &Secret, _now_secs: i64) -> Vec<(String, String)> {
        vec![(SIGNATURE_HEADER.to_owned(), signature(body, secret))]
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

    fn request(sig: Option<&str>, body: &'static [u8]) -> WebhookRequest {
        let mut headers = HeaderMap::new();
        if let Some(sig) = sig {
            headers.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        }
        WebhookRequest { method: "POST".into(), url: String::new(), headers, body: Bytes::from_static(body) }
    }

    #[test]
    fn verifies_and_normalises() {
        let body = br#"{"id":"653b6be8-2ff7-4ab5-a7a6-6889a8b3bbf5","type":"order:created","created_at":"2026-11-20 10:00:00+00:00","resource":{"id":"5a96f649b2439217d070f507","type":"order","data":{"shop_id":815256}}}"#;
        let secret = Secret::new("s3cr3t");
        let sig = signature(body, &secret);
        assert_eq!(verify(&request(Some(&sig), body), std::slice::from_ref(&secret)), Ok(()));
        assert_eq!(
            verify(
                &request(Some(&sig.to_uppercase().replace("SHA256", "sha256")), body),
                std::slice::from_ref(&secret)
            ),
            Ok(())
        );
        assert_eq!(
            verify(&request(Some("sha256=zz"), body), std::slice::from_ref(&secret)),
            Err(RejectReason::MalformedSignature)
        );
        assert_eq!(verify(&request(None, body), &[secret]), Err(RejectReason::MissingSignature));
        let event = normalise(&request(None, body), 0).unwrap();
        assert_eq!((event.event_type.as_str(), event.occurred_at), ("order:created", 1_795_168_800));
        assert_eq!(
            (event.object_id.as_deref(), event.account.as_deref()),
            (Some("5a96f649b2439217d070f507"), Some("815256"))
        );
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
