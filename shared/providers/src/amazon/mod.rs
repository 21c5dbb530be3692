//! Amazon Selling Partner API notifications. They never come over HTTP:
//! Amazon writes them to an SQS queue (or an EventBridge partner bus) whose
//! policy admits only Amazon, so the transport authenticates them and there
//! is no signature to check. `functions/notifications-amazon` (and `portage
//! notifications ingest`) take them through the same record, dedupe and
//! enqueue as webhooks. See `docs/integrations/amazon.md`.

pub mod api;
pub mod oauth;
pub mod webhook;

pub use webhook::Amazon;

/// What amazon can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities = crate::capabilities::Capabilities {
    connect: Some(crate::capabilities::ConnectPiece { oauth: Some(&oauth::FLOW), api_key: None, wc_keys: false }),
    ..crate::capabilities::Capabilities::listening("amazon", true)
};
