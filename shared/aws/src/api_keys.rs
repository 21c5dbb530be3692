//! The API-key store on the DynamoDB table: one item per key under its hash
//! (what a request is authenticated by, one read) and one per name under
//! `APIKEYS` (what listing and revoking go through), written together.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use portage_core::StoreError;
use portage_core::api_keys::{ApiKeyRecord, ApiKeys, LAST_USED_RESOLUTION_MS, Scope};

use crate::item::{Item, get_n, get_s, n, opt_n, s};
use crate::{DynamoTable, backend, is_conditional_failure, made};

const NAMES_PK: &str = "APIKEYS";

fn key_pk(hash: &str) -> String {
    format!("APIKEY#{hash}")
}

fn record_from_item(item: &Item) -> Result<ApiKeyRecord, StoreError> {
    let scopes = get_s(item, "scopes")?
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::parse::<Scope>)
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(ApiKeyRecord {
        name: get_s(item, "name")?,
        prefix: get_s(item, "prefix")?,
        hash: get_s(item, "hash")?,
        scopes,
        created_at_ms: get_n(item, "created_at_ms")?,
        last_used_at_ms: opt_n(item, "last_used_at_ms"),
    })
}

#[async_trait]
impl ApiKeys for DynamoTable {
    async fn create(&self, record: &ApiKeyRecord) -> Result<bool, StoreError> {
        let scopes = record.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
        let key = Put::builder()
            .table_name(&self.table)
            .item("pk", s(key_pk(&record.hash)))
            .item("sk", s("APIKEY"))
            .item("name", s(&record.name))
            .item("prefix", s(&record.prefix))
            .item("hash", s(&record.hash))
            .item("scopes", s(scopes))
            .item("created_at_ms", n(record.created_at_ms))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(backend)?;
        let name = Put::builder()
            .table_name(&self.table)
            .item("pk", s(NAMES_PK))
            .item("sk", s(&record.name))
            .item("hash", s(&record.hash))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(backend)?;
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(key).build())
            .transact_items(TransactWriteItem::builder().put(name).build())
            .send()
            .await;
        made(written)
    }

    async fn find(&self, hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.item(key_pk(hash), "APIKEY").await?.as_ref().map(record_from_item).transpose()
    }

    async fn touch(&self, key: &ApiKeyRecord, now_ms: i64) -> Result<(), StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key_pk(&key.hash)))
            .key("sk", s("APIKEY"))
            .update_expression("SET last_used_at_ms = :now")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(last_used_at_ms) OR last_used_at_ms <= :stale)",
            )
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":stale", n(now_ms - LAST_USED_RESOLUTION_MS))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            // Used within the minute already, or revoked meanwhile.
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(NAMES_PK))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut records = Vec::new();
        while let Some(item) = pages.next().await {
            let hash = get_s(&item.map_err(backend)?, "hash")?;
            if let Some(record) = self.find(&hash).await? {
                records.push(record);
            }
        }
        Ok(records)
    }

    async fn revoke(&self, name: &str) -> Result<bool, StoreError> {
        let Some(named) = self.item(NAMES_PK.to_owned(), name).await? else { return Ok(false) };
        let hash = get_s(&named, "hash")?;
        let delete = |pk: String, sk: &str| -> Result<TransactWriteItem, StoreError> {
            let delete =
                Delete::builder().table_name(&self.table).key("pk", s(pk)).key("sk", s(sk)).build().map_err(backend)?;
            Ok(TransactWriteItem::builder().delete(delete).build())
        };
        self.client
            .transact_write_items()
            .transact_items(delete(key_pk(&hash), "APIKEY")?)
            .transact_items(delete(NAMES_PK.to_owned(), name)?)
            .send()
            .await
            .map_err(backend)?;
        Ok(true)
    }
}
