//! The event log port on SQLite: table `events`, one row per (provider,
//! connection, event id), and its payload in `event_payloads`.

use async_trait::async_trait;
use bytes::Bytes;
use portage_core::ports::{EventLog, Finish, LeaseOutcome, RecordOutcome};
use portage_core::{EventFilter, EventKey, EventRecord, EventStatus, NewEvent, NormalizedEvent, StoreError};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::db::{Database, backend, exec, query_row};

/// The `events` columns [`record_from_row`] reads, in order (table alias `e`).
const COLUMNS: &str = "e.provider, e.event_id, e.connection, e.event_type, e.occurred_at, e.account, e.object_kind, \
     e.object_id, e.livemode, e.status, e.received_at_ms, e.attempts, e.lease_until_ms, e.finished_at_ms, e.detail";

fn status_of(row: &Row<'_>, index: usize) -> rusqlite::Result<EventStatus> {
    let text: String = row.get(index)?;
    text.parse()
        .map_err(|e: String| rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e.into()))
}

/// Reads a row selected as [`COLUMNS`], then headers, then (when `with_raw`) the raw body.
fn record_from_row(row: &Row<'_>, with_raw: bool) -> rusqlite::Result<EventRecord> {
    let headers: String = row.get(15)?;
    let headers: Vec<(String, String)> = serde_json::from_str(&headers)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(15, rusqlite::types::Type::Text, Box::new(e)))?;
    let raw: Vec<u8> = if with_raw { row.get(16)? } else { Vec::new() };
    Ok(EventRecord {
        provider: row.get(0)?,
        event: NormalizedEvent {
            event_id: row.get(1)?,
            event_type: row.get(3)?,
            occurred_at: row.get(4)?,
            account: row.get(5)?,
            object_kind: row.get(6)?,
            object_id: row.get(7)?,
            livemode: row.get(8)?,
        },
        connection: row.get(2)?,
        status: status_of(row, 9)?,
        received_at_ms: row.get(10)?,
        attempts: row.get(11)?,
        lease_until_ms: row.get(12)?,
        finished_at_ms: row.get(13)?,
        detail: row.get(14)?,
        headers,
        raw: Bytes::from(raw),
    })
}

fn get_record(conn: &Connection, key: &EventKey) -> Result<Option<EventRecord>, StoreError> {
    query_row(
        conn,
        &format!(
            "SELECT {COLUMNS}, p.headers, p.raw FROM events e JOIN event_payloads p ON p.event_rowid = e.seq \
             WHERE e.provider = ?1 AND e.connection = ?2 AND e.event_id = ?3"
        ),
        params![key.provider, key.connection, key.event_id],
        |row| record_from_row(row, true),
    )
    .optional()
    .map_err(backend)
}

fn status_and_lease(conn: &Connection, key: &EventKey) -> Result<Option<(EventStatus, Option<i64>)>, StoreError> {
    query_row(
        conn,
        "SELECT status, lease_until_ms FROM events WHERE provider = ?1 AND connection = ?2 AND event_id = ?3",
        params![key.provider, key.connection, key.event_id],
        |row| Ok((status_of(row, 0)?, row.get(1)?)),
    )
    .optional()
    .map_err(backend)
}

/// The conditional first write of a delivery (shared with the intake).
pub(crate) fn insert(conn: &Connection, event: &NewEvent, reclaim_after_ms: i64) -> Result<RecordOutcome, StoreError> {
    let headers = serde_json::to_string(&event.headers).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let e = &event.event;
    let inserted = exec(
        conn,
        "INSERT INTO events (provider, event_id, connection, event_type, occurred_at, account, \
             object_kind, object_id, livemode, status, received_at_ms, claimed_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'received', ?10, ?10) \
             ON CONFLICT (event_id, provider, connection) DO NOTHING",
        params![
            event.provider,
            e.event_id,
            event.connection,
            e.event_type,
            e.occurred_at,
            e.account,
            e.object_kind,
            e.object_id,
            e.livemode,
            event.received_at_ms,
        ],
    )
    .map_err(backend)?;
    if inserted == 1 {
        exec(
            conn,
            "INSERT INTO event_payloads (event_rowid, headers, raw) VALUES (last_insert_rowid(), ?1, ?2)",
            params![headers, event.raw.as_ref()],
        )
        .map_err(backend)?;
        return Ok(RecordOutcome::Inserted);
    }
    let reclaimed = exec(
        conn,
        "UPDATE events SET claimed_at_ms = ?4 WHERE provider = ?1 AND connection = ?2 AND event_id = ?3 \
             AND status = 'received' AND claimed_at_ms <= ?4 - ?5",
        params![event.provider, event.connection, e.event_id, event.received_at_ms, reclaim_after_ms],
    )
    .map_err(backend)?;
    if reclaimed == 1 {
        return Ok(RecordOutcome::Reclaimed);
    }
    let key = event.key();
    let (status, _) =
        status_and_lease(conn, &key)?.ok_or_else(|| StoreError::Backend("event vanished during record".into()))?;
    Ok(RecordOutcome::Duplicate(status))
}

/// Moves a `received` event to `queued` (shared with the intake).
pub(crate) fn mark_queued(conn: &Connection, key: &EventKey) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE events SET status = 'queued' \
         WHERE provider = ?1 AND connection = ?2 AND event_id = ?3 AND status = 'received'",
        params![key.provider, key.connection, key.event_id],
    )
    .map(|_| ())
    .map_err(backend)
}

fn lease(conn: &Connection, key: &EventKey, now: i64, until: i64, force: bool) -> Result<LeaseOutcome, StoreError> {
    let leased = exec(
        conn,
        "UPDATE events SET status = 'processing', lease_until_ms = ?5, attempts = attempts + 1 \
             WHERE provider = ?1 AND connection = ?2 AND event_id = ?3 AND ( \
                status IN ('received', 'queued') \
                OR (status = 'processing' AND lease_until_ms < ?4) \
                OR (?6 AND status IN ('processed', 'failed')))",
        params![key.provider, key.connection, key.event_id, now, until, force],
    )
    .map_err(backend)?;
    if leased == 1 {
        let record = get_record(conn, key)?.ok_or_else(|| StoreError::Backend("leased event vanished".into()))?;
        return Ok(LeaseOutcome::Leased(Box::new(record)));
    }
    Ok(match status_and_lease(conn, key)? {
        None => LeaseOutcome::NotFound,
        Some((status, _)) if status.is_final() => LeaseOutcome::AlreadyFinal(status),
        Some((_, lease_until)) => LeaseOutcome::Busy(lease_until.unwrap_or(now)),
    })
}

fn finish(conn: &Connection, key: &EventKey, finish: &Finish, now: i64) -> Result<(), StoreError> {
    let (status, detail, finished_at) = match finish {
        Finish::Processed(d) => ("processed", d, Some(now)),
        Finish::Failed(d) => ("failed", d, Some(now)),
        Finish::Retry(d) => ("queued", d, None),
    };
    exec(
        conn,
        "UPDATE events SET status = ?4, detail = ?5, finished_at_ms = ?6, lease_until_ms = NULL \
         WHERE provider = ?1 AND connection = ?2 AND event_id = ?3 AND status = 'processing'",
        params![key.provider, key.connection, key.event_id, status, detail, finished_at],
    )
    .map_err(backend)?;
    Ok(())
}

fn list(conn: &Connection, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS}, '[]' FROM events e WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    if let Some(p) = &filter.provider {
        args.push(Value::Text(p.clone()));
        sql.push_str(&format!(" AND provider = ?{}", args.len()));
    }
    if let Some(c) = &filter.connection {
        args.push(Value::Text(c.clone()));
        sql.push_str(&format!(" AND connection = ?{}", args.len()));
    }
    if let Some(s) = filter.status {
        args.push(Value::Text(s.as_str().to_owned()));
        sql.push_str(&format!(" AND status = ?{}", args.len()));
    }
    if let Some(id) = &filter.event_id {
        args.push(Value::Text(id.clone()));
        sql.push_str(&format!(" AND event_id = ?{}", args.len()));
    }
    if let Some(before) = &filter.before {
        let n = args.len();
        args.extend([
            Value::Integer(before.received_at_ms),
            Value::Text(before.key.provider.clone()),
            Value::Text(before.key.connection.clone()),
            Value::Text(before.key.event_id.clone()),
        ]);
        sql.push_str(&format!(
            " AND (received_at_ms, provider, connection, event_id) < (?{}, ?{}, ?{}, ?{})",
            n + 1,
            n + 2,
            n + 3,
            n + 4
        ));
    }
    sql.push_str(" ORDER BY received_at_ms DESC, provider DESC, connection DESC, event_id DESC");
    if let Some(limit) = filter.limit {
        args.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        sql.push_str(&format!(" LIMIT ?{}", args.len()));
    }
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| record_from_row(row, false)).map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

fn stranded(conn: &Connection, before: i64, limit: usize) -> Result<Vec<EventKey>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT provider, connection, event_id FROM events WHERE status = 'received' AND claimed_at_ms < ?1 \
             ORDER BY claimed_at_ms LIMIT ?2",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![before, i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            Ok(EventKey { provider: row.get(0)?, connection: row.get(1)?, event_id: row.get(2)? })
        })
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

#[async_trait]
impl EventLog for Database {
    async fn record(&self, event: NewEvent, reclaim_after_ms: i64) -> Result<RecordOutcome, StoreError> {
        self.write(move |conn| insert(conn, &event, reclaim_after_ms)).await
    }

    async fn mark_queued(&self, key: &EventKey) -> Result<(), StoreError> {
        let key = key.clone();
        self.write(move |conn| mark_queued(conn, &key)).await
    }

    async fn lease(&self, key: &EventKey, now_ms: i64, until_ms: i64, force: bool) -> Result<LeaseOutcome, StoreError> {
        let key = key.clone();
        self.write(move |conn| lease(conn, &key, now_ms, until_ms, force)).await
    }

    async fn finish(&self, key: &EventKey, outcome: Finish, now_ms: i64) -> Result<(), StoreError> {
        let key = key.clone();
        self.write(move |conn| finish(conn, &key, &outcome, now_ms)).await
    }

    async fn requeue_failed(&self, key: &EventKey) -> Result<bool, StoreError> {
        let key = key.clone();
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE events SET status = 'queued', finished_at_ms = NULL \
                 WHERE provider = ?1 AND connection = ?2 AND event_id = ?3 AND status = 'failed'",
                params![key.provider, key.connection, key.event_id],
            )
            .map(|n| n == 1)
            .map_err(backend)
        })
        .await
    }

    async fn get(&self, key: &EventKey) -> Result<Option<EventRecord>, StoreError> {
        let key = key.clone();
        self.read(move |conn| get_record(conn, &key)).await
    }

    async fn list(&self, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        let filter = filter.clone();
        self.read(move |conn| list(conn, &filter)).await
    }

    async fn stranded(&self, before_ms: i64, limit: usize) -> Result<Vec<EventKey>, StoreError> {
        self.read(move |conn| stranded(conn, before_ms, limit)).await
    }
}
