//! SendGrid (Twilio SendGrid) Event Webhook: the signed webhook's ECDSA P-256
//! verification with the account's public key, and normalisation of event
//! batches. See `docs/integrations/sendgrid.md`.

pub mod api;
pub mod webhook;

pub use webhook::{SendGrid, verifying_key};

/// What sendgrid can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities =
    crate::capabilities::Capabilities::listening("sendgrid", true);
