//! GitHub: `X-Hub-Signature-256` verification, the `ping` handshake, and
//! event normalisation (repository and GitHub App webhooks). See
//! `docs/integrations/github.md`.

pub mod oauth;
pub mod webhook;

pub use webhook::{GitHub, SIGNATURE_HEADER, signature};

/// What github can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities = crate::capabilities::Capabilities {
    connect: Some(crate::capabilities::ConnectPiece { oauth: Some(&oauth::FLOW), api_key: None, wc_keys: false }),
    ..crate::capabilities::Capabilities::listening("github", false)
};
