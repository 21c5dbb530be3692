//! Shopify: `X-Shopify-Hmac-Sha256` verification (and the newer Events
//! deliveries' `shopify-*` headers), event normalisation, the mandatory
//! privacy topics. See `docs/integrations/shopify.md`.

pub mod api;
pub mod oauth;
pub mod webhook;

pub use webhook::{PRIVACY_TOPICS, Shopify, signature};

/// What shopify can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities = crate::capabilities::Capabilities {
    connect: Some(crate::capabilities::ConnectPiece { oauth: Some(&oauth::FLOW), api_key: None, wc_keys: false }),
    ..crate::capabilities::Capabilities::listening("shopify", true)
};
