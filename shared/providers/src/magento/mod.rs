//! Magento 2 / Adobe Commerce webhooks: `x-adobe-commerce-webhook-signature`
//! verification with the store's public key, the `{"op": "success"}` reply
//! Commerce reads, and normalisation. See `docs/integrations/magento.md`.

pub mod api;
pub mod webhook;

pub use webhook::Magento;

/// What magento can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities =
    crate::capabilities::Capabilities::listening("magento", true);
