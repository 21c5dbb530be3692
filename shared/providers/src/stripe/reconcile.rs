//! Stripe's reconcile listings, through the connection's API client.
//!
//! | kind | full run | incremental run |
//! |---|---|---|
//! | `customer` | `GET /v1/customers` | `GET /v1/events?types[]=customer.created&types[]=customer.updated&types[]=customer.deleted` |
//! | `subscription` | `GET /v1/subscriptions?status=all` | `GET /v1/events?type=customer.subscription.*` |
//! | `invoice` | `GET /v1/invoices` | `GET /v1/events?type=invoice.*` |
//! | `payment` | `GET /v1/payment_intents` | `GET /v1/events?type=payment_intent.*` |
//!
//! Pages of 100, `starting_after` the last id (the page token). A full run
//! versions each object by the second before it was read (an event of the
//! very second of the read may postdate it, and so wins the tie); an
//! incremental run reads
//! the Events API from `created[gte]` and versions each event's object by
//! the event's `created`, exactly as sync does. Stripe keeps events for 30
//! days: an older cursor makes the run list everything.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portage_client::{ApiClient, ApiRequest, CredentialSource, ProviderError};
use portage_core::ports::Clock;
use portage_core::reconcile::{ChangePage, ChangeSource};
use portage_core::{StateChange, SyncError};
use serde_json::Value;

use super::api::StripeApi;
use super::records::{self, Kind};
use crate::capabilities::Listing;

/// Stripe's listing of one connection.
pub struct StripeListing {
    client: Arc<ApiClient>,
    connection: String,
    clock: Arc<dyn Clock>,
}

/// Query parameters, as name and value.
type Params = &'static [(&'static str, &'static str)];

/// One kind reconcile lists: its list path and filters, and the Events API
/// filter of its changes.
struct Listed {
    kind: Kind,
    path: &'static str,
    filters: Params,
    event_types: Params,
}

/// The kinds reconcile lists.
const KINDS: [Listed; 4] = [
    Listed {
        kind: Kind::Customer,
        path: "/v1/customers",
        filters: &[],
        event_types: &[
            ("types[]", "customer.created"),
            ("types[]", "customer.updated"),
            ("types[]", "customer.deleted"),
        ],
    },
    Listed {
        kind: Kind::Subscription,
        path: "/v1/subscriptions",
        filters: &[("status", "all")],
        event_types: &[("type", "customer.subscription.*")],
    },
    Listed { kind: Kind::Invoice, path: "/v1/invoices", filters: &[], event_types: &[("type", "invoice.*")] },
    Listed {
        kind: Kind::Payment,
        path: "/v1/payment_intents",
        filters: &[],
        event_types: &[("type", "payment_intent.*")],
    },
];

/// The kinds reconcile lists (the reconcile capability).
pub const LISTED_KINDS: [&str; 4] =
    [KINDS[0].kind.name(), KINDS[1].kind.name(), KINDS[2].kind.name(), KINDS[3].kind.name()];

/// Stripe's reconcile capability: its kinds, its client, its listing.
pub const LISTING: Listing = Listing {
    kinds: &LISTED_KINDS,
    credential: CredentialSource::Bearer("api_key"),
    policy: || Arc::new(StripeApi),
    source: |client, connection, clock| Arc::new(StripeListing::new(client, connection, clock)),
};

/// How long Stripe keeps events for the Events API.
pub const EVENT_RETENTION: Duration = Duration::from_secs(30 * 86_400);

impl StripeListing {
    /// The listing of `connection`, through its long-lived client.
    pub fn new(client: Arc<ApiClient>, connection: &str, clock: Arc<dyn Clock>) -> Self {
        Self { client, connection: connection.to_owned(), clock }
    }

    async fn page(&self, request: ApiRequest) -> Result<(Vec<Value>, Option<String>), SyncError> {
        let response = self.client.send(&request).await.map_err(sync_error)?;
        let body = response.json("stripe").map_err(sync_error)?;
        let data = body.get("data").and_then(Value::as_array).cloned().unwrap_or_default();
        let has_more = body.get("has_more").and_then(Value::as_bool).unwrap_or(false);
        let last = data.last().and_then(|o| o.get("id")).and_then(Value::as_str).map(str::to_owned);
        Ok((data, if has_more { last } else { None }))
    }
}

/// A client error as sync's: what may pass on a retry is transient.
fn sync_error(error: ProviderError) -> SyncError {
    if error.is_retryable() {
        SyncError::Transient(error.to_string())
    } else {
        SyncError::Permanent { code: "provider_error", message: error.to_string() }
    }
}

#[async_trait]
impl ChangeSource for StripeListing {
    fn provider(&self) -> &str {
        "stripe"
    }

    fn connection(&self) -> &str {
        &self.connection
    }

    fn kinds(&self) -> Vec<String> {
        LISTED_KINDS.iter().map(|&kind| kind.to_owned()).collect()
    }

    fn history(&self) -> Option<Duration> {
        Some(EVENT_RETENTION)
    }

    async fn list(&self, kind: &str, since_secs: Option<i64>, page: Option<&str>) -> Result<ChangePage, SyncError> {
        let Some(listed) = KINDS.iter().find(|listed| listed.kind.name() == kind) else {
            return Err(SyncError::Permanent { code: "unknown_kind", message: format!("stripe lists no {kind}") });
        };
        let mut request = match since_secs {
            None => ApiRequest::get(listed.path),
            Some(since) => ApiRequest::get("/v1/events").query("created[gte]", since.to_string()),
        };
        let params = if since_secs.is_some() { listed.event_types } else { listed.filters };
        for (name, value) in params {
            request = request.query(*name, *value);
        }
        request = request.query("limit", "100");
        if let Some(after) = page {
            request = request.query("starting_after", after);
        }
        let read_at = self.clock.now_secs().saturating_sub(1);
        let (items, next_page) = self.page(request).await?;
        let mut changes: Vec<StateChange> = Vec::with_capacity(items.len());
        for item in &items {
            let change = match since_secs {
                None => item.as_object().map(|object| records::change(listed.kind, object, read_at, false)),
                Some(_) => event_change(item),
            };
            match change {
                Some(Ok(change)) => changes.push(change),
                Some(Err(error)) => tracing::warn!(%error, "listed Stripe object skipped"),
                None => {}
            }
        }
        Ok(ChangePage { changes, next_page })
    }
}

/// The change one listed event makes, as sync would make it.
fn event_change(event: &Value) -> Option<Result<StateChange, SyncError>> {
    let event_type = event.get("type").and_then(Value::as_str)?;
    let (kind, deleted) = Kind::of_event(event_type)?;
    let object = event.pointer("/data/object").and_then(Value::as_object)?;
    let created = event.get("created").and_then(Value::as_i64)?;
    Some(records::change(kind, object, created, deleted))
}
