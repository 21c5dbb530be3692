//! The contract every provider module fulfils, and the registry that finds
//! them by name.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use async_trait::async_trait;

use crate::domain::{EventRecord, NormalizedEvent, StateChange};
use crate::error::{RejectReason, SyncError};
use crate::secret::Secret;

/// One webhook delivery exactly as it arrived: the bytes a signature covers.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    /// HTTP method, upper case.
    pub method: String,
    /// The public URL the provider called (some schemes sign it).
    pub url: String,
    /// Headers; lookups are case-insensitive.
    pub headers: HeaderMap,
    /// The raw body, byte for byte.
    pub body: Bytes,
}

/// Settings a verifier needs besides the secrets.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// How far a signed timestamp may lie from now (where the scheme has one).
    pub tolerance: Duration,
    /// Now, in Unix seconds.
    pub now_secs: i64,
    /// Also accept a provider's legacy schemes that sign no timestamp (HubSpot
    /// v1/v2), for connections whose app still uses them. Off by default:
    /// they allow replays outside any window.
    pub legacy_schemes: bool,
}

/// How a provider's notifications reach Portage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Signed HTTP deliveries to `/webhooks/{provider}`.
    Http,
    /// Messages on a queue or event bus that only the provider may write to
    /// (Amazon SP-API's SQS queue or EventBridge): the transport, not a
    /// signature, authenticates them.
    Queue,
}

/// An answer to a provider's handshake (a challenge, a URL verification, a
/// ping): sent as it is, and nothing is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct HandshakeReply {
    /// HTTP status code.
    pub status: u16,
    /// JSON body.
    pub body: serde_json::Value,
}

/// A provider's own acknowledgement of an accepted delivery, sent as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its body.
    pub body: String,
}

/// Where the key that signed a delivery is fetched from, for schemes that
/// name it instead of sharing a secret: PayPal's certificate URL, eBay's key
/// id. Always a URL on the provider's own hosts; the provider checks that
/// before it hands one out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyLocation {
    /// The HTTPS URL the key is served at.
    pub url: String,
    /// What the served document must be.
    pub format: KeyFormat,
    /// The OAuth 2.0 client-credentials grant whose bearer token the fetch
    /// needs (eBay's getPublicKey), made with the connection's `client_id`
    /// and `client_secret`; `None` for a plain GET.
    pub token: Option<ClientCredentials>,
    /// How long a fetched key may be used before it is fetched again.
    pub cache_for: Duration,
}

/// What a fetched signing key must be.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyFormat {
    /// Whatever the provider serves; the verifier parses it.
    AsServed,
    /// A PEM certificate chain whose first certificate is valid now for this
    /// DNS name and chains to a public root (PayPal's signing certificate).
    CertificateFor(&'static str),
}

/// An OAuth 2.0 client-credentials grant (RFC 6749, section 4.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientCredentials {
    /// The token endpoint.
    pub token_url: String,
    /// The scopes asked for, space-separated.
    pub scope: String,
}

/// A provider's webhook source: verification, handshakes, acknowledgement
/// and normalisation of its deliveries. One implementation per provider, in
/// its module; it is all a webhook function links. What the provider can do
/// beyond listening (sync, reconcile, commands) are other pieces.
pub trait Provider: Send + Sync {
    /// The name used in routes, records and configuration (e.g. `stripe`).
    fn name(&self) -> &'static str;

    /// How its notifications arrive; HTTP unless the provider says otherwise.
    fn transport(&self) -> Transport {
        Transport::Http
    }

    /// The signature tolerance the provider's official library uses; zero
    /// (no window) for schemes that sign no timestamp, whose replays are
    /// caught by the event id instead.
    fn default_tolerance(&self) -> Duration {
        Duration::ZERO
    }

    /// Checks the delivery's signature against any of the secrets, in constant
    /// time, on the raw bytes.
    fn verify(&self, request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason>;

    /// Answers a handshake that comes unsigned (WooCommerce's ping on webhook
    /// creation; a challenge answered with the connection's token from
    /// `secrets`). Asked before verification, with the connection's secrets
    /// (possibly none); `None` for ordinary deliveries.
    fn unsigned_handshake(&self, request: &WebhookRequest, secrets: &[Secret]) -> Option<HandshakeReply> {
        let _ = (request, secrets);
        None
    }

    /// Where to fetch the key that signed this delivery, for schemes that
    /// name one (PayPal, eBay); the fetched key is passed to [`verify`]
    /// after the connection's secrets. `None` for shared-secret schemes, and
    /// when the connection pins the key in `secrets` itself. A location off
    /// the provider's own hosts is refused with
    /// [`RejectReason::UntrustedSigningKey`].
    ///
    /// [`verify`]: Provider::verify
    fn key_location(&self, request: &WebhookRequest, secrets: &[Secret]) -> Result<Option<KeyLocation>, RejectReason> {
        let _ = (request, secrets);
        Ok(None)
    }

    /// Answers a handshake that comes signed (Slack's URL verification,
    /// GitHub's ping). Asked after verification; `None` for ordinary deliveries.
    fn signed_handshake(&self, request: &WebhookRequest) -> Option<HandshakeReply> {
        let _ = request;
        None
    }

    /// The body of the 200 that acknowledges an accepted delivery, where the
    /// provider requires a particular one (Adobe Commerce reads `{"op":
    /// "success"}`, Salesforce a SOAP `<Ack>`); `None` for Portage's own
    /// `{"received": true, …}`.
    fn acknowledgement(&self, request: &WebhookRequest) -> Option<Acknowledgement> {
        let _ = request;
        None
    }

    /// Extracts the normalised fields from a verified delivery.
    /// `received_at_secs` stands in for the event time where the provider's
    /// deliveries carry none.
    fn normalise(&self, request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason>;

    /// Signs a body posted to `url` as the provider would, returning the
    /// headers to send with it (a `Content-Type` among them where the
    /// provider's is not JSON): what `portage webhook send` and the tests use.
    fn sign(&self, url: &str, body: &[u8], secret: &Secret, now_secs: i64) -> Vec<(String, String)>;

    /// Generates a development signing secret in the provider's format.
    fn generate_secret(&self) -> Secret;
}

/// The providers this build knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    providers: BTreeMap<&'static str, Arc<dyn Provider>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a provider; a second one with the same name replaces the first.
    pub fn with(mut self, provider: Arc<dyn Provider>) -> Self {
        self.providers.insert(provider.name(), provider);
        self
    }

    /// The provider registered under `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    /// Every registered provider, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.providers.values()
    }

    /// The registered names.
    pub fn names(&self) -> Vec<&'static str> {
        self.providers.keys().copied().collect()
    }
}

/// A provider's sync capability: the state changes a recorded event calls
/// for. Async, and built with the process's API clients injected, so a
/// handler whose events are thin (ids, not objects) fetches the current
/// object through the connection's long-lived client; it never builds one.
#[async_trait]
pub trait SyncHandler: Send + Sync {
    /// The changes `event` calls for; empty for event types that carry no
    /// state Portage keeps.
    async fn state_changes(&self, event: &EventRecord) -> Result<Vec<StateChange>, SyncError>;
}

/// The sync handlers of this build, by provider name. A provider without one
/// has its events recorded, queued and kept for replay, and writes no state.
#[derive(Clone, Default)]
pub struct SyncHandlers {
    handlers: BTreeMap<&'static str, Arc<dyn SyncHandler>>,
}

impl SyncHandlers {
    /// No handlers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `provider`'s handler.
    pub fn with(mut self, provider: &'static str, handler: Arc<dyn SyncHandler>) -> Self {
        self.handlers.insert(provider, handler);
        self
    }

    /// The handler of `provider`, if it has one.
    pub fn get(&self, provider: &str) -> Option<&Arc<dyn SyncHandler>> {
        self.handlers.get(provider)
    }
}
