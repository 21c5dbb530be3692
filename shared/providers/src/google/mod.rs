//! Google: accounts linked with OAuth 2.0 (offline access, PKCE) for the
//! identity actions; Google sends Portage no webhooks. See
//! `docs/integrations/google.md`.

pub mod oauth;

/// What Google can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities = crate::capabilities::Capabilities {
    webhooks: false,
    connect: Some(crate::capabilities::ConnectPiece { oauth: Some(&oauth::FLOW), api_key: None, wc_keys: false }),
    ..crate::capabilities::Capabilities::listening("google", false)
};
