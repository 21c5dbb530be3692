//! Telling the app: subscriptions (a URL and the event types it wants) and
//! notifications, one per subscription and event, each delivered by a
//! queue task and retried on a schedule until it lands or is given up.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::domain::Task;
use crate::error::StoreError;
use crate::ports::{Clock, Queue};
use crate::secret::Secret;

/// Every type a subscription may name (or match with a `prefix*` pattern).
pub const TYPES: [&str; 11] = [
    "command.succeeded",
    "command.failed",
    "command.unknown",
    "state.changed",
    "event.failed",
    "connection.connected",
    "connection.needs_reauth",
    "connection.expiring",
    "connection.disconnected",
    "billing.downgraded",
    "billing.restored",
];

/// Whether `pattern` (a type, `prefix.*` or `*`) matches `kind`.
pub fn matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    }
}

/// Whether `pattern` can match anything: one of [`TYPES`], or a prefix of one followed by `*`.
pub fn is_valid_pattern(pattern: &str) -> bool {
    TYPES.iter().any(|kind| matches(pattern, kind)) && (!pattern.contains('*') || pattern.ends_with('*'))
}

/// Where the app wants to be told, and what about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// `sub_…`.
    pub id: String,
    /// The target.
    pub url: String,
    /// Type patterns.
    pub types: Vec<String>,
    /// The operator's note.
    pub description: Option<String>,
    /// The signing secret, `whsec_…`.
    #[serde(skip)]
    pub secret: Option<Secret>,
    /// Whether the target may resolve to a private address.
    pub allow_private: bool,
    /// When it was made, Unix milliseconds.
    pub created_at_ms: i64,
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    /// Not delivered yet; an attempt is queued.
    Pending,
    /// A 2xx came back.
    Delivered,
    /// Given up after the last scheduled attempt (a dead letter).
    Failed,
}

impl NotificationStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

impl std::str::FromStr for NotificationStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown notification status {s:?}"))
    }
}

/// One message to one subscription: its body is fixed when it is made, so
/// every attempt sends the same bytes under the same `webhook-id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// `msg_…`: the `webhook-id` of every attempt.
    pub id: String,
    /// The subscription.
    pub subscription_id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `{"type", "timestamp", "data"}`, as sent.
    pub body: String,
    /// Where it stands.
    pub status: NotificationStatus,
    /// Attempts made.
    pub attempts: u32,
    /// The last failed attempt's reason.
    pub last_error: Option<String>,
    /// When it was made, Unix milliseconds.
    pub created_at_ms: i64,
    /// When it last changed, Unix milliseconds.
    pub updated_at_ms: i64,
}

/// The store of subscriptions and their notifications.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Saves a subscription.
    async fn add_subscription(&self, subscription: &Subscription) -> Result<(), StoreError>;

    /// Every subscription, oldest first, with its secret.
    async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError>;

    /// One subscription, with its secret.
    async fn subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError>;

    /// Deletes one (its pending notifications are given up); false when there was none.
    async fn remove_subscription(&self, id: &str) -> Result<bool, StoreError>;

    /// Records notifications, before their tasks are queued.
    async fn add_notifications(&self, notifications: &[Notification]) -> Result<(), StoreError>;

    /// One notification.
    async fn notification(&self, id: &str) -> Result<Option<Notification>, StoreError>;

    /// Notes an attempt's outcome.
    async fn attempted(
        &self,
        id: &str,
        status: NotificationStatus,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Notifications, newest first (only `status` ones when given).
    async fn notifications(
        &self,
        status: Option<NotificationStatus>,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError>;

    /// Makes a `failed` notification pending again with a fresh schedule;
    /// false when it was not failed.
    async fn requeue_notification(&self, id: &str, now_ms: i64) -> Result<bool, StoreError>;
}

/// Delivers one notification (the worker's handler for notification tasks).
#[async_trait]
pub trait NotificationHandler: Send + Sync {
    /// Makes one attempt; says when to try again, if ever.
    async fn deliver(&self, id: &str) -> crate::sync::Settlement;
}

/// `state.changed`'s data: the record as written.
pub fn state_changed(provider: &str, connection: &str, change: &crate::domain::StateChange) -> serde_json::Value {
    serde_json::json!({
        "provider": provider,
        "connection": connection,
        "kind": change.kind,
        "id": change.id,
        "version": change.version,
        "deleted": change.deleted,
        "data": change.data,
    })
}

/// Makes notifications for an event and queues their delivery.
pub struct Notifier {
    store: Arc<dyn NotificationStore>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
}

impl Notifier {
    /// A notifier over the store and the queue.
    pub fn new(store: Arc<dyn NotificationStore>, queue: Arc<dyn Queue>, clock: Arc<dyn Clock>) -> Self {
        Self { store, queue, clock }
    }

    /// Tells every subscription that wants `kind`: records one notification
    /// each, then queues them. A failure is logged, never the caller's: the
    /// app still reads the truth from the API.
    pub async fn publish(&self, kind: &str, data: serde_json::Value) {
        if let Err(error) = self.try_publish(kind, data).await {
            warn!(kind, %error, "could not record notifications");
        }
    }

    async fn try_publish(&self, kind: &str, data: serde_json::Value) -> Result<(), StoreError> {
        let subscriptions = self.store.subscriptions().await?;
        let wanted: Vec<&Subscription> =
            subscriptions.iter().filter(|s| s.types.iter().any(|p| matches(p, kind))).collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let body =
            serde_json::json!({ "type": kind, "timestamp": crate::domain::rfc3339_ms(now), "data": data }).to_string();
        let notifications: Vec<Notification> = wanted
            .iter()
            .map(|s| Notification {
                id: format!("msg_{now:012x}{:016x}", rand::random::<u64>()),
                subscription_id: s.id.clone(),
                kind: kind.to_owned(),
                body: body.clone(),
                status: NotificationStatus::Pending,
                attempts: 0,
                last_error: None,
                created_at_ms: now,
                updated_at_ms: now,
            })
            .collect();
        self.store.add_notifications(&notifications).await?;
        let tasks: Vec<Task> = notifications.iter().map(|n| Task::Notification { id: n.id.clone() }).collect();
        self.queue.send(&tasks).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_by_prefix() {
        assert!(matches("command.*", "command.failed"));
        assert!(matches("*", "state.changed"));
        assert!(matches("state.changed", "state.changed"));
        assert!(!matches("command.*", "state.changed"));
        assert!(!matches("command.failed", "command.failed.x"));
        for good in ["*", "command.*", "command.succeeded", "state.changed", "event.*"] {
            assert!(is_valid_pattern(good), "{good}");
        }
        for bad in ["commands.*", "state", "*.changed", "command.explode", ""] {
            assert!(!is_valid_pattern(bad), "{bad}");
        }
    }
}
