//! The ports: what the flows need from the outside world. The embedded adapters
//! (SQLite) and the AWS adapters (DynamoDB, SQS, Secrets Manager) implement
//! these, and both pass the same conformance suite.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::domain::{
    DeadLetter, Delivery, EventFilter, EventKey, EventRecord, EventStatus, NewEvent, StateChange, StateRecord, Task,
};
use crate::error::StoreError;
use crate::provider::KeyLocation;
use crate::secret::Secret;

/// What the first write of a delivery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// First time seen: recorded as `received`; the caller must enqueue it.
    Inserted,
    /// Seen before, still `received`, and the earlier attempt to enqueue it is
    /// older than the reclaim window (it died): the caller must enqueue it.
    Reclaimed,
    /// Seen before and queued, in flight or done: nothing to enqueue.
    Duplicate(EventStatus),
}

/// What an attempt to lease an event for processing found.
#[derive(Debug, Clone)]
pub enum LeaseOutcome {
    /// The caller holds the lease until the deadline it asked for.
    Leased(Box<EventRecord>),
    /// The event is already `processed` or `failed`.
    AlreadyFinal(EventStatus),
    /// Another worker holds an unexpired lease, until this time (Unix ms).
    Busy(i64),
    /// No such event.
    NotFound,
}

/// How a leased event ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Applied; the detail summarises what changed.
    Processed(String),
    /// Failed permanently with this error code and message.
    Failed(String),
    /// Not done: back to `queued` for another attempt, with the error seen.
    Retry(String),
}

/// The durable record of every accepted delivery.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Records a verified delivery exactly once per (provider, connection,
    /// event id), as one conditional write. A record still `received` whose enqueue claim is
    /// older than `reclaim_after_ms` is claimed again (see [`RecordOutcome`]).
    async fn record(&self, event: NewEvent, reclaim_after_ms: i64) -> Result<RecordOutcome, StoreError>;

    /// Moves a `received` event to `queued` once its message is on the queue.
    async fn mark_queued(&self, key: &EventKey) -> Result<(), StoreError>;

    /// Takes the processing lease until `until_ms`, when the event is
    /// `received`, `queued`, or `processing` with an expired lease. With
    /// `force`, final events are leased too (operator replay).
    async fn lease(&self, key: &EventKey, now_ms: i64, until_ms: i64, force: bool) -> Result<LeaseOutcome, StoreError>;

    /// Ends a lease. Has effect only while the event is `processing`.
    async fn finish(&self, key: &EventKey, finish: Finish, now_ms: i64) -> Result<(), StoreError>;

    /// Makes a `failed` event processable again (`queued`), for an operator's
    /// redrive of its dead letter. Returns false when it was not `failed`.
    async fn requeue_failed(&self, key: &EventKey) -> Result<bool, StoreError>;

    /// One event with its raw body.
    async fn get(&self, key: &EventKey) -> Result<Option<EventRecord>, StoreError>;

    /// Events matching a filter, newest first, without raw bodies.
    async fn list(&self, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError>;

    /// Events still `received` whose enqueue claim is older than `before_ms`:
    /// an ingest died between recording and enqueueing.
    async fn stranded(&self, before_ms: i64, limit: usize) -> Result<Vec<EventKey>, StoreError>;
}

/// What a versioned conditional upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// The write landed.
    Applied,
    /// The stored version is equal or newer; nothing changed.
    Stale,
}

/// Which state records one page holds: a kind of one connection, after an
/// id (the previous page's last), optionally only those written since a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateQuery {
    /// Provider name.
    pub provider: String,
    /// The tenant connection.
    pub connection: String,
    /// Record kind.
    pub kind: String,
    /// Only records whose id sorts after this one.
    pub after_id: Option<String>,
    /// Only records written at or after this time, Unix milliseconds.
    pub updated_since_ms: Option<i64>,
    /// At most this many.
    pub limit: usize,
}

impl StateQuery {
    /// The first page of a kind, up to `limit` records.
    pub fn new(provider: &str, connection: &str, kind: &str, limit: usize) -> Self {
        Self {
            provider: provider.to_owned(),
            connection: connection.to_owned(),
            kind: kind.to_owned(),
            after_id: None,
            updated_since_ms: None,
            limit,
        }
    }
}

/// Local state synced from providers, keyed (provider, connection, kind,
/// id), plus reconcile cursors.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Writes the change only when its version is greater than the stored one.
    async fn upsert(
        &self,
        provider: &str,
        connection: &str,
        change: &StateChange,
        source_event: Option<&str>,
        now_ms: i64,
    ) -> Result<UpsertOutcome, StoreError>;

    /// One record of one connection.
    async fn get(
        &self,
        provider: &str,
        connection: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<StateRecord>, StoreError>;

    /// One page of a kind's records on one connection, ordered by id.
    async fn page(&self, query: &StateQuery) -> Result<Vec<StateRecord>, StoreError>;

    /// Every record of a kind on one connection, ordered by id.
    async fn list(&self, provider: &str, connection: &str, kind: &str) -> Result<Vec<StateRecord>, StoreError> {
        let mut query = StateQuery::new(provider, connection, kind, 1000);
        let mut records = Vec::new();
        loop {
            let page = self.page(&query).await?;
            let full = page.len() == query.limit;
            query.after_id = page.last().map(|r| r.id.clone());
            records.extend(page);
            if !full {
                return Ok(records);
            }
        }
    }

    /// A reconcile cursor. Cursor names carry their connection
    /// (`reconcile/{provider}/{connection}/{kind}`).
    async fn cursor(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Saves a reconcile cursor.
    async fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError>;
}

/// The queue of tasks between the edges (ingest, the API) and the workers.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends tasks, durably, before returning.
    async fn send(&self, tasks: &[Task]) -> Result<(), StoreError>;

    /// Sends tasks that become visible only after `delay`.
    async fn send_delayed(&self, tasks: &[Task], delay: Duration) -> Result<(), StoreError>;

    /// Receives up to `max` visible messages and hides them for `visibility`.
    /// A message already received `max_receives` times is moved to the
    /// dead-letter queue instead of being delivered again.
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, StoreError>;

    /// Deletes a message that was handled.
    async fn ack(&self, receipt: &str) -> Result<(), StoreError>;

    /// Makes a message visible again after `delay`.
    async fn retry_later(&self, receipt: &str, delay: Duration) -> Result<(), StoreError>;

    /// Moves a message to the dead-letter queue at once (a permanent failure).
    async fn dead_letter(&self, receipt: &str, reason: &str) -> Result<(), StoreError>;

    /// The dead-letter queue's content, oldest first.
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError>;

    /// Puts dead letters back on the queue (all, or those with these ids);
    /// returns how many moved.
    async fn redrive(&self, ids: Option<&[String]>) -> Result<usize, StoreError>;
}

/// Credentials per provider and connection.
#[async_trait]
pub trait Secrets: Send + Sync {
    /// The signing secrets of a connection: every value whose key is
    /// `webhook_secret` or starts with `webhook_secret_` (several during
    /// rotation). Empty when none is configured.
    async fn signing_secrets(&self, provider: &str, connection: &str) -> Result<Vec<Secret>, StoreError>;

    /// After a signature mismatch: the signing secrets fetched again, when the
    /// adapter caches them and its copy is old enough that a rotation may have
    /// been missed; `None` when a refetch would not tell anything new.
    async fn refreshed_signing_secrets(
        &self,
        provider: &str,
        connection: &str,
    ) -> Result<Option<Vec<Secret>>, StoreError>;

    /// One value of a connection (an API client id or secret, a token), or
    /// `None` when it has none under `key`.
    async fn get(&self, provider: &str, connection: &str, key: &str) -> Result<Option<Secret>, StoreError>;

    /// Sets secrets of a connection (merged with the ones it has): what
    /// `portage secrets set` writes, and where refreshed OAuth tokens go.
    async fn put(&self, provider: &str, connection: &str, values: &[(String, Secret)]) -> Result<(), StoreError>;

    /// Deletes every secret of a connection (a disconnect): afterwards
    /// `get` finds none of them.
    async fn delete(&self, provider: &str, connection: &str) -> Result<(), StoreError>;
}

/// Named leases, one holder at a time across every process that shares the
/// store: what makes concurrent workers refresh an OAuth token once.
#[async_trait]
pub trait Leases: Send + Sync {
    /// Takes `name` for `holder` until `until_ms` when it is free, expired
    /// (its deadline before `now_ms`) or already `holder`'s; true when taken.
    async fn try_lease(&self, name: &str, holder: &str, now_ms: i64, until_ms: i64) -> Result<bool, StoreError>;

    /// Gives `name` back, if `holder` still holds it.
    async fn release(&self, name: &str, holder: &str) -> Result<(), StoreError>;
}

/// Fetches, and caches, the signing keys that deliveries name instead of
/// carrying a shared secret: PayPal's certificate, eBay's public key.
#[async_trait]
pub trait SigningKeys: Send + Sync {
    /// The key at `location`, as the provider serves it, fetched with the
    /// connection's credentials where the location needs a token.
    async fn fetch(&self, provider: &str, connection: &str, location: &KeyLocation) -> Result<Secret, KeyError>;
}

/// Why a signing key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The provider's host could not be reached or answered an error.
    #[error("signing key fetch failed: {0}")]
    Unavailable(String),
    /// What the host served is not a key the provider issued (a certificate
    /// that does not chain to a public root for the provider's name).
    #[error("signing key not trusted: {0}")]
    Untrusted(String),
    /// The connection lacks the credentials the fetch needs.
    #[error("missing credential {0}")]
    MissingCredential(&'static str),
}

/// The time, injectable so tests can move it.
pub trait Clock: Send + Sync {
    /// Now, in Unix milliseconds.
    fn now_ms(&self) -> i64;

    /// Now, in Unix seconds.
    fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The machine's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// One adapter that keeps every store a deployment has (the SQLite
/// database, the DynamoDB table), so the flows are wired to it in one place.
pub trait DeploymentStore:
    EventLog
    + StateStore
    + crate::commands::CommandStore
    + crate::notifications::NotificationStore
    + crate::api_keys::ApiKeys
    + crate::connect::ConnectStore
    + crate::usage::UsageStore
    + Leases
    + 'static
{
}

impl<T> DeploymentStore for T where
    T: EventLog
        + StateStore
        + crate::commands::CommandStore
        + crate::notifications::NotificationStore
        + crate::api_keys::ApiKeys
        + crate::connect::ConnectStore
        + crate::usage::UsageStore
        + Leases
        + 'static
{
}
