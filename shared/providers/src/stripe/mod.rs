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
        through: &[],
    }),
    connect: Some(crate::capabilities::ConnectPiece { oauth: None, api_key: Some(&KEYS), wc_keys: false }),
    api: true,
};

/// How a user's own credentials for stripe are checked before they are saved.
pub const KEYS: crate::connect::KeyCheck = crate::connect::KeyCheck {
    required: &["api_key"],
    optional: &["webhook_secret"],
    base_url: Some("https://api.stripe.com"),
    alternatives: &[],
    probe: |input| crate::connect::KeyProbe {
        method: http::Method::GET,
        path: "/v1/balance".into(),
        auth: crate::connect::KeyAuth::Bearer(input.get("api_key")),
        form: &[],
    },
};
