//! Etsy (Open API v3 webhooks): signed the Standard Webhooks way, with a
//! thin body that names the receipt to fetch. See `docs/integrations/etsy.md`.

pub mod api;
pub mod oauth;
pub mod webhook;

pub use webhook::Etsy;

/// What etsy can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities = crate::capabilities::Capabilities {
    connect: Some(crate::capabilities::ConnectPiece { oauth: Some(&oauth::FLOW), api_key: None, wc_keys: false }),
    ..crate::capabilities::Capabilities::listening("etsy", true)
};
