//! Domain types shared by every flow and adapter.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The connection name used when a webhook route names none.
pub const DEFAULT_CONNECTION: &str = "default";

/// Where an event is in its life: the status machine every adapter stores.
///
/// `received` → `queued` → `processing` → `processed` | `failed`. A `processing`
/// event whose lease has expired may be taken again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Verified and durably recorded; not yet on the queue.
    Received,
    /// On the queue, waiting for a worker.
    Queued,
    /// Leased by a worker until its lease deadline.
    Processing,
    /// Applied to local state (or deliberately ignored); final.
    Processed,
    /// Failed permanently; its message went to the dead-letter queue.
    Failed,
}

impl EventStatus {
    /// The stored, logged and printed spelling of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Processed => "processed",
            Self::Failed => "failed",
        }
    }

    /// True once nothing more will happen to the event without a replay.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Processed | Self::Failed)
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "received" => Ok(Self::Received),
            "queued" => Ok(Self::Queued),
            "processing" => Ok(Self::Processing),
            "processed" => Ok(Self::Processed),
            "failed" => Ok(Self::Failed),
            other => {
                Err(format!("unknown status '{other}' (expected received, queued, processing, processed or failed)"))
            }
        }
    }
}

/// What a provider module extracts from a verified delivery: the fields every
/// flow needs without parsing the payload again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormalizedEvent {
    /// The provider's own event id (or delivery id); the deduplication key.
    pub event_id: String,
    /// The provider's event type, e.g. `customer.subscription.updated`.
    pub event_type: String,
    /// When the provider says the event happened, in Unix seconds.
    pub occurred_at: i64,
    /// The provider account the event belongs to (e.g. a Stripe Connect account).
    pub account: Option<String>,
    /// The kind of object the event is about, e.g. `subscription`.
    pub object_kind: Option<String>,
    /// The provider's id of that object.
    pub object_id: Option<String>,
    /// Live or test mode, where the provider says.
    pub livemode: Option<bool>,
}

/// Longest connection name accepted.
pub const MAX_CONNECTION_LEN: usize = 64;

/// True for a connection name Portage accepts: 1 to 64 of ASCII letters,
/// digits, `_`, `-` and `.`, starting with a letter or digit. Connection
/// names are part of every store key (and of DynamoDB's `#`-separated keys),
/// so nothing else may appear in them.
pub fn is_valid_connection(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.len() <= MAX_CONNECTION_LEN
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds: how every time is
/// shown to the app and the operator.
pub fn rfc3339_ms(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

/// Identifies one event record: the deduplication key. The connection is
/// part of it, so one tenant's delivery can never be taken for another's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventKey {
    /// Provider name, as registered (e.g. `stripe`).
    pub provider: String,
    /// The tenant connection the event came in on.
    pub connection: String,
    /// The provider's event id.
    pub event_id: String,
}

impl EventKey {
    /// The key of `event_id` on `provider`'s `connection`.
    pub fn new(provider: impl Into<String>, connection: impl Into<String>, event_id: impl Into<String>) -> Self {
        Self { provider: provider.into(), connection: connection.into(), event_id: event_id.into() }
    }
}

/// A verified delivery, as handed to the event log for its first write.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Provider name.
    pub provider: String,
    /// The tenant connection the delivery came in on.
    pub connection: String,
    /// What the provider module extracted.
    pub event: NormalizedEvent,
    /// The body exactly as received, kept for audit and replay.
    pub raw: Bytes,
    /// The delivery's headers (credentials removed), kept for audit.
    pub headers: Vec<(String, String)>,
    /// When Portage received it, Unix milliseconds.
    pub received_at_ms: i64,
}

impl NewEvent {
    /// The delivery's deduplication key.
    pub fn key(&self) -> EventKey {
        EventKey::new(&self.provider, &self.connection, &self.event.event_id)
    }
}

/// One event as the event log holds it.
#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    /// Provider name.
    pub provider: String,
    /// The tenant connection.
    pub connection: String,
    /// The normalised fields.
    #[serde(flatten)]
    pub event: NormalizedEvent,
    /// Current status.
    pub status: EventStatus,
    /// When it was first received, Unix milliseconds.
    pub received_at_ms: i64,
    /// How many times a worker has leased it.
    pub attempts: u32,
    /// The lease deadline while `processing`, Unix milliseconds.
    pub lease_until_ms: Option<i64>,
    /// When it reached `processed` or `failed`, Unix milliseconds.
    pub finished_at_ms: Option<i64>,
    /// What the last processing attempt concluded (an error code or a summary).
    pub detail: Option<String>,
    /// The delivery's headers (credentials removed).
    pub headers: Vec<(String, String)>,
    /// The raw body.
    #[serde(skip)]
    pub raw: Bytes,
}

impl EventRecord {
    /// Where it stands in a listing (see [`EventPosition`]).
    pub fn position(&self) -> EventPosition {
        EventPosition { received_at_ms: self.received_at_ms, key: self.key() }
    }

    /// The record's deduplication key.
    pub fn key(&self) -> EventKey {
        EventKey::new(&self.provider, &self.connection, &self.event.event_id)
    }
}

/// Filter for operator queries over the event log.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this connection.
    pub connection: Option<String>,
    /// Only this status.
    pub status: Option<EventStatus>,
    /// Only this event id (any provider).
    pub event_id: Option<String>,
    /// Only events older than this one in the listing's order (the last
    /// event of the previous page).
    pub before: Option<EventPosition>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

/// Where an event stands in a listing, newest first: by receipt time, then by
/// key, so events received in the same millisecond still page in one order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventPosition {
    /// When it was received, Unix milliseconds.
    pub received_at_ms: i64,
    /// Its key.
    pub key: EventKey,
}

/// Orders writes to one state record: a write lands only when its version is
/// greater than the stored one, so an older event never overwrites newer state.
///
/// Compared lexicographically: `primary` is the provider's timestamp for the
/// change (e.g. Stripe's event `created`), `secondary` breaks ties with what the
/// object itself says about order (e.g. a status that only moves forward).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// Coarse order: the provider's timestamp of the change.
    pub primary: i64,
    /// Tie-breaker within one `primary` value.
    pub secondary: i64,
}

/// A change a sync handler wants made to local state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateChange {
    /// The kind of record, e.g. `customer`, `subscription`.
    pub kind: String,
    /// The provider's id of the object.
    pub id: String,
    /// The order of this change against others to the same record.
    pub version: Version,
    /// The record's new content.
    pub data: serde_json::Value,
    /// True when the provider deleted the object; the record is kept as a tombstone.
    pub deleted: bool,
}

/// One local state record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateRecord {
    /// Provider name.
    pub provider: String,
    /// The tenant connection it was synced from.
    pub connection: String,
    /// Record kind.
    pub kind: String,
    /// The provider's object id.
    pub id: String,
    /// The version of the write that produced it.
    pub version: Version,
    /// Content.
    pub data: serde_json::Value,
    /// Tombstone flag.
    pub deleted: bool,
    /// The event whose handling wrote it last.
    pub source_event: Option<String>,
    /// When it was last written, Unix milliseconds.
    pub updated_at_ms: i64,
}

/// The version of the task format written to the queue; a task of another
/// version is not decoded (it is listed as a dead letter, never guessed at).
pub const TASK_VERSION: u32 = 1;

/// What one queue message asks a worker to do. Small: it names the work; the
/// payload stays in its store (the event log, the command log).
///
/// On the wire: `{"v": 1, "task": "event", "provider", "connection",
/// "event_id"}`, `{"v": 1, "task": "command", "id", "group"?}` or `{"v": 1,
/// "task": "notification", "id"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum Task {
    /// Sync one recorded event into state.
    Event {
        /// Provider name.
        provider: String,
        /// The tenant connection.
        connection: String,
        /// The provider's event id.
        event_id: String,
    },
    /// Execute one recorded command (an effect at a provider).
    Command {
        /// The command's id.
        id: String,
        /// The resource it acts on, tenant-scoped: commands of one group run
        /// one at a time, in the order they were queued.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
    /// Deliver one notification to the application.
    Notification {
        /// The notification's id.
        id: String,
    },
    /// Pull a newly connected account's metadata (its shop, marketplaces,
    /// currencies, languages) into state.
    Metadata {
        /// Provider name.
        provider: String,
        /// The connection.
        connection: String,
    },
}

/// The versioned envelope a [`Task`] travels in.
#[derive(Serialize, Deserialize)]
struct TaskWire {
    v: u32,
    #[serde(flatten)]
    task: Task,
}

/// Why a queue message is not a task this build can run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Portage task: {0}")]
pub struct TaskDecodeError(String);

impl Task {
    /// The message body written to the queue.
    pub fn encode(&self) -> String {
        // A struct of strings always serialises.
        serde_json::to_string(&TaskWire { v: TASK_VERSION, task: self.clone() }).unwrap_or_default()
    }

    /// Reads a message body; refuses another version or shape.
    pub fn decode(body: &str) -> Result<Self, TaskDecodeError> {
        let wire: TaskWire = serde_json::from_str(body).map_err(|e| TaskDecodeError(e.to_string()))?;
        if wire.v != TASK_VERSION {
            return Err(TaskDecodeError(format!("task version {} (this build reads {TASK_VERSION})", wire.v)));
        }
        Ok(wire.task)
    }

    /// The event a task names, if it is an event task.
    pub fn event_key(&self) -> Option<EventKey> {
        match self {
            Self::Event { provider, connection, event_id } => Some(EventKey::new(provider, connection, event_id)),
            Self::Command { .. } | Self::Notification { .. } | Self::Metadata { .. } => None,
        }
    }

    /// The ordering group a task belongs to, if any (see [`Task::Command`]).
    pub fn group(&self) -> Option<&str> {
        match self {
            Self::Command { group, .. } => group.as_deref(),
            Self::Event { .. } | Self::Notification { .. } | Self::Metadata { .. } => None,
        }
    }

    /// The task's kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Event { .. } => "event",
            Self::Command { .. } => "command",
            Self::Notification { .. } => "notification",
            Self::Metadata { .. } => "metadata",
        }
    }
}

impl From<&EventKey> for Task {
    fn from(key: &EventKey) -> Self {
        Self::Event {
            provider: key.provider.clone(),
            connection: key.connection.clone(),
            event_id: key.event_id.clone(),
        }
    }
}

/// A message received from the queue, with what is needed to settle it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Opaque handle for ack, retry and dead-lettering.
    pub receipt: String,
    /// The task.
    pub task: Task,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
}

/// A message parked in the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// Adapter-specific id, used to redrive one message.
    pub id: String,
    /// The task; `None` when its body is not a Portage task (something else
    /// wrote to the queue, or another version): it is listed all the same, so
    /// it can be seen and removed rather than block the listing.
    pub message: Option<Task>,
    /// How many times it was received before it was parked.
    pub receive_count: u32,
    /// Why it was parked.
    pub reason: String,
    /// When it was parked, Unix milliseconds.
    pub dead_at_ms: i64,
}
