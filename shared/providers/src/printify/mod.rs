//! Printify: `X-Pfy-Signature` verification (when the webhook was created
//! with a secret) and event normalisation. See `docs/integrations/printify.md`.

pub mod api;
pub mod webhook;

pub use webhook::{Printify, signature};

/// What printify can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities =
    crate::capabilities::Capabilities::listening("printify", true);
