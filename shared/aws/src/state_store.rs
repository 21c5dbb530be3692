//! The state store port on DynamoDB: versioned conditional upserts.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use portage_core::ports::{StateQuery, StateStore, UpsertOutcome};
use portage_core::{StateChange, StateRecord, StoreError, Version};

use crate::DynamoTable;

use crate::backend;
use crate::item::{Item, get_n, get_s, n, opt_s, s};

/// A state record's partition: one per (provider, connection, kind), so
/// one tenant's records never share a key with another's.
fn state_pk(provider: &str, connection: &str, kind: &str) -> String {
    format!("STATE#{provider}#{connection}#{kind}")
}

fn record_from_item(item: &Item) -> Result<StateRecord, StoreError> {
    Ok(StateRecord {
        provider: get_s(item, "provider")?,
        connection: get_s(item, "connection")?,
        kind: get_s(item, "kind")?,
        id: get_s(item, "sk")?,
        version: Version { primary: get_n(item, "vp")?, secondary: get_n(item, "vs")? },
        data: serde_json::from_str(&get_s(item, "data")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        deleted: matches!(item.get("deleted"), Some(AttributeValue::Bool(true))),
        source_event: opt_s(item, "source_event"),
        updated_at_ms: get_n(item, "updated_at_ms")?,
    })
}

#[async_trait]
impl StateStore for DynamoTable {
    async fn upsert(
        &self,
        provider: &str,
        connection: &str,
        change: &StateChange,
        source_event: Option<&str>,
        now_ms: i64,
    ) -> Result<UpsertOutcome, StoreError> {
        let data = serde_json::to_string(&change.data).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(state_pk(provider, connection, &change.kind)))
            .item("sk", s(&change.id))
            .item("provider", s(provider))
            .item("connection", s(connection))
            .item("kind", s(&change.kind))
            .item("vp", n(change.version.primary))
            .item("vs", n(change.version.secondary))
            .item("data", s(data))
            .item("deleted", AttributeValue::Bool(change.deleted))
            .item("updated_at_ms", n(now_ms))
            // The version check: only a strictly newer (primary, secondary) lands.
            .condition_expression("attribute_not_exists(pk) OR vp < :vp OR (vp = :vp AND vs < :vs)")
            .expression_attribute_values(":vp", n(change.version.primary))
            .expression_attribute_values(":vs", n(change.version.secondary));
        if let Some(event) = source_event {
            put = put.item("source_event", s(event));
        }
        match put.send().await {
            Ok(_) => Ok(UpsertOutcome::Applied),
            Err(SdkError::ServiceError(e)) if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) => {
                Ok(UpsertOutcome::Stale)
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn get(
        &self,
        provider: &str,
        connection: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<StateRecord>, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(state_pk(provider, connection, kind)))
            .key("sk", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        got.item.as_ref().map(record_from_item).transpose()
    }

    async fn page(&self, query: &StateQuery) -> Result<Vec<StateRecord>, StoreError> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(state_pk(&query.provider, &query.connection, &query.kind)))
            .consistent_read(true);
        request = match &query.after_id {
            Some(after) => request
                .key_condition_expression("pk = :pk AND sk > :after")
                .expression_attribute_values(":after", s(after)),
            None => request.key_condition_expression("pk = :pk"),
        };
        if let Some(since) = query.updated_since_ms {
            request =
                request.filter_expression("updated_at_ms >= :since").expression_attribute_values(":since", n(since));
        }
        // DynamoDB applies a filter after its own page limit, so pages are
        // read until this one is full rather than asking for `limit` items.
        let mut pages = request.into_paginator().items().send();
        let mut records = Vec::new();
        while records.len() < query.limit {
            let Some(item) = pages.next().await else { break };
            records.push(record_from_item(&item.map_err(backend)?)?);
        }
        Ok(records)
    }

    async fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("CURSOR#{name}")))
            .key("sk", s("CURSOR"))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(got.item.as_ref().and_then(|item| opt_s(item, "value")))
    }

    async fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("CURSOR#{name}")))
            .item("sk", s("CURSOR"))
            .item("value", s(value))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }
}
