//! Twilio: `X-Twilio-Signature` verification (HMAC-SHA1 over the URL and
//! sorted form parameters, `bodySHA256` for JSON, the SHA-256 variant of
//! SharedKeys) and normalisation of messaging and voice callbacks. See
//! `docs/integrations/twilio.md`.

pub mod api;
pub(crate) mod verify;
pub mod webhook;

pub use webhook::Twilio;

/// What twilio can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities =
    crate::capabilities::Capabilities::listening("twilio", true);
