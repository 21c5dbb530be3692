//! Usage counters on the DynamoDB table: a counter per (connection,
//! customer, limit) under `USAGE#{connection}#{customer}` / `{limit}`, and
//! each counted key under `USAGEKEY#{connection}#{customer}#{key}` (expiring
//! after 30 days), written in one
//! transaction whose conditions are the cap and the key's novelty, so
//! concurrent consumers never overspend and a key counts once.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use portage_core::StoreError;
use portage_core::usage::{Consumed, UsageStore};

use crate::item::{get_s, n, opt_n, s};
use crate::{DynamoTable, backend};

const KEY_SK: &str = "USAGEKEY";
/// How long a counted key is remembered.
const KEY_RETENTION_SECS: i64 = 30 * 86_400;

fn counter_pk(connection: &str, customer: &str) -> String {
    format!("USAGE#{connection}#{customer}")
}

fn key_pk(connection: &str, customer: &str, key: &str) -> String {
    format!("USAGEKEY#{connection}#{customer}#{key}")
}

/// Which of a transaction's conditions failed: (the counter's, the key's).
fn failed_conditions<R>(error: &SdkError<TransactWriteItemsError, R>) -> Option<(bool, bool)> {
    let SdkError::ServiceError(e) = error else { return None };
    let TransactWriteItemsError::TransactionCanceledException(canceled) = e.err() else { return None };
    let failed =
        |i: usize| canceled.cancellation_reasons().get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
    Some((failed(0), failed(1)))
}

impl DynamoTable {
    async fn used(&self, connection: &str, customer: &str, limit: &str) -> Result<i64, StoreError> {
        Ok(self
            .item(counter_pk(connection, customer), limit)
            .await?
            .as_ref()
            .and_then(|item| opt_n(item, "used"))
            .unwrap_or(0))
    }
}

#[async_trait]
impl UsageStore for DynamoTable {
    async fn consume(
        &self,
        connection: &str,
        customer: &str,
        limit: &str,
        quantity: i64,
        cap: Option<i64>,
        key: &str,
        now_ms: i64,
    ) -> Result<Consumed, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(counter_pk(connection, customer)))
            .key("sk", s(limit))
            .expression_attribute_values(":q", n(quantity));
        update = match (quantity >= 0, cap) {
            (true, Some(cap)) => update
                .update_expression("SET used = if_not_exists(used, :zero) + :q")
                .condition_expression("(attribute_not_exists(used) AND :q <= :cap) OR used <= :room")
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":cap", n(cap))
                .expression_attribute_values(":room", n(cap.saturating_sub(quantity))),
            (true, None) => update
                .update_expression("SET used = if_not_exists(used, :zero) + :q")
                .expression_attribute_values(":zero", n(0)),
            // Giving back: never below zero (what cannot be given back whole sets zero).
            (false, _) => {
                let used = self.used(connection, customer, limit).await?;
                update
                    .update_expression("SET used = :after")
                    .condition_expression("attribute_not_exists(used) OR used = :seen")
                    .expression_attribute_values(":after", n(used.saturating_add(quantity).max(0)))
                    .expression_attribute_values(":seen", n(used))
            }
        };
        let counted = Put::builder()
            .table_name(&self.table)
            .item("pk", s(key_pk(connection, customer, key)))
            .item("sk", s(KEY_SK))
            .item("limit", s(limit))
            .item("quantity", n(quantity))
            .item("created_at_ms", n(now_ms))
            .item("expires_at", n(now_ms / 1000 + KEY_RETENTION_SECS))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(backend)?;
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update.build().map_err(backend)?).build())
            .transact_items(TransactWriteItem::builder().put(counted).build())
            .send()
            .await;
        match written {
            Ok(_) => Ok(Consumed::Granted { used: self.used(connection, customer, limit).await? }),
            Err(error) => match failed_conditions(&error) {
                Some((_, true)) => Ok(Consumed::Granted { used: self.used(connection, customer, limit).await? }),
                Some((true, false)) if quantity >= 0 => {
                    Ok(Consumed::Exceeded { used: self.used(connection, customer, limit).await? })
                }
                // A give-back raced another change: try again on the new value.
                Some((true, false)) => {
                    Box::pin(self.consume(connection, customer, limit, quantity, cap, key, now_ms)).await
                }
                _ => Err(backend(error)),
            },
        }
    }

    async fn usage(&self, connection: &str, customer: &str) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(counter_pk(connection, customer)))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut usage = BTreeMap::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(backend)?;
            usage.insert(get_s(&item, "sk")?, opt_n(&item, "used").unwrap_or(0));
        }
        Ok(usage)
    }
}
