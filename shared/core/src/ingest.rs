//! Ingest: verify, normalise, record exactly once, enqueue, answer.
//!
//! The HTTP server and the Lambda handler both turn their request into a
//! [`WebhookRequest`] and call [`Ingestor::handle`]; they only translate the
//! [`IngestResponse`] back.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tracing::{Instrument, info, info_span, warn};

use crate::domain::{NewEvent, is_valid_connection};
use crate::error::{RejectReason, StoreError};
use crate::intake::Intake;
use crate::ports::{Clock, KeyError, RecordOutcome, Secrets, SigningKeys};
use crate::provider::{Acknowledgement, KeyLocation, Provider, Registry, Transport, VerifyOptions, WebhookRequest};
use crate::secret::Secret;

/// Headers never kept with a recorded event: they may carry credentials.
const UNRECORDED_HEADERS: [&str; 5] =
    ["authorization", "proxy-authorization", "cookie", "x-api-key", "x-amz-security-token"];

/// Ingest settings.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Bodies larger than this are refused with 413.
    pub max_body_bytes: usize,
    /// Per-provider signature tolerance overriding the provider's default.
    pub tolerance: HashMap<String, Duration>,
    /// Providers whose legacy, timestamp-less schemes are accepted too
    /// (see [`VerifyOptions::legacy_schemes`]).
    pub legacy_schemes: HashSet<String>,
    /// A `received` event whose enqueue claim is older than this is enqueued
    /// again by the next delivery (the earlier attempt died).
    pub reclaim_after: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            tolerance: HashMap::new(),
            legacy_schemes: HashSet::new(),
            reclaim_after: Duration::from_secs(30),
        }
    }
}

/// What ingest decided about one delivery, typed: what the edges count in
/// their metrics, independent of how the answer is spelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Verified and durably recorded (or recorded before: `duplicate`).
    Accepted {
        /// The provider's event id.
        event_id: String,
        /// True when the event was recorded before; nothing was enqueued.
        duplicate: bool,
    },
    /// A handshake answered (a challenge, a ping); nothing recorded.
    Handshake,
    /// Refused, for this reason; nothing recorded.
    Rejected(RejectReason),
    /// The store failed; the provider retries.
    StorageUnavailable,
}

impl IngestOutcome {
    /// The metric an outcome counts under, and its reason code when refused.
    pub fn metric(&self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::Accepted { duplicate: false, .. } => ("accepted", None),
            Self::Accepted { duplicate: true, .. } => ("duplicate", None),
            Self::Handshake => ("handshake", None),
            Self::Rejected(reason) => ("rejected", Some(reason.code())),
            Self::StorageUnavailable => ("rejected", Some("storage_unavailable")),
        }
    }
}

/// The answer to a delivery, independent of the HTTP framework; turned into
/// HTTP in one place, [`IngestResponse::into_http`], by `portage serve` and
/// the Lambda functions alike.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestResponse {
    /// What was decided.
    pub outcome: IngestOutcome,
    /// HTTP status code.
    pub status: u16,
    /// JSON body: what was decided (`error`, `duplicate`, …), and what is sent
    /// unless the provider gives its own acknowledgement.
    pub body: serde_json::Value,
    /// The provider's own acknowledgement, sent instead of `body`.
    pub acknowledgement: Option<Acknowledgement>,
}

impl IngestResponse {
    /// The answer to a refused delivery: its status and `{"error": code}`.
    /// Also what an edge answers when it refuses before ingest runs (a body
    /// over the limit, an unknown provider).
    pub fn rejected(reason: RejectReason) -> Self {
        Self {
            outcome: IngestOutcome::Rejected(reason),
            status: reason.http_status(),
            body: json!({ "error": reason.code() }),
            acknowledgement: None,
        }
    }

    fn unavailable() -> Self {
        Self {
            outcome: IngestOutcome::StorageUnavailable,
            status: 503,
            body: json!({ "error": "storage_unavailable" }),
            acknowledgement: None,
        }
    }

    fn handshake(reply: crate::provider::HandshakeReply) -> Self {
        Self { outcome: IngestOutcome::Handshake, status: reply.status, body: reply.body, acknowledgement: None }
    }

    /// The HTTP answer: the status, and the provider's own acknowledgement
    /// where it reads one, else the JSON body.
    pub fn into_http(self) -> http::Response<Bytes> {
        let (content_type, body) = match self.acknowledgement {
            Some(ack) => (ack.content_type, Bytes::from(ack.body)),
            None => ("application/json", Bytes::from(self.body.to_string())),
        };
        let mut response = http::Response::new(body);
        *response.status_mut() =
            http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
        response
    }
}

/// Runs the ingest flow over the ports it is given.
pub struct Ingestor {
    registry: Registry,
    intake: Arc<dyn Intake>,
    secrets: Arc<dyn Secrets>,
    keys: Option<Arc<dyn SigningKeys>>,
    clock: Arc<dyn Clock>,
    config: IngestConfig,
}

impl Ingestor {
    /// Wires the flow to its ports.
    pub fn new(
        registry: Registry,
        intake: Arc<dyn Intake>,
        secrets: Arc<dyn Secrets>,
        clock: Arc<dyn Clock>,
        config: IngestConfig,
    ) -> Self {
        Self { registry, intake, secrets, keys: None, clock, config }
    }

    /// Fetches the signing keys that deliveries name (PayPal, eBay) through
    /// `keys`. Without it those deliveries are answered 503
    /// `signing_key_unavailable` unless their connection pins the key.
    pub fn with_signing_keys(mut self, keys: Arc<dyn SigningKeys>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The body size limit, for adapters that must refuse before reading.
    pub fn max_body_bytes(&self) -> usize {
        self.config.max_body_bytes
    }

    /// Handles one delivery to `/webhooks/{provider}/{connection}`.
    pub async fn handle(&self, provider: &str, connection: &str, request: WebhookRequest) -> IngestResponse {
        let span = info_span!("delivery", provider, connection, event_id = tracing::field::Empty);
        async { Self::respond(self.accept(provider, connection, request).await) }.instrument(span).await
    }

    /// Handles one notification taken from a queue or event bus only the
    /// provider can write to ([`Transport::Queue`]): no signature to check,
    /// the same record, dedupe and enqueue as a webhook.
    pub async fn handle_trusted(&self, provider: &str, connection: &str, request: WebhookRequest) -> IngestResponse {
        let span = info_span!("delivery", provider, connection, event_id = tracing::field::Empty);
        async { Self::respond(self.accept_trusted(provider, connection, request).await) }.instrument(span).await
    }

    /// Logs a failure, within the delivery's span, and answers it.
    fn respond(result: Result<IngestResponse, IngestFailure>) -> IngestResponse {
        match result {
            Ok(response) => response,
            Err(IngestFailure::Rejected(reason)) => {
                warn!(reason = reason.code(), "webhook rejected");
                IngestResponse::rejected(reason)
            }
            Err(IngestFailure::Store(error)) => {
                warn!(%error, "webhook not recorded: storage failed");
                IngestResponse::unavailable()
            }
        }
    }

    async fn accept(
        &self,
        provider_name: &str,
        connection: &str,
        request: WebhookRequest,
    ) -> Result<IngestResponse, IngestFailure> {
        let provider = self.provider(provider_name, connection, Transport::Http, &request)?;
        let secrets = self.secrets.signing_secrets(provider_name, connection).await?;
        if let Some(reply) = provider.unsigned_handshake(&request, &secrets) {
            info!(status = reply.status, "handshake answered");
            return Ok(IngestResponse::handshake(reply));
        }
        if secrets.is_empty() {
            return Err(RejectReason::NoSecretConfigured.into());
        }
        let options = VerifyOptions {
            tolerance: self
                .config
                .tolerance
                .get(provider_name)
                .copied()
                .unwrap_or_else(|| provider.default_tolerance()),
            now_secs: self.clock.now_secs(),
            legacy_schemes: self.config.legacy_schemes.contains(provider_name),
        };
        // A key the delivery names goes after the connection's secrets.
        let fetched = match provider.key_location(&request, &secrets)? {
            Some(location) => Some(self.signing_key(provider_name, connection, &location).await?),
            None => None,
        };
        match provider.verify(&request, &with_fetched(&secrets, fetched.as_ref()), options) {
            Err(RejectReason::SignatureMismatch) => {
                // The secret may have been rotated since it was cached.
                let fresh = self.secrets.refreshed_signing_secrets(provider_name, connection).await?;
                match fresh {
                    Some(fresh) if fresh != secrets => {
                        provider.verify(&request, &with_fetched(&fresh, fetched.as_ref()), options)?
                    }
                    _ => return Err(RejectReason::SignatureMismatch.into()),
                }
            }
            verdict => verdict?,
        }
        if let Some(reply) = provider.signed_handshake(&request) {
            info!(status = reply.status, "handshake answered");
            return Ok(IngestResponse::handshake(reply));
        }
        self.record(provider.as_ref(), provider_name, connection, request).await
    }

    /// The key a delivery names, from the signing-key port.
    async fn signing_key(
        &self,
        provider: &str,
        connection: &str,
        location: &KeyLocation,
    ) -> Result<Secret, RejectReason> {
        let Some(keys) = &self.keys else {
            warn!("no signing-key fetcher configured");
            return Err(RejectReason::SigningKeyUnavailable);
        };
        keys.fetch(provider, connection, location).await.map_err(|error| {
            // The error names the URL and what went wrong, never a credential.
            warn!(%error, "signing key not fetched");
            match error {
                KeyError::Untrusted(_) => RejectReason::UntrustedSigningKey,
                KeyError::Unavailable(_) | KeyError::MissingCredential(_) => RejectReason::SigningKeyUnavailable,
            }
        })
    }

    async fn accept_trusted(
        &self,
        provider_name: &str,
        connection: &str,
        request: WebhookRequest,
    ) -> Result<IngestResponse, IngestFailure> {
        // A webhook source's deliveries are never taken unverified: only a
        // queue-borne provider is found here.
        let provider = self.provider(provider_name, connection, Transport::Queue, &request)?;
        self.record(provider.as_ref(), provider_name, connection, request).await
    }

    /// The provider a delivery is for, if it arrives by `transport` on a
    /// well-formed connection name, and the body within the limit.
    fn provider(
        &self,
        name: &str,
        connection: &str,
        transport: Transport,
        request: &WebhookRequest,
    ) -> Result<&Arc<dyn Provider>, RejectReason> {
        let provider = self.registry.get(name).filter(|p| p.transport() == transport);
        let provider = provider.ok_or(RejectReason::UnknownProvider)?;
        if !is_valid_connection(connection) {
            return Err(RejectReason::InvalidConnection);
        }
        if request.body.len() > self.config.max_body_bytes {
            return Err(RejectReason::PayloadTooLarge);
        }
        Ok(provider)
    }

    /// Normalises a delivery that passed its checks, records it exactly once
    /// and enqueues it.
    async fn record(
        &self,
        provider: &dyn Provider,
        provider_name: &str,
        connection: &str,
        request: WebhookRequest,
    ) -> Result<IngestResponse, IngestFailure> {
        let event = provider.normalise(&request, self.clock.now_secs())?;
        let acknowledgement = provider.acknowledgement(&request);

        let event_id = event.event_id.clone();
        let new_event = NewEvent {
            provider: provider_name.to_owned(),
            connection: connection.to_owned(),
            event,
            headers: recorded_headers(&request.headers),
            raw: request.body,
            received_at_ms: self.clock.now_ms(),
        };
        let reclaim_ms = i64::try_from(self.config.reclaim_after.as_millis()).unwrap_or(i64::MAX);
        let outcome = self.intake.record_and_enqueue(new_event, reclaim_ms).await?;
        let duplicate = !matches!(outcome, RecordOutcome::Inserted);
        tracing::Span::current().record("event_id", event_id.as_str());
        info!(duplicate, "webhook accepted");
        Ok(IngestResponse {
            outcome: IngestOutcome::Accepted { event_id: event_id.clone(), duplicate },
            status: 200,
            body: json!({ "received": true, "event_id": event_id, "duplicate": duplicate }),
            acknowledgement,
        })
    }
}

/// The connection's secrets followed by the key the delivery named, when one
/// was fetched; the secrets as they are otherwise.
fn with_fetched<'a>(secrets: &'a [Secret], fetched: Option<&Secret>) -> Cow<'a, [Secret]> {
    match fetched {
        Some(key) => Cow::Owned(secrets.iter().chain([key]).cloned().collect()),
        None => Cow::Borrowed(secrets),
    }
}

/// The headers kept with a recorded event, credentials left out.
fn recorded_headers(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !UNRECORDED_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect()
}

enum IngestFailure {
    Rejected(RejectReason),
    Store(StoreError),
}

impl From<RejectReason> for IngestFailure {
    fn from(reason: RejectReason) -> Self {
        Self::Rejected(reason)
    }
}

impl From<StoreError> for IngestFailure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::TooLarge(_) => Self::Rejected(RejectReason::PayloadTooLarge),
            other => Self::Store(other),
        }
    }
}
