//! Magento 2 / Adobe Commerce webhooks: `x-adobe-commerce-webhook-signature`
//! verification with the store's public key, the `{"op": "success"}` reply
//! Commerce reads, and normalisation. See `docs/integrations/magento.md`.

pub mod api;
pub mod webhook;

pub use webhook::Magento;

/// What magento can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities = crate::capabilities::Capabilities {
    connect: Some(crate::capabilities::ConnectPiece { oauth: None, api_key: Some(&KEYS), wc_keys: false }),
    ..crate::capabilities::Capabilities::listening("magento", true)
};

/// How a user's own credentials for magento are checked before they are saved.
pub const KEYS: crate::connect::KeyCheck = crate::connect::KeyCheck {
    required: &["access_token"],
    optional: &["webhook_secret"],
    base_url: None,
    alternatives: &[],
    probe: |input| crate::connect::KeyProbe {
        method: http::Method::GET,
        path: "/rest/V1/store/storeConfigs".into(),
        auth: crate::connect::KeyAuth::Bearer(input.get("access_token")),
        form: &[],
    },
};
