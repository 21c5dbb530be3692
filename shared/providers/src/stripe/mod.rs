//! Stripe: `Stripe-Signature` verification, event normalisation, the sync
//! handlers for customers, subscriptions, invoices, checkout sessions and
//! payment intents, reconcile, and the customer and refund actions. See `docs/integrations/stripe.md`.

pub mod api;
pub mod commands;
mod normalise;
pub mod reconcile;
pub mod records;
pub mod sync;
mod verify;
pub mod webhook;

use std::sync::Arc;

use crate::capabilities::{Capabilities, CommandsPiece, SyncPiece};

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
    commands: Some(CommandsPiece {
        actions: &commands::ACTIONS,
        executor: |deps| Arc::new(commands::StripeActions::new(deps.clients.clone(), deps.clock.clone())),
    }),
    connect: None,
    api: true,
};
