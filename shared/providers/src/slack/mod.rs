//! Slack: `X-Slack-Signature` (v0) verification, the Events API's URL
//! verification handshake, and normalisation of Events API callbacks, slash
//! commands and interactivity payloads. See `docs/integrations/slack.md`.

pub mod webhook;

pub use webhook::{Slack, signature};

/// What slack can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities =
    crate::capabilities::Capabilities::listening("slack", false);
