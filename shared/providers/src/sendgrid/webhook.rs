//! SendGrid's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use portage_core::provider::{Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use serde::Deserialize;

use crate::fields::{MAX_LEN, batch_id, shared_type};
use crate::signing::{check_window, required_header};

const SIGNATURE_HEADER: &str = "X-Twilio-Email-Event-Webhook-Signature";
const TIMESTAMP_HEADER: &str = "X-Twilio-Email-Event-Webhook-Timestamp";
/// SendGrid retries for up to 24 hours; the window covers that (a replay
/// inside it is caught by the events' ids).
const DEFAULT_TOLERANCE: Duration = Duration::from_secs(25 * 3600);

/// The DER bytes inside a key as SendGrid shows it (base64) or as PEM.
fn der(text: &str) -> Option<Vec<u8>> {
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect::<Vec<_>>().join("");
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(compact).ok()
}

/// The verification key: the public key from SendGrid's settings (base64 DER
/// SubjectPublicKeyInfo, or PEM), or, for development, a PKCS#8 private key
/// whose public half is used.
pub fn verifying_key(secret: &Secret) -> Option<VerifyingKey> {
    let bytes = der(secret.expose())?;
    VerifyingKey::from_public_key_der(&bytes)
        .ok()
        .or_else(|| SigningKey::from_pkcs8_der(&bytes).ok().map(|k| *k.verifying_key()))
}

/// Checks a delivery as `sendgrid`'s `EventWebhook.verify_signature` does:
/// an ECDSA P-256 / SHA-256 signature (base64 DER) over the timestamp
/// header's text followed by the raw body; then the timestamp window, which
/// the library leaves to its caller.
fn verify(request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
    if secrets.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    let given = required_header(request, SIGNATURE_HEADER)?;
    let timestamp = required_header(request, TIMESTAMP_HEADER)?;
    let signature = STANDARD.decode(given).map_err(|_| RejectReason::MalformedSignature)?;
    let signature = DerSignature::from_bytes(&signature).map_err(|_| RejectReason::MalformedSignature)?;
    let signature = Signature::try_from(signature).map_err(|_| RejectReason::MalformedSignature)?;
    let mut message = timestamp.as_bytes().to_vec();
    message.extend_from_slice(&request.body);
    let matched = secrets.iter().filter_map(verifying_key).any(|key| key.verify(&message, &signature).is_ok());
    if !matched {
        return Err(RejectReason::SignatureMismatch);
    }
    let secs = timestamp.trim().parse::<i64>().map_err(|_| RejectReason::MalformedSignature)?;
    let tolerance = i64::try_from(options.tolerance.as_secs()).unwrap_or(i64::MAX);
    check_window(secs, options.now_secs, tolerance, false)
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    sg_event_id: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    sg_message_id: Option<String>,
}

/// One Portage event per request: id the single event's `sg_event_id`, or
/// `batch:` and the SHA-256 of the sorted ids (a retried batch is a duplicate).
fn normalise(request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
    let events: Vec<Event> = serde_json::from_slice(&request.body).map_err(|_| RejectReason::MalformedPayload)?;
    let ids: Vec<String> = events
        .iter()
        .map(|e| e.sg_event_id.clone().filter(|id| !id.is_empty() && id.len() <= MAX_LEN))
        .collect::<Option<_>>()
        .ok_or(RejectReason::MalformedPayload)?;
    let first = events.first().ok_or(RejectReason::MalformedPayload)?;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e.event.as_deref()).collect();
    let single = events.len() == 1;
    Ok(NormalizedEvent {
        event_id: batch_id(ids).ok_or(RejectReason::MalformedPayload)?,
        event_type: shared_type(&kinds),
        occurred_at: events.iter().filter_map(|e| e.timestamp).max().unwrap_or(received_at_secs),
        account: None,
        object_kind: single.then(|| "message".to_owned()),
        object_id: if single { first.sg_message_id.clone().filter(|m| m.len() <= MAX_LEN) } else { None },
        livemode: None,
    })
}

/// The SendGrid provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendGrid;

impl Provider for SendGrid {
    fn name(&self) -> &'static str {
        "sendgrid"
    }

    fn default_tolerance(&self) -> Duration {
        DEFAULT_TOLERANCE
    }

    fn verify(&self, request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
        verify(request, secrets, options)
    }

    fn normalise(&self, request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise(request, received_at_secs)
    }

    /// Signs with a development private key (what [`Provider::generate_secret`]
    /// makes); a public key cannot sign, and gives no headers.
    fn sign(&self, _url: &str, body: &[u8], secret: &Secret, now_secs: i64) -> Vec<(String, String)> {
        let Some(key) = der(secret.expose()).and_then(|d| SigningKey::from_pkcs8_der(&d).ok()) else {
            return Vec::new();
        };
        let timestamp = now_secs.to_string();
        let mut message = timestamp.as_bytes().to_vec();
        message.extend_from_slice(body);
        let signature: Signature = key.sign(&message);
        vec![
            (SIGNATURE_HEADER.to_owned(), STANDARD.encode(signature.to_der().as_bytes())),
            (TIMESTAMP_HEADER.to_owned(), timestamp),
        ]
    }

    /// A development key pair, kept as its PEM PKCS#8 private key (the
    /// public half verifies); production connections hold SendGrid's public key.
    fn generate_secret(&self) -> Secret {
        let key = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let pem = key.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).map(|pem| pem.to_string()).unwrap_or_default();
        Secret::new(pem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;
    use p256::pkcs8::EncodePublicKey;
    use proptest::prelude::*;

    fn request(headers: Vec<(String, String)>, body: &'static [u8]) -> WebhookRequest {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        WebhookRequest { method: "POST".into(), url: String::new(), headers: map, body: Bytes::from_static(body) }
    }

    #[test]
    fn a_development_key_signs_and_its_public_half_verifies() {
        let private = SendGrid.generate_secret();
        let body: &'static [u8] = br#"[{"email":"a@example.com","timestamp":1795689000,"event":"delivered","sg_event_id":"ZGVsaXZlcmVk","sg_message_id":"m1"}]"#;
        let headers = SendGrid.sign("", body, &private, 1_795_689_600);
        let options = VerifyOptions { tolerance: DEFAULT_TOLERANCE, now_secs: 1_795_689_600, legacy_schemes: false };
        assert_eq!(verify(&request(headers.clone(), body), std::slice::from_ref(&private), options), Ok(()));
        let public = verifying_key(&private).unwrap().to_public_key_der().unwrap();
        let public = Secret::new(STANDARD.encode(public.as_bytes()));
        assert_eq!(verify(&request(headers.clone(), body), std::slice::from_ref(&public), options), Ok(()));
        let late = VerifyOptions { now_secs: 1_795_689_600 + 25 * 3600 + 1, ..options };
        assert_eq!(verify(&request(headers, body), &[public], late), Err(RejectReason::TimestampOutsideTolerance));
        let event = normalise(&request(Vec::new(), body), 0).unwrap();
        assert_eq!(
            (event.event_id.as_str(), event.event_type.as_str(), event.occurred_at),
            ("ZGVsaXZlcmVk", "delivered", 1_795_689_000)
        );
    }

    proptest! {
        #[test]
        fn never_panics(sig in ".{0,120}", ts in ".{0,20}", key in ".{0,200}", body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut headers = HeaderMap::new();
            for (name, value) in [(SIGNATURE_HEADER, &sig), (TIMESTAMP_HEADER, &ts)] {
                if let Ok(value) = http::HeaderValue::from_str(value) {
                    headers.insert(name, value);
                }
            }
            let req = WebhookRequest { method: "POST".into(), url: String::new(), headers, body: Bytes::from(body) };
            let _ = verify(&req, &[Secret::new(key)], VerifyOptions { tolerance: DEFAULT_TOLERANCE, now_secs: 0, legacy_schemes: false });
            let _ = normalise(&req, 0);
        }
    }
}
