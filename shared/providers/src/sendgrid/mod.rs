//! SendGrid (Twilio SendGrid) Event Webhook: the signed webhook's ECDSA P-256
//! verification with the account's public key, and normalisation of event
//! batches, and the `email.send` action. See `docs/integrations/sendgrid.md`.

pub mod api;
pub mod commands;
pub mod records;
pub mod sync;
pub mod webhook;

use std::sync::Arc;

use crate::capabilities::{Capabilities, CommandsPiece, SyncPiece};

pub use webhook::{SendGrid, verifying_key};

/// What sendgrid can do (see [`crate::capabilities`]).
pub const CAPABILITIES: Capabilities = Capabilities {
    sync: Some(SyncPiece { kinds: &records::SYNC_KINDS, handler: |_, _| Arc::new(sync::SendGridSync) }),
    commands: Some(CommandsPiece {
        actions: &commands::ACTIONS,
        executor: |deps| Arc::new(commands::SendGridActions::new(deps.clients.clone(), deps.clock.clone())),
        through: &[],
    }),
    connect: Some(crate::capabilities::ConnectPiece { oauth: None, api_key: Some(&KEYS), wc_keys: false }),
    ..Capabilities::listening("sendgrid", true)
};

/// How a user's own credentials for sendgrid are checked before they are saved.
pub const KEYS: crate::connect::KeyCheck = crate::connect::KeyCheck {
    required: &["api_key"],
    optional: &["webhook_secret"],
    base_url: Some("https://api.sendgrid.com"),
    alternatives: &[],
    probe: |input| crate::connect::KeyProbe {
        method: http::Method::GET,
        path: "/v3/scopes".into(),
        auth: crate::connect::KeyAuth::Bearer(input.get("api_key")),
        form: &[],
    },
};
