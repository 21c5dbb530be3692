//! PayPal webhooks: the certificate-based signature check PayPal's SDKs make
//! (`WebhookEvent.verify`), the certificate fetched only from PayPal's own
//! hosts, normalisation of its events, and their sync into subscription,
//! sale, capture and order records (capturing Portage's approved orders).
//! See `docs/integrations/paypal.md`.
//!
//! A connection's `webhook_secret` is the webhook's id (PayPal signs it into
//! every delivery, so a delivery meant for another webhook fails). The
//! signing certificate comes from the delivery's `PAYPAL-CERT-URL` through the
//! signing-key port, which checks its chain; a connection may instead pin it
//! (a secret holding the PEM certificate), and development connections hold
//! a key pair.

pub mod api;
mod certificate;
pub mod records;
pub mod sync;
pub mod webhook;

pub use webhook::PayPal;

/// What paypal can do (see [`crate::capabilities`]).
pub const CAPABILITIES: crate::capabilities::Capabilities = crate::capabilities::Capabilities {
    sync: Some(crate::capabilities::SyncPiece {
        kinds: &records::SYNC_KINDS,
        handler: |clients, clock| std::sync::Arc::new(sync::PayPalSync::new(clients, clock)),
    }),
    connect: Some(crate::capabilities::ConnectPiece { oauth: None, api_key: Some(&KEYS), wc_keys: false }),
    ..crate::capabilities::Capabilities::listening("paypal", true)
};

/// How a user's own credentials for paypal are checked before they are saved.
pub const KEYS: crate::connect::KeyCheck = crate::connect::KeyCheck {
    required: &["client_id", "client_secret"],
    optional: &["webhook_id"],
    base_url: Some("https://api-m.paypal.com"),
    alternatives: &["https://api-m.sandbox.paypal.com"],
    probe: |input| crate::connect::KeyProbe {
        method: http::Method::POST,
        path: "/v1/oauth2/token".into(),
        auth: crate::connect::KeyAuth::Basic(input.get("client_id"), input.get("client_secret")),
        form: &[("grant_type", "client_credentials")],
    },
};
