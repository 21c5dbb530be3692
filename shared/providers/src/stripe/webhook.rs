//! Stripe's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use std::time::Duration;

use portage_core::provider::{Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use rand::distr::{Alphanumeric, SampleString};

use super::verify::{SIGNATURE_HEADER, signature_header};
use super::{normalise, verify};

/// The Stripe provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stripe;

impl Provider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn default_tolerance(&self) -> Duration {
        verify::DEFAULT_TOLERANCE
    }

    fn verify(&self, request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
        verify::verify(request, secrets, options)
    }

    fn normalise(&self, request: &WebhookRequest, _received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise::normalise(&request.body)
    }

    fn sign(&self, _url: &str, body: &[u8], secret: &Secret, now_secs: i64) -> Vec<(String, String)> {
        vec![(SIGNATURE_HEADER.to_owned(), signature_header(body, &[secret], now_secs))]
    }

    fn generate_secret(&self) -> Secret {
        Secret::new(format!("whsec_{}", Alphanumeric.sample_string(&mut rand::rng(), 32)))
    }
}
