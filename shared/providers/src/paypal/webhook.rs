//! PayPal's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use std::time::Duration;

use self::certificate::{SigningMaterial, development_key, materials};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portage_core::provider::{KeyFormat, KeyLocation, Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use serde_json::Value;
use url::Url;

use super::certificate;
use crate::fields::{MAX_LEN, id_text, rfc3339_secs};
use crate::signing::{check_window, first_plain_line, optional_header, required_header};

const TRANSMISSION_ID: &str = "PAYPAL-TRANSMISSION-ID";
const TRANSMISSION_TIME: &str = "PAYPAL-TRANSMISSION-TIME";
const TRANSMISSION_SIG: &str = "PAYPAL-TRANSMISSION-SIG";
const CERT_URL: &str = "PAYPAL-CERT-URL";
const AUTH_ALGO: &str = "PAYPAL-AUTH-ALGO";
/// The one algorithm accepted. PayPal's SDKs also map `SHA1withRSA`;
/// Portage refuses SHA-1 signatures.
const SHA256_WITH_RSA: &str = "SHA256withRSA";
/// PayPal redelivers for up to three days and does not document whether a
/// redelivery is signed anew, so the window spans the retries; a replay
/// inside it is a duplicate by the event's id.
const DEFAULT_TOLERANCE: Duration = Duration::from_secs(3 * 24 * 3600 + 3600);
/// PayPal's API hosts, live and sandbox: the only places a certificate is
/// fetched from.
const LIVE_HOSTS: [&str; 2] = ["api.paypal.com", "api-m.paypal.com"];
const SANDBOX_HOSTS: [&str; 2] = ["api.sandbox.paypal.com", "api-m.sandbox.paypal.com"];
const CERT_PATH: &str = "/v1/notifications/certs/";
/// The names PayPal's signing certificates are issued to.
const LIVE_CERT_NAME: &str = "messageverificationcerts.paypal.com";
const SANDBOX_CERT_NAME: &str = "messageverificationcerts.sandbox.paypal.com";
/// Certificates are rotated rarely; a day's cache keeps fetches rare.
const CERT_CACHE: Duration = Duration::from_secs(24 * 3600);
/// Where `sign` says its development certificate is: never fetched, since a
/// development connection pins its key.
const DEVELOPMENT_CERT_URL: &str = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-portage-development";

/// The text PayPal signs: `{transmission id}|{transmission time}|{webhook
/// id}|{CRC-32 of the raw body, decimal}`.
fn signed_text(transmission_id: &str, time: &str, webhook_id: &str, body: &[u8]) -> String {
    format!("{transmission_id}|{time}|{webhook_id}|{}", crc32fast::hash(body))
}

/// The certificate URL, if it is on PayPal's own hosts, with the name its
/// certificate must carry.
fn certificate_location(url: &str) -> Result<(Url, &'static str), RejectReason> {
    let parsed = Url::parse(url).map_err(|_| RejectReason::UntrustedSigningKey)?;
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    let name = if LIVE_HOSTS.contains(&host.as_str()) {
        LIVE_CERT_NAME
    } else if SANDBOX_HOSTS.contains(&host.as_str()) {
        SANDBOX_CERT_NAME
    } else {
        return Err(RejectReason::UntrustedSigningKey);
    };
    let plain = parsed.scheme() == "https"
        && parsed.port().is_none()
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.path().starts_with(CERT_PATH)
        && !parsed.path().contains("..");
    if !plain {
        return Err(RejectReason::UntrustedSigningKey);
    }
    Ok((parsed, name))
}

/// Checks a delivery as PayPal's `WebhookEvent.verify` does: the leaf
/// certificate's RSA key (valid now, issued to a `.paypal.com` name) over
/// [`signed_text`] for one of the webhook ids, SHA256withRSA; then the
/// transmission time's window. Secrets are webhook ids (the text before any
/// PEM block), certificates and development keys, in any mix.
fn verify(request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
    let webhook_ids: Vec<&str> = secrets.iter().filter_map(|s| first_plain_line(s.expose())).collect();
    let keys: Vec<SigningMaterial> = secrets.iter().flat_map(|s| materials(s.expose())).collect();
    if webhook_ids.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    let transmission_id = required_header(request, TRANSMISSION_ID)?;
    let time = required_header(request, TRANSMISSION_TIME)?;
    let signature = required_header(request, TRANSMISSION_SIG)?;
    if required_header(request, AUTH_ALGO)? != SHA256_WITH_RSA {
        return Err(RejectReason::NoSupportedSignature);
    }
    let signature = STANDARD.decode(signature.trim()).map_err(|_| RejectReason::MalformedSignature)?;
    let signature = Signature::try_from(signature.as_slice()).map_err(|_| RejectReason::MalformedSignature)?;
    let usable: Vec<_> = keys.iter().filter_map(|k| k.key_at(options.now_secs)).collect();
    if usable.is_empty() {
        return Err(if keys.is_empty() { RejectReason::NoSecretConfigured } else { RejectReason::UntrustedSigningKey });
    }
    let matched = webhook_ids.iter().any(|webhook_id| {
        let text = signed_text(transmission_id, time, webhook_id, &request.body);
        usable.iter().any(|key| VerifyingKey::<Sha256>::new(key.clone()).verify(text.as_bytes(), &signature).is_ok())
    });
    if !matched {
        return Err(RejectReason::SignatureMismatch);
    }
    let signed_at = rfc3339_secs(time).ok_or(RejectReason::MalformedSignature)?;
    let tolerance = i64::try_from(options.tolerance.as_secs()).unwrap_or(i64::MAX);
    check_window(signed_at, options.now_secs, tolerance, true)
}

/// Event id the body's `id` (`WH-…`), type its `event_type`, time its
/// `create_time`, object its `resource_type` and `resource.id`; live or
/// sandbox from the certificate's host.
fn normalise(request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
    let body: Value = serde_json::from_slice(&request.body).map_err(|_| RejectReason::MalformedPayload)?;
    let text = |v: Option<&Value>| id_text(v, MAX_LEN);
    let sandbox = optional_header(request, CERT_URL)
        .and_then(|url| certificate_location(url).ok())
        .map(|(_, name)| name == SANDBOX_CERT_NAME);
    Ok(NormalizedEvent {
        event_id: text(body.get("id")).ok_or(RejectReason::MalformedPayload)?,
        event_type: text(body.get("event_type")).ok_or(RejectReason::MalformedPayload)?,
        occurred_at: body.get("create_time").and_then(Value::as_str).and_then(rfc3339_secs).unwrap_or(received_at_secs),
        account: None,
        object_kind: text(body.get("resource_type")),
        object_id: text(body.pointer("/resource/id")),
        livemode: sandbox.map(|s| !s),
    })
}

/// The PayPal provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct PayPal;

impl Provider for PayPal {
    fn name(&self) -> &'static str {
        "paypal"
    }

    fn default_tolerance(&self) -> Duration {
        DEFAULT_TOLERANCE
    }

    /// The certificate at `PAYPAL-CERT-URL`, when the URL is on PayPal's
    /// hosts (else `untrusted_signing_key`) and the connection pins no key.
    fn key_location(&self, request: &WebhookRequest, secrets: &[Secret]) -> Result<Option<KeyLocation>, RejectReason> {
        if secrets.iter().any(|s| !materials(s.expose()).is_empty()) {
            return Ok(None);
        }
        let (url, name) = certificate_location(required_header(request, CERT_URL)?)?;
        Ok(Some(KeyLocation {
            url: url.into(),
            format: KeyFormat::CertificateFor(name),
            token: None,
            cache_for: CERT_CACHE,
        }))
    }

    fn verify(&self, request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
        verify(request, secrets, options)
    }

    fn normalise(&self, request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise(request, received_at_secs)
    }

    /// Signs with a development key pair (what [`Provider::generate_secret`]
    /// makes: the webhook id, then the private key); anything else gives no
    /// headers.
    fn sign(&self, _url: &str, body: &[u8], secret: &Secret, now_secs: i64) -> Vec<(String, String)> {
        let text = secret.expose();
        let (Some(webhook_id), Some(key)) = (first_plain_line(text), development_key(text)) else {
            return Vec::new();
        };
        let transmission_id = crate::signing::random_secret(32);
        let time = humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(now_secs).unwrap_or_default()),
        )
        .to_string();
        let text = signed_text(&transmission_id, &time, webhook_id, body);
        let signature = SigningKey::<Sha256>::new(key).sign(text.as_bytes());
        vec![
            (TRANSMISSION_ID.to_owned(), transmission_id),
            (TRANSMISSION_TIME.to_owned(), time),
            (TRANSMISSION_SIG.to_owned(), STANDARD.encode(signature.to_bytes())),
            (CERT_URL.to_owned(), DEVELOPMENT_CERT_URL.to_owned()),
            (AUTH_ALGO.to_owned(), SHA256_WITH_RSA.to_owned()),
        ]
    }

    /// A development connection: a webhook id on the first line, then an RSA
    /// key pair's PKCS#8 private key, which pins the key (nothing is fetched).
    fn generate_secret(&self) -> Secret {
        let pem = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
            .ok()
            .and_then(|k| k.to_pkcs8_pem(LineEnding::LF).ok())
            .map(|pem| pem.to_string())
            .unwrap_or_default();
        Secret::new(format!("WH-DEV-{}\n{pem}", crate::signing::random_secret(17).to_ascii_uppercase()))
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
