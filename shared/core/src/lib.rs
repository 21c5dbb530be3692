//! Portage's provider-agnostic core.
//!
//! It holds the domain types ([`domain`]), the ports every adapter implements
//! ([`ports`]), the contract a provider module fulfils ([`provider`]) and the
//! flows built on them: [`ingest`] (verify, dedupe, record, enqueue), [`sync`]
//! (lease, apply, finish) and [`reconcile`] (list changes since a cursor,
//! repair drift). Nothing here knows about AWS, SQLite or HTTP servers.

pub mod actions;
pub mod api_keys;
pub mod apps;
pub mod billing;
pub mod command_runner;
pub mod commands;
pub mod connect;
pub mod domain;
pub mod error;
pub mod ingest;
pub mod intake;
pub mod maintenance;
pub mod notifications;
pub mod ports;
pub mod projection;
pub mod provider;
pub mod reconcile;
pub mod secret;
pub mod sync;
pub mod usage;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use domain::*;
pub use error::{RejectReason, StoreError, SyncError};
pub use secret::Secret;
