//! Subscriptions and notifications on SQLite: tables `subscriptions` and
//! `notifications`.

use async_trait::async_trait;
use portage_core::notifications::{Notification, NotificationStatus, NotificationStore, Subscription};
use portage_core::{Secret, StoreError};
use rusqlite::{OptionalExtension, Row, params};

use crate::db::{Database, backend, exec, query_row};

const NOTIFICATION_COLUMNS: &str =
    "id, subscription_id, kind, body, status, attempts, last_error, created_at_ms, updated_at_ms";

fn notification_from_row(row: &Row<'_>) -> rusqlite::Result<Notification> {
    let status: String = row.get(4)?;
    Ok(Notification {
        id: row.get(0)?,
        subscription_id: row.get(1)?,
        kind: row.get(2)?,
        body: row.get(3)?,
        status: status
            .parse()
            .map_err(|e: String| rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, e.into()))?,
        attempts: row.get(5)?,
        last_error: row.get(6)?,
        created_at_ms: row.get(7)?,
        updated_at_ms: row.get(8)?,
    })
}

fn subscription_from_row(row: &Row<'_>) -> rusqlite::Result<Subscription> {
    let types: String = row.get(2)?;
    let secret: String = row.get(4)?;
    Ok(Subscription {
        id: row.get(0)?,
        url: row.get(1)?,
        types: types.split(' ').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
        description: row.get(3)?,
        secret: Some(Secret::new(secret)),
        allow_private: row.get(5)?,
        created_at_ms: row.get(6)?,
    })
}

#[async_trait]
impl NotificationStore for Database {
    async fn add_subscription(&self, subscription: &Subscription) -> Result<(), StoreError> {
        let s = subscription.clone();
        let secret = s
            .secret
            .as_ref()
            .map(|k| k.expose().to_owned())
            .ok_or_else(|| StoreError::Invalid("a subscription needs its signing secret".into()))?;
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO subscriptions (id, url, types, description, secret, allow_private, created_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![s.id, s.url, s.types.join(" "), s.description, secret, s.allow_private, s.created_at_ms],
            )
            .map(|_| ())
            .map_err(backend)
        })
        .await
    }

    async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, url, types, description, secret, allow_private, created_at_ms FROM subscriptions \
                     ORDER BY created_at_ms, id",
                )
                .map_err(backend)?;
            let rows = stmt.query_map([], subscription_from_row).map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| {
            query_row(
                conn,
                "SELECT id, url, types, description, secret, allow_private, created_at_ms FROM subscriptions \
                 WHERE id = ?1",
                params![id],
                subscription_from_row,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn remove_subscription(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE notifications SET status = 'failed', last_error = 'subscription removed' \
                 WHERE subscription_id = ?1 AND status = 'pending'",
                params![id],
            )
            .map_err(backend)?;
            exec(conn, "DELETE FROM subscriptions WHERE id = ?1", params![id]).map(|n| n == 1).map_err(backend)
        })
        .await
    }

    async fn add_notifications(&self, notifications: &[Notification]) -> Result<(), StoreError> {
        let notifications = notifications.to_vec();
        self.write(move |conn| {
            notifications.iter().try_for_each(|n| {
                exec(
                    conn,
                    "INSERT INTO notifications (id, subscription_id, kind, body, status, attempts, created_at_ms, \
                     updated_at_ms) VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5)",
                    params![n.id, n.subscription_id, n.kind, n.body, n.created_at_ms],
                )
                .map(|_| ())
                .map_err(backend)
            })
        })
        .await
    }

    async fn notification(&self, id: &str) -> Result<Option<Notification>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| {
            query_row(
                conn,
                &format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?1"),
                params![id],
                notification_from_row,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn attempted(
        &self,
        id: &str,
        status: NotificationStatus,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let (id, error) = (id.to_owned(), error.map(str::to_owned));
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE notifications SET status = ?2, attempts = attempts + 1, last_error = ?3, updated_at_ms = ?4 \
                 WHERE id = ?1 AND status = 'pending'",
                params![id, status.as_str(), error, now_ms],
            )
            .map(|_| ())
            .map_err(backend)
        })
        .await
    }

    async fn notifications(
        &self,
        status: Option<NotificationStatus>,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        let status = status.map(NotificationStatus::as_str);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE (?1 IS NULL OR status = ?1) \
                     ORDER BY seq DESC LIMIT ?2"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![status, i64::try_from(limit).unwrap_or(i64::MAX)], notification_from_row)
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn requeue_notification(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE notifications SET status = 'pending', attempts = 0, updated_at_ms = ?2 \
                 WHERE id = ?1 AND status = 'failed' \
                 AND subscription_id IN (SELECT id FROM subscriptions)",
                params![id, now_ms],
            )
            .map(|n| n == 1)
            .map_err(backend)
        })
        .await
    }
}
