//! The event log port on DynamoDB.
//!
//! Each event is two items under `pk = EVENT#{provider}#{connection}#{event_id}`:
//! `sk = EVENT` (status, lease, normalised fields; small, so status changes
//! are cheap) and `sk = PAYLOAD` (headers and the gzip-compressed raw body).
//! Both are written in one transaction, conditional on the event being new.
//! The event item carries `gsi1pk = EVENTS#{status}#{shard}` and
//! `gsi1sk = {received_at_ms, 15 digits}#{provider}#{connection}#{event_id}` for the
//! operators' queries by status and time, and `expires_at` for TTL. The shard
//! (0 to 7, a stable hash of the event key) spreads the index's writes over
//! eight partitions, so a burst of deliveries does not throttle one index
//! partition (and through it the table); queries read all eight and merge.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use bytes::Bytes;
use portage_core::ports::{EventLog, Finish, LeaseOutcome, RecordOutcome};
use portage_core::{EventFilter, EventKey, EventRecord, EventStatus, NewEvent, StoreError};

use crate::event_items::{event_pk, gsi1_sort_key, record_from_items, shard, status_partition, status_pk};
use crate::index::{IndexFilter, IndexRead, StatusMove};
use crate::item::{Item, get_s, n, opt_n, s};
use crate::{DynamoTable, backend, is_conditional_failure};

const ALL_STATUSES: [EventStatus; 5] =
    [EventStatus::Received, EventStatus::Queued, EventStatus::Processing, EventStatus::Processed, EventStatus::Failed];

impl DynamoTable {
    async fn event_item(&self, key: &EventKey) -> Result<Option<Item>, StoreError> {
        self.item(event_pk(key), "EVENT").await
    }

    /// Sets the status (and its index key) when `condition` holds; `None` when it did not.
    async fn transition(
        &self,
        key: &EventKey,
        to: EventStatus,
        set: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Option<Item>, StoreError> {
        self.move_status(StatusMove {
            pk: event_pk(key),
            sk: "EVENT",
            to: to.as_str(),
            to_pk: status_pk(to, shard(key)),
            set,
            condition: &format!("attribute_exists(pk) AND ({condition})"),
            names: Vec::new(),
            values,
        })
        .await
    }

    /// Events of one status, newest first within each shard (the caller
    /// merges): at most `filter.limit` from each shard.
    async fn query_status(&self, status: EventStatus, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        let read = IndexRead {
            partition: &status_partition(status),
            before: filter.before.as_ref().map(|before| gsi1_sort_key(before.received_at_ms, &before.key)),
            newest_first: true,
            limit: filter.limit,
        };
        let only = IndexFilter::default()
            .equals("provider", filter.provider.as_deref())
            .equals("connection", filter.connection.as_deref());
        self.read_index(&read, &only).await?.iter().map(|item| record_from_items(item, None)).collect()
    }
}

#[async_trait]
impl EventLog for DynamoTable {
    async fn record(&self, event: NewEvent, reclaim_after_ms: i64) -> Result<RecordOutcome, StoreError> {
        let (item, payload) = self.event_items(&event)?;
        let put = |item: Item| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(backend)?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let written =
            self.client.transact_write_items().transact_items(put(item)?).transact_items(put(payload)?).send().await;
        match written {
            Ok(_) => return Ok(RecordOutcome::Inserted),
            Err(e) if is_conditional_failure(&e) => {}
            Err(e) => return Err(backend(e)),
        }
        let key = event.key();
        let reclaimed = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(event_pk(&key)))
            .key("sk", s("EVENT"))
            .update_expression("SET claimed_at_ms = :now")
            .condition_expression("#status = :received AND claimed_at_ms <= :cutoff")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(event.received_at_ms))
            .expression_attribute_values(":received", s(EventStatus::Received.as_str()))
            .expression_attribute_values(":cutoff", n(event.received_at_ms.saturating_sub(reclaim_after_ms)))
            .send()
            .await;
        match reclaimed {
            Ok(_) => Ok(RecordOutcome::Reclaimed),
            Err(e) if is_conditional_failure(&e) => {
                let existing =
                    self.event_item(&key).await?.ok_or_else(|| StoreError::Backend("event vanished".into()))?;
                Ok(RecordOutcome::Duplicate(get_s(&existing, "status")?.parse().map_err(StoreError::Corrupt)?))
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn mark_queued(&self, key: &EventKey) -> Result<(), StoreError> {
        let received = vec![(":from", s(EventStatus::Received.as_str()))];
        self.transition(key, EventStatus::Queued, "", "#status = :from", received).await.map(|_| ())
    }

    async fn lease(&self, key: &EventKey, now_ms: i64, until_ms: i64, force: bool) -> Result<LeaseOutcome, StoreError> {
        let mut condition =
            "#status IN (:received, :queued) OR (#status = :processing AND lease_until_ms < :now)".to_owned();
        let mut values = vec![
            (":received", s(EventStatus::Received.as_str())),
            (":queued", s(EventStatus::Queued.as_str())),
            (":processing", s(EventStatus::Processing.as_str())),
            (":now", n(now_ms)),
            (":until", n(until_ms)),
            (":one", n(1)),
        ];
        if force {
            condition.push_str(" OR #status IN (:processed, :failed)");
            values.push((":processed", s(EventStatus::Processed.as_str())));
            values.push((":failed", s(EventStatus::Failed.as_str())));
        }
        let set = ", lease_until_ms = :until, attempts = attempts + :one";
        if self.transition(key, EventStatus::Processing, set, &condition, values).await?.is_some() {
            let record = self.get(key).await?.ok_or_else(|| StoreError::Backend("leased event vanished".into()))?;
            return Ok(LeaseOutcome::Leased(Box::new(record)));
        }
        let Some(existing) = self.event_item(key).await? else {
            return Ok(LeaseOutcome::NotFound);
        };
        let status: EventStatus = get_s(&existing, "status")?.parse().map_err(StoreError::Corrupt)?;
        Ok(if status.is_final() {
            LeaseOutcome::AlreadyFinal(status)
        } else {
            LeaseOutcome::Busy(opt_n(&existing, "lease_until_ms").unwrap_or(now_ms))
        })
    }

    async fn finish(&self, key: &EventKey, finish: Finish, now_ms: i64) -> Result<(), StoreError> {
        let (to, detail, set) = match &finish {
            Finish::Processed(d) => {
                (EventStatus::Processed, d, ", detail = :detail, finished_at_ms = :now REMOVE lease_until_ms")
            }
            Finish::Failed(d) => {
                (EventStatus::Failed, d, ", detail = :detail, finished_at_ms = :now REMOVE lease_until_ms")
            }
            Finish::Retry(d) => (EventStatus::Queued, d, ", detail = :detail REMOVE lease_until_ms, finished_at_ms"),
        };
        let mut values = vec![(":from", s(EventStatus::Processing.as_str())), (":detail", s(detail))];
        if to.is_final() {
            values.push((":now", n(now_ms)));
        }
        self.transition(key, to, set, "#status = :from", values).await.map(|_| ())
    }

    async fn requeue_failed(&self, key: &EventKey) -> Result<bool, StoreError> {
        let failed = vec![(":from", s(EventStatus::Failed.as_str()))];
        let set = " REMOVE finished_at_ms";
        Ok(self.transition(key, EventStatus::Queued, set, "#status = :from", failed).await?.is_some())
    }

    async fn get(&self, key: &EventKey) -> Result<Option<EventRecord>, StoreError> {
        let got = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(event_pk(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        let items = got.items.unwrap_or_default();
        let find = |sk: &str| items.iter().find(|i| matches!(i.get("sk"), Some(AttributeValue::S(v)) if v == sk));
        find("EVENT").map(|event| record_from_items(event, find("PAYLOAD"))).transpose()
    }

    async fn list(&self, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        if let (Some(provider), Some(connection), Some(event_id)) =
            (&filter.provider, &filter.connection, &filter.event_id)
        {
            let key = EventKey::new(provider, connection, event_id);
            let found = self.get(&key).await?.filter(|r| filter.status.is_none_or(|s| s == r.status));
            return Ok(found
                .map(|mut r| {
                    r.raw = Bytes::new();
                    vec![r]
                })
                .unwrap_or_default());
        }
        let statuses: Vec<EventStatus> = filter.status.map_or_else(|| ALL_STATUSES.to_vec(), |s| vec![s]);
        let mut records = Vec::new();
        for status in statuses {
            records.extend(self.query_status(status, filter).await?);
        }
        if let Some(event_id) = &filter.event_id {
            records.retain(|r| &r.event.event_id == event_id);
        }
        records.sort_by_key(|r| std::cmp::Reverse(r.position()));
        if let Some(limit) = filter.limit {
            records.truncate(limit);
        }
        Ok(records)
    }

    async fn stranded(&self, before_ms: i64, limit: usize) -> Result<Vec<EventKey>, StoreError> {
        let read = IndexRead {
            partition: &status_partition(EventStatus::Received),
            before: None,
            newest_first: false,
            limit: Some(limit),
        };
        let old = IndexFilter::default().condition("claimed_at_ms < :before", vec![(":before", n(before_ms))]);
        let items = self.read_index(&read, &old).await?;
        items
            .iter()
            .take(limit)
            .map(|item| {
                Ok(EventKey::new(get_s(item, "provider")?, get_s(item, "connection")?, get_s(item, "event_id")?))
            })
            .collect()
    }
}
