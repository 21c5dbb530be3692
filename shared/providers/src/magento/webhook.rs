//! Adobe Commerce's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portage_core::provider::{Acknowledgement, Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

use crate::fields::MAX_LEN;
use crate::signing::{body_id, required_header};

const SIGNATURE_HEADER: &str = "x-adobe-commerce-webhook-signature";

/// The verification key: the PEM public key Commerce shows (Stores →
/// Configuration → Adobe Services → Webhooks), or, for development, a PEM
/// private key whose public half is used.
fn verifying_key(secret: &Secret) -> Option<VerifyingKey<Sha256>> {
    let text = secret.expose().replace("\\n", "\n");
    RsaPublicKey::from_public_key_pem(text.trim())
        .ok()
        .or_else(|| RsaPrivateKey::from_pkcs8_pem(text.trim()).ok().map(|k| k.to_public_key()))
        .map(VerifyingKey::new)
}

/// Commerce signs the base64 encoding of the raw body (RSA PKCS#1 v1.5,
/// SHA-256; its documentation calls it an HMAC, but it is a public-key
/// signature) and sends the signature base64-encoded.
fn verify(request: &WebhookRequest, secrets: &[Secret]) -> Result<(), RejectReason> {
    if secrets.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    let given = required_header(request, SIGNATURE_HEADER)?;
    let bytes = STANDARD.decode(given.trim()).map_err(|_| RejectReason::MalformedSignature)?;
    let signature = Signature::try_from(bytes.as_slice()).map_err(|_| RejectReason::MalformedSignature)?;
    let signed = STANDARD.encode(&request.body);
    let matched = secrets.iter().filter_map(verifying_key).any(|key| key.verify(signed.as_bytes(), &signature).is_ok());
    if matched { Ok(()) } else { Err(RejectReason::SignatureMismatch) }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Payload {
    #[serde(rename = "eventName")]
    event_name: Option<String>,
}

/// Commerce gives no event id: the id is the SHA-256 of the body (a retried
/// identical call is a duplicate); the type is the payload's `eventName`.
fn normalise(request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
    let value: serde_json::Value = serde_json::from_slice(&request.body).map_err(|_| RejectReason::MalformedPayload)?;
    let payload: Payload = serde_json::from_value(value).unwrap_or_default();
    Ok(NormalizedEvent {
        event_id: body_id(&request.body),
        event_type: payload
            .event_name
            .filter(|n| !n.is_empty() && n.len() <= MAX_LEN)
            .unwrap_or_else(|| "webhook".to_owned()),
        occurred_at: received_at_secs,
        account: None,
        object_kind: None,
        object_id: None,
        livemode: None,
    })
}

/// The Magento 2 / Adobe Commerce provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct Magento;

impl Provider for Magento {
    fn name(&self) -> &'static str {
        "magento"
    }

    fn verify(
        &self,
        request: &WebhookRequest,
        secrets: &[Secret],
        _options: VerifyOptions,
    ) -> Result<(), RejectReason> {
        verify(request, secrets)
    }

    fn acknowledgement(&self, _request: &WebhookRequest) -> Option<Acknowledgement> {
        // Commerce waits for this answer and reads its operation.
        Some(Acknowledgement { content_type: "application/json", body: json!({ "op": "success" }).to_string() })
    }

    fn normalise(&self, request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise(request, received_at_secs)
    }

    /// Signs with a development private key (what [`Provider::generate_secret`]
    /// makes); a public key cannot sign, and gives no headers.
    fn sign(&self, _url: &str, body: &[u8], secret: &Secret, _now_secs: i64) -> Vec<(String, String)> {
        let Ok(key) = RsaPrivateKey::from_pkcs8_pem(secret.expose().trim()) else { return Vec::new() };
        let signature = SigningKey::<Sha256>::new(key).sign(STANDARD.encode(body).as_bytes());
        vec![(SIGNATURE_HEADER.to_owned(), STANDARD.encode(signature.to_bytes()))]
    }

    /// A development key pair, kept as its PEM private key.
    fn generate_secret(&self) -> Secret {
        let pem = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
            .ok()
            .and_then(|k| k.to_pkcs8_pem(LineEnding::LF).ok())
            .map(|pem| pem.to_string())
            .unwrap_or_default();
        Secret::new(pem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;
    use proptest::prelude::*;

    #[test]
    fn a_development_key_signs_and_verifies() {
        let private = Magento.generate_secret();
        let body: &'static [u8] =
            br#"{"eventName":"observer.checkout_cart_product_add_after","data":{"product":{"sku":"24-MB01"}}}"#;
        let mut headers = HeaderMap::new();
        for (name, value) in Magento.sign("", body, &private, 0) {
            headers.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        let request =
            WebhookRequest { method: "POST".into(), url: String::new(), headers, body: Bytes::from_static(body) };
        assert_eq!(verify(&request, &[private]), Ok(()));
        assert_eq!(verify(&request, &[Magento.generate_secret()]), Err(RejectReason::SignatureMismatch));
        assert_eq!(normalise(&request, 4).unwrap().event_type, "observer.checkout_cart_product_add_after");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn never_panics(sig in ".{0,120}", key in ".{0,200}", body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = http::HeaderValue::from_str(&sig) {
                headers.insert(SIGNATURE_HEADER, value);
            }
            let req = WebhookRequest { method: "POST".into(), url: String::new(), headers, body: Bytes::from(body) };
            let _ = verify(&req, &[Secret::new(key)]);
            let _ = normalise(&req, 0);
        }
    }
}
