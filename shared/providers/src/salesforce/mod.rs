//! Salesforce: outbound messages (SOAP, from workflow rules and flows) and
//! Flow HTTP callouts (JSON), authenticated by a connection token, answered
//! with the `<Ack>` outbound messaging waits for. Salesforce signs neither;
//! see `docs/integrations/salesforce.md` for why the token and what else to
//! layer on.

pub mod api;
pub mod oauth;
mod outbound;
pub mod webhook;

pub use webhook::Salesforce;

/// What salesforce can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities = crate::capabilities::Capabilities {
    connect: Some(crate::capabilities::ConnectPiece { oauth: Some(&oauth::FLOW), api_key: None, wc_keys: false }),
    ..crate::capabilities::Capabilities::listening("salesforce", true)
};
