//! WooCommerce: `X-WC-Webhook-Signature` verification, the unsigned ping a
//! store sends when a webhook is created, and event normalisation. See
//! `docs/integrations/woocommerce.md`.

pub mod api;
pub mod webhook;

pub use webhook::{WooCommerce, signature, signing_key};

/// What woocommerce can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities = crate::capabilities::Capabilities {
    connect: Some(crate::capabilities::ConnectPiece { oauth: None, api_key: Some(&KEYS), wc_keys: true }),
    ..crate::capabilities::Capabilities::listening("woocommerce", true)
};

/// How a user's own credentials for woocommerce are checked before they are saved.
pub const KEYS: crate::connect::KeyCheck = crate::connect::KeyCheck {
    required: &["consumer_key", "consumer_secret"],
    optional: &["webhook_secret"],
    base_url: None,
    alternatives: &[],
    probe: |input| crate::connect::KeyProbe {
        method: http::Method::GET,
        path: "/wp-json/wc/v3/system_status".into(),
        auth: crate::connect::KeyAuth::Basic(input.get("consumer_key"), input.get("consumer_secret")),
        form: &[],
    },
};
