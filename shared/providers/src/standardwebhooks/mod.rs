//! Standard Webhooks and Svix: any sender that signs the Standard Webhooks
//! way (`webhook-*` or `svix-*` headers). See
//! `docs/integrations/standardwebhooks.md`.

mod normalise;
pub(crate) mod verify;
pub mod webhook;

pub use webhook::StandardWebhooks;
pub use webhook::generate_secret;
pub(crate) use webhook::signed_headers;

/// What standardwebhooks can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities =
    crate::capabilities::Capabilities::listening("standardwebhooks", false);
