//! Derived state: records kept from other records as they land (a
//! customer's billing record from the provider's subscription). A
//! [`Projecting`] state store runs its projections after every upsert,
//! whoever wrote it — sync, reconcile or a command — so derived records
//! follow synced state and nothing else.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{StateChange, StateRecord};
use crate::error::StoreError;
use crate::ports::{StateQuery, StateStore, UpsertOutcome};

/// Keeps derived records from applied changes.
#[async_trait]
pub trait Projection: Send + Sync {
    /// Called after `change` was offered to `provider`/`connection`, with
    /// what the write did (a stale change still tells something to
    /// projections that aggregate over every change, whatever its order);
    /// writes what it derives through `state`.
    async fn project(
        &self,
        provider: &str,
        connection: &str,
        change: &StateChange,
        outcome: UpsertOutcome,
        state: &dyn StateStore,
        now_ms: i64,
    ) -> Result<(), StoreError>;
}

/// A state store that runs projections after each upsert.
pub struct Projecting {
    inner: Arc<dyn StateStore>,
    projections: Vec<Arc<dyn Projection>>,
}

impl Projecting {
    /// `inner`, with `projections` run after its applied upserts.
    pub fn new(inner: Arc<dyn StateStore>, projections: Vec<Arc<dyn Projection>>) -> Self {
        Self { inner, projections }
    }
}

#[async_trait]
impl StateStore for Projecting {
    async fn upsert(
        &self,
        provider: &str,
        connection: &str,
        change: &StateChange,
        source_event: Option<&str>,
        now_ms: i64,
    ) -> Result<UpsertOutcome, StoreError> {
        let outcome = self.inner.upsert(provider, connection, change, source_event, now_ms).await?;
        for projection in &self.projections {
            projection.project(provider, connection, change, outcome.clone(), self.inner.as_ref(), now_ms).await?;
        }
        Ok(outcome)
    }

    async fn get(
        &self,
        provider: &str,
        connection: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<StateRecord>, StoreError> {
        self.inner.get(provider, connection, kind, id).await
    }

    async fn page(&self, query: &StateQuery) -> Result<Vec<StateRecord>, StoreError> {
        self.inner.page(query).await
    }

    async fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.inner.cursor(name).await
    }

    async fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.inner.set_cursor(name, value).await
    }
}
