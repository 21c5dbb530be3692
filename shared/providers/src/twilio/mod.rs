//! Twilio: `X-Twilio-Signature` verification (HMAC-SHA1 over the URL and
//! sorted form parameters, `bodySHA256` for JSON, the SHA-256 variant of
//! SharedKeys), normalisation of messaging and voice callbacks, and the
//! `sms.send` action. See
//! `docs/integrations/twilio.md`.

pub mod api;
pub mod commands;
pub mod records;
pub mod sync;
pub(crate) mod verify;
pub mod webhook;

use std::sync::Arc;

use crate::capabilities::{Capabilities, CommandsPiece, SyncPiece};

pub use webhook::Twilio;

/// What twilio can do (see [`crate::capabilities`]).
pub const CAPABILITIES: Capabilities = Capabilities {
    sync: Some(SyncPiece { kinds: &records::SYNC_KINDS, handler: |_, _| Arc::new(sync::TwilioSync) }),
    commands: Some(CommandsPiece {
        actions: &commands::ACTIONS,
        executor: |deps| {
            Arc::new(commands::TwilioActions::new(
                deps.clients.clone(),
                deps.secrets.clone(),
                deps.clock.clone(),
                deps.public_base_url.clone(),
            ))
        },
    }),
    ..Capabilities::listening("twilio", true)
};
