//! WooCommerce: `X-WC-Webhook-Signature` verification, the unsigned ping a
//! store sends when a webhook is created, and event normalisation. See
//! `docs/integrations/woocommerce.md`.

pub mod api;
pub mod webhook;

pub use webhook::{WooCommerce, signature, signing_key};

/// What woocommerce can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities =
    crate::capabilities::Capabilities::listening("woocommerce", true);
