//! The status index (`gsi1`) that events, commands and notifications share:
//! an item's `gsi1pk` is `{KIND}#{status}#{shard}` and its `gsi1sk` starts
//! with its time, so one status reads in time order. The shard (0 to 7, a
//! stable hash of the item's key) spreads a burst of writes over eight index
//! partitions, so one status never throttles an index partition (and through
//! it the table); a reader queries the eight and merges.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use portage_core::StoreError;

use crate::item::Item;
use crate::{DynamoTable, backend, is_conditional_failure};

/// Index partitions per status.
pub(crate) const GSI_SHARDS: u32 = 8;

/// The shard of a key given as its parts: FNV-1a of the parts joined by `#`,
/// stable across builds and releases (it is stored).
pub(crate) fn shard_of(parts: &[&str]) -> u32 {
    let mut hash = 0x811c_9dc5_u32;
    for (i, part) in parts.iter().enumerate() {
        let separator = (i > 0).then_some(b'#');
        for byte in separator.into_iter().chain(part.bytes()) {
            hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
        }
    }
    hash % GSI_SHARDS
}

/// What one read of a status's partitions keeps: equality on attributes,
/// plus free conditions with their values.
#[derive(Default)]
pub(crate) struct IndexFilter {
    conditions: Vec<String>,
    names: Vec<(String, String)>,
    values: Vec<(String, AttributeValue)>,
}

impl IndexFilter {
    /// Keeps items whose `attribute` equals `value`, when there is a value.
    pub(crate) fn equals(mut self, attribute: &str, value: Option<&str>) -> Self {
        if let Some(value) = value {
            let i = self.values.len();
            self.conditions.push(format!("#f{i} = :f{i}"));
            self.names.push((format!("#f{i}"), attribute.to_owned()));
            self.values.push((format!(":f{i}"), AttributeValue::S(value.to_owned())));
        }
        self
    }

    /// Keeps items for which `condition` holds; it names its own values.
    pub(crate) fn condition(mut self, condition: &str, values: Vec<(&str, AttributeValue)>) -> Self {
        self.conditions.push(condition.to_owned());
        self.values.extend(values.into_iter().map(|(name, value)| (name.to_owned(), value)));
        self
    }
}

/// Which stretch of a status to read.
pub(crate) struct IndexRead<'a> {
    /// The status partition's name without its shard, e.g. `COMMANDS#queued`.
    pub(crate) partition: &'a str,
    /// Only sort keys below this one (a page's position).
    pub(crate) before: Option<String>,
    /// Newest first, or oldest first.
    pub(crate) newest_first: bool,
    /// At most this many items from each shard.
    pub(crate) limit: Option<usize>,
}

/// A conditional move of an item to another status (and so to another
/// index partition), with what else the update sets.
pub(crate) struct StatusMove<'a> {
    /// The item's key.
    pub(crate) pk: String,
    /// Its sort key.
    pub(crate) sk: &'a str,
    /// The new status.
    pub(crate) to: &'a str,
    /// The new status's index partition, with the item's shard.
    pub(crate) to_pk: String,
    /// More of the update expression after `SET #status, gsi1pk` (`, a = :a`, `REMOVE b`).
    pub(crate) set: &'a str,
    /// The condition (`#status` is the status attribute).
    pub(crate) condition: &'a str,
    /// Attribute names the expressions use beside `#status`.
    pub(crate) names: Vec<(&'a str, &'a str)>,
    /// Values the expressions use beside `:to` and `:to_pk`.
    pub(crate) values: Vec<(&'a str, AttributeValue)>,
}

impl DynamoTable {
    /// Applies a move; the item as it is now, or `None` when the condition
    /// did not hold.
    pub(crate) async fn move_status(&self, step: StatusMove<'_>) -> Result<Option<Item>, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(step.pk))
            .key("sk", AttributeValue::S(step.sk.to_owned()))
            .update_expression(format!("SET #status = :to, gsi1pk = :to_pk{}", step.set))
            .condition_expression(step.condition)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", AttributeValue::S(step.to.to_owned()))
            .expression_attribute_values(":to_pk", AttributeValue::S(step.to_pk))
            .return_values(ReturnValue::AllNew);
        for (name, attribute) in step.names {
            update = update.expression_attribute_names(name, attribute);
        }
        for (name, value) in step.values {
            update = update.expression_attribute_values(name, value);
        }
        match update.send().await {
            Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    /// Items of one status from all its shards, each shard in the order
    /// asked, concatenated: the caller sorts and truncates.
    pub(crate) async fn read_index(&self, read: &IndexRead<'_>, filter: &IndexFilter) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        for shard in 0..GSI_SHARDS {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .expression_attribute_values(":pk", AttributeValue::S(format!("{}#{shard}", read.partition)))
                .scan_index_forward(!read.newest_first);
            query = match &read.before {
                Some(before) => query
                    .key_condition_expression("gsi1pk = :pk AND gsi1sk < :before")
                    .expression_attribute_values(":before", AttributeValue::S(before.clone())),
                None => query.key_condition_expression("gsi1pk = :pk"),
            };
            for (name, attribute) in &filter.names {
                query = query.expression_attribute_names(name, attribute);
            }
            for (name, value) in &filter.values {
                query = query.expression_attribute_values(name, value.clone());
            }
            if !filter.conditions.is_empty() {
                query = query.filter_expression(filter.conditions.join(" AND "));
            }
            let mut pages = query.into_paginator().items().send();
            let mut taken = 0;
            while let Some(item) = pages.next().await {
                if read.limit.is_some_and(|limit| taken >= limit) {
                    break;
                }
                items.push(item.map_err(backend)?);
                taken += 1;
            }
        }
        Ok(items)
    }
}
