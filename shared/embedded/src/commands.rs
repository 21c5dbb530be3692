//! The command store on SQLite: table `commands`, unique on (provider,
//! connection, idempotency key); every transition is one conditional write
//! on the writer thread.

use async_trait::async_trait;
use portage_core::StoreError;
use portage_core::commands::{
    BeginOutcome, CommandError, CommandFilter, CommandOutcome, CommandRecord, CommandStatus, CommandStep, CommandStore,
    NewCommand, SubmitOutcome,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::db::{Database, backend, exec, query_row};

const COLUMNS: &str = "id, provider, connection, action, idempotency_key, fingerprint, resource, status, attempts, \
     input, result, error, created_at_ms, updated_at_ms, lease_until_ms";

fn json_column<T: serde::de::DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(index)?;
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e)))
}

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<CommandRecord> {
    let status: String = row.get(7)?;
    Ok(CommandRecord {
        id: row.get(0)?,
        provider: row.get(1)?,
        connection: row.get(2)?,
        action: row.get(3)?,
        idempotency_key: row.get(4)?,
        fingerprint: row.get(5)?,
        resource: row.get(6)?,
        status: status
            .parse()
            .map_err(|e: String| rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, e.into()))?,
        attempts: row.get(8)?,
        input: json_column(row, 9)?.unwrap_or(serde_json::Value::Null),
        result: json_column(row, 10)?,
        error: json_column(row, 11)?,
        created_at_ms: row.get(12)?,
        updated_at_ms: row.get(13)?,
        lease_until_ms: row.get(14)?,
        steps: Vec::new(),
    })
}

/// The record with its journal read in.
fn with_steps(conn: &Connection, mut record: CommandRecord) -> Result<CommandRecord, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT step FROM command_steps WHERE command_id = ?1 ORDER BY n").map_err(backend)?;
    let rows = stmt.query_map(params![record.id], |row| row.get::<_, String>(0)).map_err(backend)?;
    for text in rows {
        let text = text.map_err(backend)?;
        record.steps.push(serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("step: {e}")))?);
    }
    Ok(record)
}

fn by_id(conn: &Connection, id: &str) -> Result<Option<CommandRecord>, StoreError> {
    let record =
        query_row(conn, &format!("SELECT {COLUMNS} FROM commands WHERE id = ?1"), params![id], record_from_row)
            .optional()
            .map_err(backend)?;
    record.map(|r| with_steps(conn, r)).transpose()
}

fn record_step(conn: &Connection, id: &str, step: &CommandStep) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO command_steps (command_id, n, step) \
         SELECT ?1, (SELECT COALESCE(MAX(n), 0) + 1 FROM command_steps WHERE command_id = ?1), ?2 \
         WHERE EXISTS (SELECT 1 FROM commands WHERE id = ?1 AND status = 'running')",
        params![id, to_json(step)?],
    )
    .map(|_| ())
    .map_err(backend)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn submit(conn: &Connection, c: &NewCommand) -> Result<SubmitOutcome, StoreError> {
    let inserted = exec(
        conn,
        "INSERT INTO commands (id, provider, connection, action, idempotency_key, fingerprint, resource, status, \
         input, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?9, ?9) \
         ON CONFLICT (provider, connection, idempotency_key) DO NOTHING",
        params![
            c.id,
            c.provider,
            c.connection,
            c.action,
            c.idempotency_key,
            c.fingerprint,
            c.resource,
            to_json(&c.input)?,
            c.created_at_ms
        ],
    )
    .map_err(backend)?;
    if inserted == 1 {
        let created = by_id(conn, &c.id)?.ok_or_else(|| StoreError::Backend("the new command vanished".into()))?;
        return Ok(SubmitOutcome::Created(created));
    }
    let existing = query_row(
        conn,
        &format!("SELECT {COLUMNS} FROM commands WHERE provider = ?1 AND connection = ?2 AND idempotency_key = ?3"),
        params![c.provider, c.connection, c.idempotency_key],
        record_from_row,
    )
    .map_err(backend)?;
    let existing = with_steps(conn, existing)?;
    Ok(if existing.fingerprint == c.fingerprint { SubmitOutcome::Existing(existing) } else { SubmitOutcome::Conflict })
}

fn begin(conn: &Connection, id: &str, now: i64, until: i64) -> Result<BeginOutcome, StoreError> {
    let Some(command) = by_id(conn, id)? else { return Ok(BeginOutcome::NotFound) };
    let interrupted = match command.status {
        CommandStatus::Queued => false,
        CommandStatus::Running => match command.lease_until_ms {
            Some(lease) if lease >= now => return Ok(BeginOutcome::Busy(lease)),
            _ => true,
        },
        _ => return Ok(BeginOutcome::Final(command)),
    };
    exec(
        conn,
        "UPDATE commands SET status = 'running', attempts = attempts + 1, lease_until_ms = ?2, updated_at_ms = ?3 \
         WHERE id = ?1",
        params![id, until, now],
    )
    .map_err(backend)?;
    let taken = by_id(conn, id)?.ok_or_else(|| StoreError::Backend("the command vanished".into()))?;
    Ok(if interrupted { BeginOutcome::Interrupted(taken) } else { BeginOutcome::Begun(taken) })
}

fn finish(conn: &Connection, id: &str, outcome: &CommandOutcome, now: i64) -> Result<(), StoreError> {
    let (status, result, error): (CommandStatus, Option<String>, Option<&CommandError>) = match outcome {
        CommandOutcome::Succeeded(result) => (CommandStatus::Succeeded, Some(to_json(result)?), None),
        CommandOutcome::Failed(error) => (CommandStatus::Failed, None, Some(error)),
        CommandOutcome::Unknown(error) => (CommandStatus::Unknown, None, Some(error)),
        CommandOutcome::Retry(error) => (CommandStatus::Queued, None, Some(error)),
    };
    let error = error.map(to_json).transpose()?;
    exec(
        conn,
        "UPDATE commands SET status = ?2, result = ?3, error = ?4, lease_until_ms = NULL, updated_at_ms = ?5 \
         WHERE id = ?1 AND status = 'running'",
        params![id, status.as_str(), result, error, now],
    )
    .map(|_| ())
    .map_err(backend)
}

fn list(conn: &Connection, filter: &CommandFilter) -> Result<Vec<CommandRecord>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM commands WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    for (column, value) in [
        ("status", filter.status.map(|s| s.as_str().to_owned())),
        ("provider", filter.provider.clone()),
        ("connection", filter.connection.clone()),
    ] {
        if let Some(value) = value {
            args.push(Value::Text(value));
            sql.push_str(&format!(" AND {column} = ?{}", args.len()));
        }
    }
    if let Some((created, id)) = &filter.before {
        args.push(Value::Integer(*created));
        args.push(Value::Text(id.clone()));
        sql.push_str(&format!(" AND (created_at_ms, id) < (?{}, ?{})", args.len() - 1, args.len()));
    }
    args.push(Value::Integer(i64::try_from(filter.limit).unwrap_or(i64::MAX)));
    sql.push_str(&format!(" ORDER BY created_at_ms DESC, id DESC LIMIT ?{}", args.len()));
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), record_from_row).map_err(backend)?;
    let records: Vec<CommandRecord> = rows.collect::<Result<_, _>>().map_err(backend)?;
    records.into_iter().map(|r| with_steps(conn, r)).collect()
}

#[async_trait]
impl CommandStore for Database {
    async fn submit(&self, command: &NewCommand) -> Result<SubmitOutcome, StoreError> {
        let command = command.clone();
        self.write(move |conn| submit(conn, &command)).await
    }

    async fn get(&self, id: &str) -> Result<Option<CommandRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| by_id(conn, &id)).await
    }

    async fn list(&self, filter: &CommandFilter) -> Result<Vec<CommandRecord>, StoreError> {
        let filter = filter.clone();
        self.read(move |conn| list(conn, &filter)).await
    }

    async fn begin(&self, id: &str, now_ms: i64, until_ms: i64) -> Result<BeginOutcome, StoreError> {
        let id = id.to_owned();
        self.write(move |conn| begin(conn, &id, now_ms, until_ms)).await
    }

    async fn finish(&self, id: &str, outcome: &CommandOutcome, now_ms: i64) -> Result<(), StoreError> {
        let (id, outcome) = (id.to_owned(), outcome.clone());
        self.write(move |conn| finish(conn, &id, &outcome, now_ms)).await
    }

    async fn stranded(&self, before_ms: i64, limit: usize) -> Result<Vec<CommandRecord>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM commands WHERE status = 'queued' AND attempts = 0 AND updated_at_ms < ?1 \
                     ORDER BY updated_at_ms, seq LIMIT ?2"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![before_ms, i64::try_from(limit).unwrap_or(i64::MAX)], record_from_row)
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn mark_enqueued(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE commands SET updated_at_ms = ?2 WHERE id = ?1 AND status = 'queued'",
                params![id, now_ms],
            )
            .map(|_| ())
            .map_err(backend)
        })
        .await
    }

    async fn record_step(&self, id: &str, step: &CommandStep) -> Result<(), StoreError> {
        let (id, step) = (id.to_owned(), step.clone());
        self.write(move |conn| record_step(conn, &id, &step)).await
    }

    async fn requeue_failed(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE commands SET status = 'queued', updated_at_ms = ?2 WHERE id = ?1 AND status = 'failed'",
                params![id, now_ms],
            )
            .map(|n| n == 1)
            .map_err(backend)
        })
        .await
    }
}
