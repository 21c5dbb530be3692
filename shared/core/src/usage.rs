//! Metered usage of an app's customers: one counter per (connection,
//! customer, limit) — a customer id of one tenant never meets another's —
//! moved by `consume` atomically against a cap, so concurrent requests
//! never overspend, and idempotently, so the same key counts once.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::StoreError;

/// What a consumption did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumed {
    /// Counted (or counted before, under the same key): the counter now.
    Granted {
        /// The counter after it.
        used: i64,
    },
    /// Refused: it would pass the cap; nothing counted.
    Exceeded {
        /// The counter, unchanged.
        used: i64,
    },
}

/// The usage counters.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Adds `quantity` to `connection`'s `customer`'s `limit` counter (a negative one gives
    /// back, never below zero), unless a positive one would take it past
    /// `cap` (`None`: no cap). A `key` already counted for this customer is
    /// not counted again: the answer is `Granted` with the counter as it is.
    // The key of the counter (three parts), the move, its cap and its key: one call.
    #[allow(clippy::too_many_arguments)]
    async fn consume(
        &self,
        connection: &str,
        customer: &str,
        limit: &str,
        quantity: i64,
        cap: Option<i64>,
        key: &str,
        now_ms: i64,
    ) -> Result<Consumed, StoreError>;

    /// A customer's counters, by limit.
    async fn usage(&self, connection: &str, customer: &str) -> Result<BTreeMap<String, i64>, StoreError>;
}
