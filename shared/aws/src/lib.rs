//! Portage's AWS adapters, the deployed counterparts of `portage-embedded`:
//! the event log and the state store in one DynamoDB table ([`DynamoTable`]),
//! the queue on SQS ([`SqsQueue`]). Both pass the shared conformance suite
//! against moto's server.
//!
//! ## Table keys
//!
//! | item | `pk` | `sk` | other keys |
//! |---|---|---|---|
//! | state record | `STATE#{provider}#{kind}` | object id | |
//! | reconcile cursor | `CURSOR#{name}` | `CURSOR` | |
//!
//! Items that expire carry `expires_at` (Unix seconds), the table's TTL attribute.

mod queue;
mod state_store;

pub use queue::SqsQueue;
pub use state_store::DynamoTable;

use portage_core::StoreError;

/// Maps an SDK error into the port's error type, keeping the service's
/// message (never request contents).
pub(crate) fn backend<E: std::fmt::Display>(error: E) -> StoreError {
    StoreError::Backend(error.to_string())
}
