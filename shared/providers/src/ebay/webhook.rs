//! eBay's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use std::time::Duration;

use self::keys::{Digest as KeyDigest, development_key, plain_text, verifying_keys};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{DerSignature, Signature};
use portage_core::provider::{
    ClientCredentials, HandshakeReply, KeyFormat, KeyLocation, Provider, VerifyOptions, WebhookRequest,
};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest;

use super::keys;
use crate::fields::{MAX_LEN, id_text, rfc3339_secs};
use crate::signing::{random_secret, required_header, sha256_hex};

const SIGNATURE_HEADER: &str = "X-EBAY-SIGNATURE";
/// getPublicKey, by key id; sandboxes are reached by pointing `api.ebay.com`
/// at `https://api.sandbox.ebay.com` (`PORTAGE_PROVIDER_ORIGINS`).
const PUBLIC_KEY_URL: &str = "https://api.ebay.com/commerce/notification/v1/public_key/";
const TOKEN_URL: &str = "https://api.ebay.com/identity/v1/oauth2/token";
const APPLICATION_SCOPE: &str = "https://api.ebay.com/oauth/api_scope";
/// eBay rotates notification keys rarely; an hour's cache keeps the
/// Notification API's daily call limit far away.
const KEY_CACHE: Duration = Duration::from_secs(3600);
/// The key id `sign` names in development: its key is pinned, never fetched.
const DEVELOPMENT_KID: &str = "portage-development";

/// `X-EBAY-SIGNATURE`, once base64-decoded.
#[derive(Deserialize)]
struct SignatureHeader {
    alg: String,
    kid: String,
    signature: String,
    #[serde(default)]
    digest: Option<String>,
}

fn signature_header(request: &WebhookRequest) -> Result<SignatureHeader, RejectReason> {
    let encoded = required_header(request, SIGNATURE_HEADER)?;
    let json = STANDARD.decode(encoded.trim()).map_err(|_| RejectReason::MalformedSignature)?;
    let header: SignatureHeader = serde_json::from_slice(&json).map_err(|_| RejectReason::MalformedSignature)?;
    let kid_ok = !header.kid.is_empty()
        && header.kid.len() <= 128
        && header.kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !kid_ok {
        return Err(RejectReason::MalformedSignature);
    }
    if !header.alg.eq_ignore_ascii_case("ecdsa") {
        return Err(RejectReason::NoSupportedSignature);
    }
    Ok(header)
}

/// Checks a notification: ECDSA P-256 (base64 DER) over the raw body's
/// digest (SHA-1, as eBay's keys say; SHA-256 where the header names it),
/// with any key among the secrets. eBay's SDK verifies a re-serialisation of
/// the parsed body instead; the raw bytes are what eBay sent and signed.
fn verify(request: &WebhookRequest, secrets: &[Secret], _options: VerifyOptions) -> Result<(), RejectReason> {
    let header = signature_header(request)?;
    let keys = verifying_keys(secrets);
    if keys.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    let der = STANDARD.decode(header.signature.trim()).map_err(|_| RejectReason::MalformedSignature)?;
    let der = DerSignature::from_bytes(&der).map_err(|_| RejectReason::MalformedSignature)?;
    let signature = Signature::try_from(der).map_err(|_| RejectReason::MalformedSignature)?;
    let named = match header.digest.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("SHA1") => KeyDigest::Sha1,
        Some("SHA256") => KeyDigest::Sha256,
        Some(_) => return Err(RejectReason::NoSupportedSignature),
    };
    let matched = keys.iter().any(|(key, digest)| {
        let prehash = digest.unwrap_or(named).hash(&request.body);
        key.verify_prehash(&prehash, &signature).is_ok()
    });
    if matched { Ok(()) } else { Err(RejectReason::SignatureMismatch) }
}

/// Event id `notification.notificationId`, type `metadata.topic`, time
/// `notification.eventDate`; the object a user (account deletion) or a
/// listing, where the data names one.
fn normalise(request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
    let body: Value = serde_json::from_slice(&request.body).map_err(|_| RejectReason::MalformedPayload)?;
    let text = |pointer: &str| id_text(body.pointer(pointer), MAX_LEN);
    let (object_kind, object_id) = match (text("/notification/data/userId"), text("/notification/data/listingId")) {
        (Some(user), _) => (Some("user".to_owned()), Some(user)),
        (None, Some(listing)) => (Some("listing".to_owned()), Some(listing)),
        (None, None) => (None, None),
    };
    Ok(NormalizedEvent {
        event_id: text("/notification/notificationId").ok_or(RejectReason::MalformedPayload)?,
        event_type: text("/metadata/topic").ok_or(RejectReason::MalformedPayload)?,
        occurred_at: body
            .pointer("/notification/eventDate")
            .and_then(Value::as_str)
            .and_then(rfc3339_secs)
            .unwrap_or(received_at_secs),
        account: None,
        object_kind,
        object_id,
        livemode: None,
    })
}

/// The answer to eBay's endpoint challenge, `GET …?challenge_code=C`:
/// `{"challengeResponse": hex(SHA-256(C + verification token + endpoint))}`,
/// the endpoint being the URL eBay called without its query.
fn challenge(request: &WebhookRequest, secrets: &[Secret]) -> Option<HandshakeReply> {
    if request.method != "GET" {
        return None;
    }
    let (endpoint, query) = request.url.split_once('?')?;
    let code = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "challenge_code")?.1;
    let token = secrets.iter().find_map(|s| plain_text(s.expose()))?;
    let response = sha256_hex(format!("{code}{token}{endpoint}").as_bytes());
    Some(HandshakeReply { status: 200, body: json!({ "challengeResponse": response }) })
}

/// The eBay provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ebay;

impl Provider for Ebay {
    fn name(&self) -> &'static str {
        "ebay"
    }

    /// The key the header's `kid` names, through getPublicKey with the
    /// application's token, unless the connection pins a key.
    fn key_location(&self, request: &WebhookRequest, secrets: &[Secret]) -> Result<Option<KeyLocation>, RejectReason> {
        if !verifying_keys(secrets).is_empty() {
            return Ok(None);
        }
        let header = signature_header(request)?;
        Ok(Some(KeyLocation {
            url: format!("{PUBLIC_KEY_URL}{}", header.kid),
            format: KeyFormat::AsServed,
            token: Some(ClientCredentials { token_url: TOKEN_URL.to_owned(), scope: APPLICATION_SCOPE.to_owned() }),
            cache_for: KEY_CACHE,
        }))
    }

    fn unsigned_handshake(&self, request: &WebhookRequest, secrets: &[Secret]) -> Option<HandshakeReply> {
        challenge(request, secrets)
    }

    fn verify(&self, request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
        verify(request, secrets, options)
    }

    fn normalise(&self, request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise(request, received_at_secs)
    }

    /// Signs with a development key pair (what [`Provider::generate_secret`]
    /// makes); anything else gives no headers.
    fn sign(&self, _url: &str, body: &[u8], secret: &Secret, _now_secs: i64) -> Vec<(String, String)> {
        let Some(key) = development_key(secret.expose()) else {
            return Vec::new();
        };
        let Ok(signature): Result<Signature, _> = key.sign_prehash(&sha1::Sha1::digest(body)) else {
            return Vec::new();
        };
        let header = json!({
            "alg": "ecdsa",
            "kid": DEVELOPMENT_KID,
            "signature": STANDARD.encode(signature.to_der().as_bytes()),
            "digest": "SHA1",
        });
        vec![(SIGNATURE_HEADER.to_owned(), STANDARD.encode(header.to_string()))]
    }

    /// A development connection: a verification token on the first line,
    /// then a P-256 key pair's PKCS#8 private key, which pins the key.
    fn generate_secret(&self) -> Secret {
        Secret::new(format!("{}\n{}", random_secret(48), keys::generate_development_pem()))
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
