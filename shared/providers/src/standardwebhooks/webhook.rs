//! Standard Webhooks's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portage_core::provider::{Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};

use super::{normalise, verify};

/// The Standard Webhooks provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct StandardWebhooks;

/// Headers a Standard Webhooks sender sends for `body` (the message id is
/// derived from the body, so re-sending it is a duplicate).
pub(crate) fn signed_headers(body: &[u8], secret: &Secret, now_secs: i64) -> Vec<(String, String)> {
    let id = format!("msg_{}", &crate::signing::sha256_hex(body)[..24]);
    let signature = verify::key(secret).map(|key| verify::sign(&id, now_secs, body, &key)).unwrap_or_default();
    vec![
        ("webhook-id".to_owned(), id),
        ("webhook-timestamp".to_owned(), now_secs.to_string()),
        ("webhook-signature".to_owned(), signature),
    ]
}

/// A fresh `whsec_` secret: 24 random bytes, base64.
pub fn generate_secret() -> Secret {
    Secret::new(format!("whsec_{}", STANDARD.encode(rand::random::<[u8; 24]>())))
}

impl Provider for StandardWebhooks {
    fn name(&self) -> &'static str {
        "standardwebhooks"
    }

    fn default_tolerance(&self) -> Duration {
        verify::DEFAULT_TOLERANCE
    }

    fn verify(&self, request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
        verify::verify(request, secrets, options)
    }

    fn normalise(&self, request: &WebhookRequest, _received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise::normalise(request)
    }

    fn sign(&self, _url: &str, body: &[u8], secret: &Secret, now_secs: i64) -> Vec<(String, String)> {
        signed_headers(body, secret, now_secs)
    }

    fn generate_secret(&self) -> Secret {
        generate_secret()
    }
}
