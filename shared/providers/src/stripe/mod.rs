//! Stripe: `Stripe-Signature` verification, event normalisation, and the sync
//! handlers for customers, subscriptions, invoices, checkout sessions and
//! payment intents. See `docs/integrations/stripe.md`.

pub mod api;
mod normalise;
pub mod reconcile;
pub mod records;
pub mod sync;
mod verify;
pub mod webhook;

use std::sync::Arc;

use crate::capabilities::{Capabilities, SyncPiece};

pub use verify::{SIGNATURE_HEADER, signature_header};
pub use webhook::Stripe;

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
