//! Subscriptions and notifications on DynamoDB. Subscriptions are items
//! under `SUBSCRIPTIONS` (sort key: the id), read together by every
//! publish; a notification is one item under `NOTIFICATION#{id}`, in the
//! status index as `NOTIFICATIONS#{status}#{shard}` sorted by creation.
//! The signing secret sits in the subscription's item, as the embedded store
//! keeps it in its file: the table is encrypted at rest and only Portage's
//! functions may read it.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};
use futures::future::try_join_all;
use portage_core::notifications::{Notification, NotificationStatus, NotificationStore, Subscription};
use portage_core::{Secret, StoreError};

use crate::index::{IndexFilter, IndexRead, StatusMove, shard_of};
use crate::item::{Item, get_n, get_s, n, opt_s, s};
use crate::{DynamoTable, backend, made};

const SUBSCRIPTIONS_PK: &str = "SUBSCRIPTIONS";
const ALL_STATUSES: [NotificationStatus; 3] =
    [NotificationStatus::Pending, NotificationStatus::Delivered, NotificationStatus::Failed];

fn notification_pk(id: &str) -> String {
    format!("NOTIFICATION#{id}")
}

fn partition(status: NotificationStatus) -> String {
    format!("NOTIFICATIONS#{}", status.as_str())
}

fn status_pk(status: NotificationStatus, id: &str) -> String {
    format!("{}#{}", partition(status), shard_of(&[id]))
}

fn subscription_from_item(item: &Item) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: get_s(item, "sk")?,
        url: get_s(item, "url")?,
        types: get_s(item, "types")?.split(' ').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
        description: opt_s(item, "description"),
        secret: Some(Secret::new(get_s(item, "secret")?)),
        allow_private: matches!(item.get("allow_private"), Some(AttributeValue::Bool(true))),
        created_at_ms: get_n(item, "created_at_ms")?,
    })
}

fn notification_from_item(item: &Item) -> Result<Notification, StoreError> {
    Ok(Notification {
        id: get_s(item, "id")?,
        subscription_id: get_s(item, "subscription_id")?,
        kind: get_s(item, "kind")?,
        body: get_s(item, "body")?,
        status: get_s(item, "status")?.parse().map_err(StoreError::Corrupt)?,
        attempts: u32::try_from(get_n(item, "attempts")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        last_error: opt_s(item, "last_error"),
        created_at_ms: get_n(item, "created_at_ms")?,
        updated_at_ms: get_n(item, "updated_at_ms")?,
    })
}

impl DynamoTable {
    /// Moves a pending notification to `to`, setting `set` too; false when
    /// it was not pending.
    async fn settle(
        &self,
        id: &str,
        to: NotificationStatus,
        set: &str,
        mut values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        values.push((":pending", s(NotificationStatus::Pending.as_str())));
        let moved = self
            .move_status(StatusMove {
                pk: notification_pk(id),
                sk: "NOTIFICATION",
                to: to.as_str(),
                to_pk: status_pk(to, id),
                set,
                condition: "#status = :pending",
                names: Vec::new(),
                values,
            })
            .await?;
        Ok(moved.is_some())
    }

    /// Runs conditional writes together; false when a condition did not hold.
    async fn conditional(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        made(self.client.transact_write_items().set_transact_items(Some(items)).send().await)
    }
}

#[async_trait]
impl NotificationStore for DynamoTable {
    async fn add_subscription(&self, subscription: &Subscription) -> Result<(), StoreError> {
        let secret = subscription
            .secret
            .as_ref()
            .ok_or_else(|| StoreError::Invalid("a subscription needs its signing secret".into()))?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(SUBSCRIPTIONS_PK))
            .item("sk", s(&subscription.id))
            .item("url", s(&subscription.url))
            .item("types", s(subscription.types.join(" ")))
            .item("secret", s(secret.expose()))
            .item("allow_private", AttributeValue::Bool(subscription.allow_private))
            .item("created_at_ms", n(subscription.created_at_ms))
            .condition_expression("attribute_not_exists(pk)");
        if let Some(description) = &subscription.description {
            put = put.item("description", s(description));
        }
        put.send().await.map(|_| ()).map_err(backend)
    }

    async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(SUBSCRIPTIONS_PK))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut subscriptions = Vec::new();
        while let Some(item) = pages.next().await {
            subscriptions.push(subscription_from_item(&item.map_err(backend)?)?);
        }
        subscriptions.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(subscriptions)
    }

    async fn subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        self.item(SUBSCRIPTIONS_PK.to_owned(), id).await?.as_ref().map(subscription_from_item).transpose()
    }

    async fn remove_subscription(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(SUBSCRIPTIONS_PK))
            .key("sk", s(id))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(backend)?;
        if deleted.attributes.is_none() {
            return Ok(false);
        }
        // What was still to be delivered to it is given up.
        let read = IndexRead {
            partition: &partition(NotificationStatus::Pending),
            before: None,
            newest_first: false,
            limit: None,
        };
        let of_it = IndexFilter::default().equals("subscription_id", Some(id));
        for item in self.read_index(&read, &of_it).await? {
            let error = vec![(":error", s("subscription removed"))];
            self.settle(&get_s(&item, "id")?, NotificationStatus::Failed, ", last_error = :error", error).await?;
        }
        Ok(true)
    }

    async fn add_notifications(&self, notifications: &[Notification]) -> Result<(), StoreError> {
        try_join_all(notifications.iter().map(|note| {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(notification_pk(&note.id)))
                .item("sk", s("NOTIFICATION"))
                .item("id", s(&note.id))
                .item("subscription_id", s(&note.subscription_id))
                .item("kind", s(&note.kind))
                .item("body", s(&note.body))
                .item("status", s(NotificationStatus::Pending.as_str()))
                .item("attempts", n(0))
                .item("created_at_ms", n(note.created_at_ms))
                .item("updated_at_ms", n(note.created_at_ms))
                .item("gsi1pk", s(status_pk(NotificationStatus::Pending, &note.id)))
                .item("gsi1sk", s(format!("{:015}#{}", note.created_at_ms, note.id)))
                .item("expires_at", self.expires_at(note.created_at_ms))
                .send()
        }))
        .await
        .map(|_| ())
        .map_err(backend)
    }

    async fn notification(&self, id: &str) -> Result<Option<Notification>, StoreError> {
        self.item(notification_pk(id), "NOTIFICATION").await?.as_ref().map(notification_from_item).transpose()
    }

    async fn attempted(
        &self,
        id: &str,
        status: NotificationStatus,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut values = vec![(":one", n(1)), (":now", n(now_ms))];
        let set = match error {
            Some(error) => {
                values.push((":error", s(error)));
                ", attempts = attempts + :one, updated_at_ms = :now, last_error = :error"
            }
            None => ", attempts = attempts + :one, updated_at_ms = :now REMOVE last_error",
        };
        // Not pending (delivered or given up meanwhile): nothing to record.
        self.settle(id, status, set, values).await.map(|_| ())
    }

    async fn notifications(
        &self,
        status: Option<NotificationStatus>,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        let statuses = status.map_or_else(|| ALL_STATUSES.to_vec(), |status| vec![status]);
        let mut found = Vec::new();
        for status in statuses {
            let read =
                IndexRead { partition: &partition(status), before: None, newest_first: true, limit: Some(limit) };
            for item in self.read_index(&read, &IndexFilter::default()).await? {
                found.push(notification_from_item(&item)?);
            }
        }
        found.sort_by(|a, b| (b.created_at_ms, &b.id).cmp(&(a.created_at_ms, &a.id)));
        found.truncate(limit);
        Ok(found)
    }

    async fn requeue_notification(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let pending = NotificationStatus::Pending;
        let requeue = Update::builder()
            .table_name(&self.table)
            .key("pk", s(notification_pk(id)))
            .key("sk", s("NOTIFICATION"))
            .update_expression("SET #status = :to, gsi1pk = :to_pk, attempts = :zero, updated_at_ms = :now")
            .condition_expression("#status = :failed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", s(pending.as_str()))
            .expression_attribute_values(":to_pk", s(status_pk(pending, id)))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":failed", s(NotificationStatus::Failed.as_str()))
            .build()
            .map_err(backend)?;
        let Some(note) = self.notification(id).await? else { return Ok(false) };
        // Only while its subscription still exists.
        let subscribed = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(SUBSCRIPTIONS_PK))
            .key("sk", s(note.subscription_id))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(backend)?;
        self.conditional(vec![
            TransactWriteItem::builder().update(requeue).build(),
            TransactWriteItem::builder().condition_check(subscribed).build(),
        ])
        .await
    }
}
