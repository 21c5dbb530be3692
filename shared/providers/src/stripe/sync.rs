//! Turns Stripe events into local state records: the event's object, as
//! [`super::records`] maps it, versioned by the event's `created`.
//!
//! Stripe's events are snapshots: `data.object` is the whole object as of
//! the event, so an event delivered late or out of order is ordered by its
//! version and never overwrites newer state, and nothing needs fetching.
//! One case is fetched: a subscription whose snapshot lists only some of
//! its items (`items.has_more`: Stripe embeds at most ten). The current
//! subscription is then read through the connection's long-lived client
//! (its `api_key` secret) and versioned by the second before the read, as a
//! reconcile listing is; without an `api_key` the partial snapshot is kept
//! and the gap logged.

use std::sync::Arc;

use async_trait::async_trait;
use portage_client::{ApiRequest, ClientPool, CredentialSource, ProviderError};
use portage_core::ports::Clock;
use portage_core::provider::SyncHandler;
use portage_core::{EventRecord, StateChange, SyncError};
use serde_json::{Map, Value};
use tracing::warn;

use super::api::StripeApi;
use super::records::{self, Kind};

/// Stripe's sync handler, over the process's API clients.
pub struct StripeSync {
    clients: Arc<ClientPool>,
    clock: Arc<dyn Clock>,
}

impl StripeSync {
    /// The handler, fetching through `clients` where a snapshot is partial.
    pub fn new(clients: Arc<ClientPool>, clock: Arc<dyn Clock>) -> Self {
        Self { clients, clock }
    }

    /// The current subscription, read through the connection's client;
    /// `None` when the connection has no `api_key`.
    async fn fetch_subscription(&self, connection: &str, id: &str) -> Result<Option<Value>, SyncError> {
        let credential = CredentialSource::Bearer("api_key");
        let Some(client) = self.clients.client(Arc::new(StripeApi), connection, credential).await? else {
            return Ok(None);
        };
        let request = ApiRequest::get(format!("/v1/subscriptions/{id}"));
        let response = client.send(&request).await.map_err(fetch_error)?;
        response.json("stripe").map(Some).map_err(fetch_error)
    }
}

/// A fetch failure as sync's: what may pass on a retry is transient.
fn fetch_error(error: ProviderError) -> SyncError {
    if error.is_retryable() {
        SyncError::Transient(error.to_string())
    } else {
        SyncError::Permanent { code: "provider_error", message: error.to_string() }
    }
}

/// True when the snapshot leaves out part of the object.
fn is_partial(kind: Kind, object: &Map<String, Value>) -> bool {
    kind == Kind::Subscription
        && object.get("items").and_then(|i| i.get("has_more")).and_then(Value::as_bool) == Some(true)
}

/// The event's object, from a stored Stripe event.
fn object_of(event: &EventRecord) -> Result<Map<String, Value>, SyncError> {
    let body: Value = serde_json::from_slice(&event.raw).map_err(|e| SyncError::malformed(e.to_string()))?;
    match body.pointer("/data/object") {
        Some(Value::Object(object)) => Ok(object.clone()),
        _ => Err(SyncError::malformed("event has no data.object")),
    }
}

#[async_trait]
impl SyncHandler for StripeSync {
    async fn state_changes(&self, event: &EventRecord) -> Result<Vec<StateChange>, SyncError> {
        let object = object_of(event)?;
        let Some((kind, deleted)) = Kind::of_event(&event.event.event_type) else {
            return Ok(Vec::new());
        };
        if is_partial(kind, &object)
            && let Some(id) = object.get("id").and_then(Value::as_str)
        {
            let read_at = self.clock.now_secs().saturating_sub(1);
            match self.fetch_subscription(&event.connection, id).await? {
                Some(Value::Object(current)) => return Ok(vec![records::change(kind, &current, read_at, false)?]),
                _ => warn!(connection = %event.connection, "subscription snapshot is partial and no api_key is set"),
            }
        }
        Ok(vec![records::change(kind, &object, event.event.occurred_at, deleted)?])
    }
}

/// The changes a stored event's snapshot calls for, without fetching: what
/// the tests and the benchmarks compare against.
pub fn snapshot_changes(event: &EventRecord) -> Result<Vec<StateChange>, SyncError> {
    let object = object_of(event)?;
    let Some((kind, deleted)) = Kind::of_event(&event.event.event_type) else {
        return Ok(Vec::new());
    };
    Ok(vec![records::change(kind, &object, event.event.occurred_at, deleted)?])
}
