//! Connect sessions and the registry of connections on SQLite: tables
//! `connect_sessions` (each move of a session one conditional `UPDATE`) and
//! `connections` (one JSON record per connection).

use async_trait::async_trait;
use portage_core::connect::{ConnectSession, ConnectStore, ConnectionRecord, ConnectionStatus, SessionStatus};
use portage_core::{Secret, StoreError};
use rusqlite::{OptionalExtension, Row, params};

use crate::db::{Database, backend, exec, query_row};

const COLUMNS: &str = "id, provider, connection, return_url, shop, region, scopes, status, state_digest, verifier, \
                       created_at_ms, expires_at_ms";

/// Sessions are kept this long past their expiry (for a late callback's
/// clear answer), then deleted when a new one is created.
const KEEP_EXPIRED_MS: i64 = 24 * 60 * 60 * 1000;

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<ConnectSession> {
    let status: String = row.get(7)?;
    let status = SessionStatus::parse(&status).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, format!("status {status}").into())
    })?;
    let scopes: String = row.get(6)?;
    Ok(ConnectSession {
        id: row.get(0)?,
        provider: row.get(1)?,
        connection: row.get(2)?,
        return_url: row.get(3)?,
        shop: row.get(4)?,
        region: row.get(5)?,
        scopes: scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        status,
        state_digest: row.get(8)?,
        verifier: row.get::<_, Option<String>>(9)?.map(Secret::new),
        created_at_ms: row.get(10)?,
        expires_at_ms: row.get(11)?,
    })
}

fn record_from_json(text: &str) -> Result<ConnectionRecord, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("connection record: {e}")))
}

#[async_trait]
impl ConnectStore for Database {
    async fn create_session(&self, session: &ConnectSession) -> Result<(), StoreError> {
        let s = session.clone();
        self.write(move |conn| {
            exec(conn, "DELETE FROM connect_sessions WHERE expires_at_ms < ?1", params![s.created_at_ms - KEEP_EXPIRED_MS])
                .map_err(backend)?;
            exec(
                conn,
                &format!("INSERT INTO connect_sessions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
                params![
                    s.id,
                    s.provider,
                    s.connection,
                    s.return_url,
                    s.shop,
                    s.region,
                    s.scopes.join(" "),
                    s.status.as_str(),
                    s.state_digest,
                    s.verifier.as_ref().map(Secret::expose),
                    s.created_at_ms,
                    s.expires_at_ms
                ],
            )
            .map(|_| ())
            .map_err(backend)
        })
        .await
    }

    async fn session(&self, id: &str) -> Result<Option<ConnectSession>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {COLUMNS} FROM connect_sessions WHERE id = ?1");
            query_row(conn, &sql, params![id], session_from_row).optional().map_err(backend)
        })
        .await
    }

    async fn start_session(
        &self,
        id: &str,
        state_digest: &str,
        verifier: Option<&Secret>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let (id, digest, verifier) = (id.to_owned(), state_digest.to_owned(), verifier.map(|v| v.expose().to_owned()));
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE connect_sessions SET status = 'started', state_digest = ?2, verifier = ?3 \
                 WHERE id = ?1 AND status = 'open' AND expires_at_ms > ?4",
                params![id, digest, verifier, now_ms],
            )
            .map(|n| n == 1)
            .map_err(backend)
        })
        .await
    }

    async fn session_for_state(&self, state_digest: &str) -> Result<Option<ConnectSession>, StoreError> {
        let digest = state_digest.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {COLUMNS} FROM connect_sessions WHERE state_digest = ?1");
            query_row(conn, &sql, params![digest], session_from_row).optional().map_err(backend)
        })
        .await
    }

    async fn finish_session(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE connect_sessions SET status = 'finished', verifier = NULL WHERE id = ?1 AND status = 'started'",
                params![id],
            )
            .map(|n| n == 1)
            .map_err(backend)
        })
        .await
    }

    async fn put_connection(&self, record: &ConnectionRecord) -> Result<(), StoreError> {
        let text = serde_json::to_string(record).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let (provider, connection) = (record.provider.clone(), record.connection.clone());
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO connections (provider, connection, record) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (provider, connection) DO UPDATE SET record = excluded.record",
                params![provider, connection, text],
            )
            .map(|_| ())
            .map_err(backend)
        })
        .await
    }

    async fn move_connection(&self, record: &ConnectionRecord, from: ConnectionStatus) -> Result<bool, StoreError> {
        let text = serde_json::to_string(record).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let from = serde_json::to_value(from).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let from = from.as_str().unwrap_or_default().to_owned();
        let (provider, connection) = (record.provider.clone(), record.connection.clone());
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE connections SET record = ?3 WHERE provider = ?1 AND connection = ?2 \
                 AND json_extract(record, '$.status') = ?4",
                params![provider, connection, text, from],
            )
            .map(|n| n == 1)
            .map_err(backend)
        })
        .await
    }

    async fn connection(&self, provider: &str, connection: &str) -> Result<Option<ConnectionRecord>, StoreError> {
        let (provider, connection) = (provider.to_owned(), connection.to_owned());
        let text = self
            .read(move |conn| {
                let sql = "SELECT record FROM connections WHERE provider = ?1 AND connection = ?2";
                query_row(conn, sql, params![provider, connection], |row| row.get::<_, String>(0))
                    .optional()
                    .map_err(backend)
            })
            .await?;
        text.as_deref().map(record_from_json).transpose()
    }

    async fn connections(&self, provider: Option<&str>) -> Result<Vec<ConnectionRecord>, StoreError> {
        let provider = provider.map(str::to_owned);
        let texts = self
            .read(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT record FROM connections WHERE ?1 IS NULL OR provider = ?1 ORDER BY provider, connection",
                    )
                    .map_err(backend)?;
                let rows = stmt.query_map(params![provider], |row| row.get::<_, String>(0)).map_err(backend)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(backend)
            })
            .await?;
        texts.iter().map(|t| record_from_json(t)).collect()
    }
}
