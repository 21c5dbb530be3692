//! Portage's embedded adapters, for `portage serve` on a laptop: the event
//! log, state store and queue live in one SQLite database (WAL mode) under the
//! data directory; secrets are held in memory, loaded by the caller from
//! a configuration file and the environment.
//!
//! Every write goes through one writer thread that commits in groups (see
//! [`db`]), so many concurrent requests share each `fsync` while each still
//! waits for its own write to be durable.

mod api_keys;
mod commands;
mod connect;
pub mod db;
mod event_log;
mod intake;
mod leases;
mod notifications;
mod queue;
mod schema;
mod secrets;
mod state_store;
mod usage;

pub use db::Database;
pub use queue::SqliteQueue;
pub use schema::SCHEMA_VERSION;
pub use secrets::{MapSecrets, SecretsDocument, SecretsFile, write_private};

use std::path::Path;
use std::sync::Arc;

use portage_core::StoreError;

/// The file name of the database inside the data directory.
pub const DATABASE_FILE: &str = "portage.db";

/// Opens (creating if needed) the database in `data_dir`.
pub fn open(data_dir: &Path) -> Result<Arc<Database>, StoreError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", data_dir.display())))?;
    Database::open(&data_dir.join(DATABASE_FILE)).map(Arc::new)
}
