//! Stripe: `Stripe-Signature` verification, event normalisation, and the sync
//! handlers for customers, subscriptions, invoices, checkout sessions and
//! payment intents. See `docs/integrations/stripe.md`.

pub mod api;

mod normalise;
pub mod reconcile;
pub mod records;
pub mod sync;
mod verify;

use std::time::Duration;

use portage_core::provider::{Provider, VerifyOptions, WebhookRequest};

use std::sync::Arc;

use crate::capabilities::{Capabilities, SyncPiece};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use rand::distr::{Alphanumeric, SampleString};

pub use verify::{SIGNATURE_HEADER, signature_header};

/// What Stripe can do (see [`crate::capabilities`]).
pub const CAPABILITIES: Capabilities = Capabilities {
    provider: "stripe",
    webhooks: true,
    sync: Some(SyncPiece {
        kinds: &records::SYNC_KINDS,
        handler: |clients, clock| Arc::new(sync::StripeSync::new(clients, clock)),
    }),
    reconcile: Some(reconcile::LISTING),
    commands: &[],
    connect: None,
    api: true,
};

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
