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
        through: &[],
    }),
    connect: Some(crate::capabilities::ConnectPiece { oauth: None, api_key: Some(&KEYS), wc_keys: false }),
    ..Capabilities::listening("twilio", true)
};

/// How a user's own credentials for twilio are checked before they are saved.
pub const KEYS: crate::connect::KeyCheck = crate::connect::KeyCheck {
    required: &["account_sid", "auth_token"],
    optional: &[],
    base_url: Some("https://api.twilio.com"),
    alternatives: &[],
    probe: |input| crate::connect::KeyProbe {
        method: http::Method::GET,
        path: format!("/2010-04-01/Accounts/{}.json", input.get("account_sid")),
        auth: crate::connect::KeyAuth::Basic(input.get("account_sid"), input.get("auth_token")),
        form: &[],
    },
};
