//! eBay notifications (Notification API): the endpoint challenge, the
//! `X-EBAY-SIGNATURE` check with eBay's public key fetched by its key id,
//! and normalisation. See `docs/integrations/ebay.md`.
//!
//! A connection's `webhook_secret` is the verification token registered with
//! the endpoint (it answers the challenge); `client_id` and `client_secret`
//! are the application's keyset, whose token fetches eBay's public keys. A
//! connection may pin a key instead (a secret holding the key as
//! getPublicKey serves it, or its PEM); development connections hold a key
//! pair.

pub mod api;
mod keys;
pub mod oauth;
pub mod webhook;

pub use webhook::Ebay;

/// What ebay can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities = crate::capabilities::Capabilities {
    connect: Some(crate::capabilities::ConnectPiece { oauth: Some(&oauth::FLOW), api_key: None, wc_keys: false }),
    ..crate::capabilities::Capabilities::listening("ebay", true)
};
