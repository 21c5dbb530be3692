//! The leases port on SQLite: table `leases`.

use async_trait::async_trait;
use portage_core::StoreError;
use portage_core::ports::Leases;
use rusqlite::params;

use crate::db::{Database, backend, exec};

#[async_trait]
impl Leases for Database {
    async fn try_lease(&self, name: &str, holder: &str, now_ms: i64, until_ms: i64) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |conn| {
            // The conflict branch's WHERE is the lease check: only an expired
            // lease, or the holder's own, is overwritten.
            let taken = exec(
                conn,
                "INSERT INTO leases (name, holder, until_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms \
                 WHERE leases.until_ms < ?4 OR leases.holder = excluded.holder",
                params![name, holder, until_ms, now_ms],
            )
            .map_err(backend)?;
            Ok(taken == 1)
        })
        .await
    }

    async fn release(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |conn| {
            exec(conn, "DELETE FROM leases WHERE name = ?1 AND holder = ?2", params![name, holder]).map_err(backend)?;
            Ok(())
        })
        .await
    }
}
