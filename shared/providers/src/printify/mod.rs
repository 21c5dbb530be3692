//! Printify: `X-Pfy-Signature` verification (when the webhook was created
//! with a secret) and event normalisation. See `docs/integrations/printify.md`.

pub mod api;
pub mod oauth;
pub mod webhook;

pub use webhook::{Printify, signature};

/// What printify can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities = crate::capabilities::Capabilities {
    connect: Some(crate::capabilities::ConnectPiece {
        oauth: Some(&oauth::FLOW),
        api_key: Some(&KEYS),
        wc_keys: false,
    }),
    ..crate::capabilities::Capabilities::listening("printify", true)
};

/// How a user's own credentials for printify are checked before they are saved.
pub const KEYS: crate::connect::KeyCheck = crate::connect::KeyCheck {
    required: &["api_token"],
    optional: &["webhook_secret"],
    base_url: Some("https://api.printify.com"),
    alternatives: &[],
    probe: |input| crate::connect::KeyProbe {
        method: http::Method::GET,
        path: "/v1/shops.json".into(),
        auth: crate::connect::KeyAuth::Bearer(input.get("api_token")),
        form: &[],
    },
};
