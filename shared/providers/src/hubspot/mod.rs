//! HubSpot: v3 request signatures (v1/v2 where a connection opts in) and
//! normalisation of webhook batches. See `docs/integrations/hubspot.md`.

pub mod api;
pub mod oauth;
pub(crate) mod verify;
pub mod webhook;

pub use webhook::HubSpot;

/// What hubspot can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities = crate::capabilities::Capabilities {
    connect: Some(crate::capabilities::ConnectPiece { oauth: Some(&oauth::FLOW), api_key: None, wc_keys: false }),
    ..crate::capabilities::Capabilities::listening("hubspot", true)
};
