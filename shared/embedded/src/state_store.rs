//! The state store port on SQLite: tables `state` (keyed provider,
//! connection, kind, id) and `cursors`.

use async_trait::async_trait;
use portage_core::ports::{StateQuery, StateStore, UpsertOutcome};
use portage_core::{StateChange, StateRecord, StoreError, Version};
use rusqlite::{OptionalExtension, Row, params};

use crate::db::{Database, backend, exec, query_row};

const COLUMNS: &str = "provider, connection, kind, id, version_primary, version_secondary, data, deleted, \
     source_event, updated_at_ms";

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<StateRecord> {
    let data: String = row.get(6)?;
    Ok(StateRecord {
        provider: row.get(0)?,
        connection: row.get(1)?,
        kind: row.get(2)?,
        id: row.get(3)?,
        version: Version { primary: row.get(4)?, secondary: row.get(5)? },
        data: serde_json::from_str(&data)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e)))?,
        deleted: row.get(7)?,
        source_event: row.get(8)?,
        updated_at_ms: row.get(9)?,
    })
}

#[async_trait]
impl StateStore for Database {
    async fn upsert(
        &self,
        provider: &str,
        connection: &str,
        change: &StateChange,
        source_event: Option<&str>,
        now_ms: i64,
    ) -> Result<UpsertOutcome, StoreError> {
        let data = serde_json::to_string(&change.data).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let (provider, connection, change) = (provider.to_owned(), connection.to_owned(), change.clone());
        let source_event = source_event.map(str::to_owned);
        self.write(move |conn| {
            // The WHERE clause on the conflict branch is the version check: an
            // equal or older version leaves the row untouched.
            let written = exec(conn,
                    "INSERT INTO state (provider, kind, id, connection, version_primary, version_secondary, \
                     data, deleted, source_event, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                     ON CONFLICT (provider, connection, kind, id) DO UPDATE SET \
                     version_primary = excluded.version_primary, version_secondary = excluded.version_secondary, \
                     data = excluded.data, deleted = excluded.deleted, source_event = excluded.source_event, \
                     updated_at_ms = excluded.updated_at_ms \
                     WHERE (excluded.version_primary, excluded.version_secondary) > (state.version_primary, state.version_secondary)",
                    params![
                        provider,
                        change.kind,
                        change.id,
                        connection,
                        change.version.primary,
                        change.version.secondary,
                        data,
                        change.deleted,
                        source_event,
                        now_ms
                    ],
                )
                .map_err(backend)?;
            Ok(if written == 1 { UpsertOutcome::Applied } else { UpsertOutcome::Stale })
        })
        .await
    }

    async fn get(
        &self,
        provider: &str,
        connection: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<StateRecord>, StoreError> {
        let key = [provider, connection, kind, id].map(str::to_owned);
        self.read(move |conn| {
            query_row(
                conn,
                &format!(
                    "SELECT {COLUMNS} FROM state WHERE provider = ?1 AND connection = ?2 AND kind = ?3 AND id = ?4"
                ),
                params![key[0], key[1], key[2], key[3]],
                record_from_row,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn page(&self, query: &StateQuery) -> Result<Vec<StateRecord>, StoreError> {
        let query = query.clone();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM state WHERE provider = ?1 AND connection = ?2 AND kind = ?3 \
                     AND (?4 IS NULL OR id > ?4) AND (?5 IS NULL OR updated_at_ms >= ?5) ORDER BY id LIMIT ?6"
                ))
                .map_err(backend)?;
            let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
            let rows = stmt
                .query_map(
                    params![
                        query.provider,
                        query.connection,
                        query.kind,
                        query.after_id,
                        query.updated_since_ms,
                        limit
                    ],
                    record_from_row,
                )
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        let name = name.to_owned();
        self.read(move |conn| {
            query_row(conn, "SELECT value FROM cursors WHERE name = ?1", params![name], |row| row.get(0))
                .optional()
                .map_err(backend)
        })
        .await
    }

    async fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.write(move |conn| {
            exec(conn,
                "INSERT INTO cursors (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )
            .map(|_| ())
            .map_err(backend)
        })
        .await
    }
}
