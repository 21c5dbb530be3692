//! Portage's AWS adapters, the deployed counterparts of `portage-embedded`:
//! the event log, state, API keys, commands and notifications in one
//! DynamoDB table ([`DynamoTable`]), the queues on SQS ([`SqsQueue`]). Both pass the shared conformance suite
//! against moto's server.
//!
//! ## Table keys
//!
//! | item | `pk` | `sk` | other keys |
//! |---|---|---|---|
//! | event record | `EVENT#{provider}#{connection}#{event_id}` | `EVENT` | `gsi1pk = EVENTS#{status}#{shard}` (shard 0–7, FNV-1a of the key: writes spread over eight index partitions), `gsi1sk = {received_at_ms:015}#{provider}#{connection}#{event_id}` |
//! | event payload (headers, gzip body) | `EVENT#{provider}#{connection}#{event_id}` | `PAYLOAD` | |
//! | state record | `STATE#{provider}#{connection}#{kind}` | object id | `provider`, `connection`, `kind` |
//! | reconcile cursor | `CURSOR#reconcile/{provider}/{connection}/{kind}` | `CURSOR` | |
//! | API key | `APIKEY#{sha256 of the key}` | `APIKEY` | `name`, `prefix`, `scopes`, `created_at_ms`, `last_used_at_ms` |
//! | API key, by name | `APIKEYS` | `{name}` | `hash` |
//! | command | `COMMAND#{id}` | `COMMAND` | `gsi1pk = COMMANDS#{status}#{shard}`, `gsi1sk = {created_at_ms:015}#{id}` |
//! | idempotency key | `CMDKEY#{provider}#{connection}#{key}` | `CMDKEY` | `id`, `fingerprint` |
//! | subscription | `SUBSCRIPTIONS` | `{id}` | `url`, `types`, `secret`, `allow_private` |
//! | notification | `NOTIFICATION#{id}` | `NOTIFICATION` | `gsi1pk = NOTIFICATIONS#{status}#{shard}`, `gsi1sk = {created_at_ms:015}#{id}` |
//! | connect session | `CONNECT#{id}` | `SESSION` | `status`, `state_digest`, `verifier`, `expires_at_ms`, `expires_at` a day after |
//! | connect state | `CONNECTSTATE#{sha256 of the state}` | `STATE` | `session`, `expires_at` |
//! | connection | `CONNECTIONS` | `{provider}#{connection}` | `record` (JSON, no credential) |
//! | usage counter | `USAGE#{connection}#{customer}` | `{limit}` | `used` |
//! | usage key counted | `USAGEKEY#{connection}#{customer}#{key}` | `USAGEKEY` | `limit`, `quantity`, `expires_at` 30 days after |
//! | lease (an OAuth refresh) | `LEASE#oauth:{provider}/{connection}` | `LEASE` | `holder`, `until_ms`, `expires_at` an hour after |
//!
//! Provider and connection names never hold `#` (connection names are
//! checked at every edge), so no two tenants' keys read alike.
//!
//! Event items carry `expires_at` (Unix seconds), the table's TTL attribute.

mod api_keys;
mod commands;
mod connect;
mod event_items;
mod event_log;
mod index;
mod item;
mod leases;
mod notifications;
pub mod provision;
mod queue;
mod secrets;
mod state_store;
mod usage;

pub use queue::{NOT_BEFORE_ATTRIBUTE, SqsQueue};
pub use secrets::SecretsManagerSecrets;

use std::time::Duration;

use portage_core::StoreError;

/// Portage's one DynamoDB table: events, state, cursors, API keys, commands,
/// subscriptions and notifications.
#[derive(Clone)]
pub struct DynamoTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
    event_retention: Duration,
}

impl DynamoTable {
    /// The adapter over `table`, with a client built once at start-up. Event
    /// records expire (TTL) after 30 days, beyond every provider's redelivery window.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), event_retention: Duration::from_secs(30 * 86_400) }
    }
}

impl DynamoTable {
    /// One item, read consistently.
    pub(crate) async fn item(&self, pk: String, sk: &str) -> Result<Option<item::Item>, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(got.item)
    }
}

/// Whether a write was refused by its condition (alone or in a transaction).
pub(crate) fn is_conditional_failure<E, R>(error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    matches!(error, aws_sdk_dynamodb::error::SdkError::ServiceError(e)
        if matches!(e.err().code(), Some("ConditionalCheckFailedException" | "TransactionCanceledException")))
}

/// A conditional write's outcome: whether it was made (false: its condition
/// did not hold, and nothing was written).
pub(crate) fn made<T, E, R>(result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_conditional_failure(&e) => Ok(false),
        Err(e) => Err(backend(e)),
    }
}

/// Maps an SDK error into the port's error type, with the service's error
/// code and message (never request contents).
pub(crate) fn backend<E: std::error::Error>(error: E) -> StoreError {
    StoreError::Backend(aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string())
}
