//! Usage counters on SQLite: tables `usage_counters` and `usage_keys`, keyed
//! by connection and customer; a
//! consumption is one transaction on the writer thread (key seen? counter
//! under the cap? then both written), so concurrent requests serialise.

use std::collections::BTreeMap;

use async_trait::async_trait;
use portage_core::StoreError;
use portage_core::usage::{Consumed, UsageStore};
use rusqlite::{OptionalExtension, params};

use crate::db::{Database, backend, exec, query_row};

#[async_trait]
impl UsageStore for Database {
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
        let (connection, customer) = (connection.to_owned(), customer.to_owned());
        let (limit, key) = (limit.to_owned(), key.to_owned());
        self.write(move |conn| {
            let used = |conn: &rusqlite::Connection| -> Result<i64, StoreError> {
                let sql = "SELECT used FROM usage_counters WHERE connection = ?1 AND customer = ?2 AND limit_name = ?3";
                let found = query_row(conn, sql, params![connection, customer, limit], |row| row.get(0)).optional();
                Ok(found.map_err(backend)?.unwrap_or(0))
            };
            let seen = query_row(
                conn,
                "SELECT 1 FROM usage_keys WHERE connection = ?1 AND customer = ?2 AND key = ?3",
                params![connection, customer, key],
                |_| Ok(()),
            )
            .optional()
            .map_err(backend)?;
            let now = used(conn)?;
            if seen.is_some() {
                return Ok(Consumed::Granted { used: now });
            }
            if quantity > 0 && cap.is_some_and(|cap| now.saturating_add(quantity) > cap) {
                return Ok(Consumed::Exceeded { used: now });
            }
            let after = now.saturating_add(quantity).max(0);
            exec(
                conn,
                "INSERT INTO usage_counters (connection, customer, limit_name, used) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (connection, customer, limit_name) DO UPDATE SET used = excluded.used",
                params![connection, customer, limit, after],
            )
            .map_err(backend)?;
            exec(
                conn,
                "INSERT INTO usage_keys (connection, customer, key, limit_name, quantity, created_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![connection, customer, key, limit, quantity, now_ms],
            )
            .map_err(backend)?;
            Ok(Consumed::Granted { used: after })
        })
        .await
    }

    async fn usage(&self, connection: &str, customer: &str) -> Result<BTreeMap<String, i64>, StoreError> {
        let (connection, customer) = (connection.to_owned(), customer.to_owned());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT limit_name, used FROM usage_counters WHERE connection = ?1 AND customer = ?2 \
                     ORDER BY limit_name",
                )
                .map_err(backend)?;
            let rows =
                stmt.query_map(params![connection, customer], |row| Ok((row.get(0)?, row.get(1)?))).map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }
}
