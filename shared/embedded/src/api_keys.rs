//! The API-key store on SQLite: table `api_keys`, looked up by hash.

use async_trait::async_trait;
use portage_core::StoreError;
use portage_core::api_keys::{ApiKeyRecord, ApiKeys, LAST_USED_RESOLUTION_MS, Scope};
use rusqlite::{OptionalExtension, Row, params};

use crate::db::{Database, backend, exec, query_row};

const COLUMNS: &str = "name, prefix, hash, scopes, created_at_ms, last_used_at_ms";

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    let scopes: String = row.get(3)?;
    let scopes = scopes
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::parse::<Scope>)
        .collect::<Result<_, _>>()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(ApiKeyRecord {
        name: row.get(0)?,
        prefix: row.get(1)?,
        hash: row.get(2)?,
        scopes,
        created_at_ms: row.get(4)?,
        last_used_at_ms: row.get(5)?,
    })
}

#[async_trait]
impl ApiKeys for Database {
    async fn create(&self, record: &ApiKeyRecord) -> Result<bool, StoreError> {
        let record = record.clone();
        let scopes = record.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO api_keys (name, prefix, hash, scopes, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT DO NOTHING",
                params![record.name, record.prefix, record.hash, scopes, record.created_at_ms],
            )
            .map(|written| written == 1)
            .map_err(backend)
        })
        .await
    }

    async fn find(&self, hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let hash = hash.to_owned();
        self.read(move |conn| {
            query_row(conn, &format!("SELECT {COLUMNS} FROM api_keys WHERE hash = ?1"), params![hash], record_from_row)
                .optional()
                .map_err(backend)
        })
        .await
    }

    async fn touch(&self, key: &ApiKeyRecord, now_ms: i64) -> Result<(), StoreError> {
        let name = key.name.clone();
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE api_keys SET last_used_at_ms = ?2 WHERE name = ?1 \
                 AND (last_used_at_ms IS NULL OR last_used_at_ms <= ?2 - ?3)",
                params![name, now_ms, LAST_USED_RESOLUTION_MS],
            )
            .map(|_| ())
            .map_err(backend)
        })
        .await
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys ORDER BY name")).map_err(backend)?;
            let rows = stmt.query_map([], record_from_row).map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn revoke(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.write(move |conn| {
            exec(conn, "DELETE FROM api_keys WHERE name = ?1", params![name]).map(|n| n == 1).map_err(backend)
        })
        .await
    }
}
