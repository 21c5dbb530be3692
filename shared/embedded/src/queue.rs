//! The queue port on SQLite: table `queue`, with SQS's semantics (visibility
//! timeout, receive count, dead letters past a maximum receive count).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portage_core::ports::{Clock, Queue};
use portage_core::{DeadLetter, Delivery, StoreError, Task};
use rusqlite::{Connection, params};

use crate::db::{Database, backend, exec};

/// The embedded queue: messages live in the same database as the events, so
/// a message is as durable as the event it names.
pub struct SqliteQueue {
    db: Arc<Database>,
    clock: Arc<dyn Clock>,
    max_receives: u32,
}

impl SqliteQueue {
    /// A queue over `db` that dead-letters a message received more than
    /// `max_receives` times.
    pub fn new(db: Arc<Database>, clock: Arc<dyn Clock>, max_receives: u32) -> Self {
        Self { db, clock, max_receives: max_receives.max(1) }
    }
}

impl SqliteQueue {
    /// The database the queue lives in (shared with the intake).
    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    /// Now, by the queue's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A receipt names the message and the receive it came from, so a stale
/// receipt (the message was received again since) settles nothing.
fn parse_receipt(receipt: &str) -> Result<(i64, i64), StoreError> {
    let (id, count) =
        receipt.split_once(':').ok_or_else(|| StoreError::Invalid(format!("malformed receipt '{receipt}'")))?;
    let parse = |s: &str| s.parse::<i64>().map_err(|_| StoreError::Invalid(format!("malformed receipt '{receipt}'")));
    Ok((parse(id)?, parse(count)?))
}

/// Appends one message at `now`, visible from `visible_at`, in `group` if it has one.
pub(crate) fn push(
    conn: &Connection,
    body: &str,
    group: Option<&str>,
    now: i64,
    visible_at: i64,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO queue (body, enqueued_at_ms, visible_at_ms, group_key) VALUES (?1, ?2, ?3, ?4)",
        params![body, now, visible_at, group],
    )
    .map(|_| ())
    .map_err(backend)
}

fn receive(
    conn: &Connection,
    now: i64,
    max: usize,
    hide_ms: i64,
    max_receives: u32,
) -> Result<Vec<Delivery>, StoreError> {
    exec(
        conn,
        "UPDATE queue SET dead_at_ms = ?1, dead_reason = 'max_receives_exceeded' \
         WHERE dead_at_ms IS NULL AND visible_at_ms <= ?1 AND receive_count >= ?2",
        params![now, max_receives],
    )
    .map_err(backend)?;
    let mut stmt = conn
        .prepare_cached(
            "UPDATE queue SET receive_count = receive_count + 1, visible_at_ms = ?2 \
             WHERE id IN (SELECT id FROM queue q WHERE dead_at_ms IS NULL AND visible_at_ms <= ?1 \
                 AND (group_key IS NULL OR NOT EXISTS (SELECT 1 FROM queue e WHERE e.group_key = q.group_key \
                     AND e.id < q.id AND e.dead_at_ms IS NULL)) \
                 ORDER BY id LIMIT ?3) \
             RETURNING id, receive_count, body",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![now, now.saturating_add(hide_ms), i64::try_from(max).unwrap_or(i64::MAX)], |row| {
            let id: i64 = row.get(0)?;
            let count: u32 = row.get(1)?;
            let body: String = row.get(2)?;
            Ok((id, count, body))
        })
        .map_err(backend)?;
    let received: Vec<(i64, u32, String)> = rows.collect::<Result<_, _>>().map_err(backend)?;
    let mut deliveries = Vec::with_capacity(received.len());
    for (id, count, body) in received {
        match Task::decode(&body) {
            Ok(task) => deliveries.push(Delivery { receipt: format!("{id}:{count}"), task, receive_count: count }),
            // Not a task this build reads: parked where an operator sees it,
            // rather than failing every receive.
            Err(error) => {
                exec(
                    conn,
                    "UPDATE queue SET dead_at_ms = ?2, dead_reason = 'malformed_message' WHERE id = ?1",
                    params![id, now],
                )
                .map_err(backend)?;
                tracing::warn!(%error, "queue message dead-lettered");
            }
        }
    }
    Ok(deliveries)
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send(&self, tasks: &[Task]) -> Result<(), StoreError> {
        self.send_delayed(tasks, Duration::ZERO).await
    }

    async fn send_delayed(&self, tasks: &[Task], delay: Duration) -> Result<(), StoreError> {
        let messages: Vec<(String, Option<String>)> =
            tasks.iter().map(|t| (t.encode(), t.group().map(str::to_owned))).collect();
        let now = self.clock.now_ms();
        let visible_at = now.saturating_add(millis(delay));
        self.db
            .write(move |conn| {
                messages.iter().try_for_each(|(body, group)| push(conn, body, group.as_deref(), now, visible_at))
            })
            .await
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, StoreError> {
        let (now, hide, max_receives) = (self.clock.now_ms(), millis(visibility), self.max_receives);
        self.db.write(move |conn| receive(conn, now, max, hide, max_receives)).await
    }

    async fn ack(&self, receipt: &str) -> Result<(), StoreError> {
        let (id, count) = parse_receipt(receipt)?;
        self.db
            .write(move |conn| {
                exec(conn, "DELETE FROM queue WHERE id = ?1 AND receive_count = ?2", params![id, count])
                    .map(|_| ())
                    .map_err(backend)
            })
            .await
    }

    async fn retry_later(&self, receipt: &str, delay: Duration) -> Result<(), StoreError> {
        let (id, count) = parse_receipt(receipt)?;
        let visible_at = self.clock.now_ms().saturating_add(millis(delay));
        self.db
            .write(move |conn| {
                exec(
                    conn,
                    "UPDATE queue SET visible_at_ms = ?3 WHERE id = ?1 AND receive_count = ?2 AND dead_at_ms IS NULL",
                    params![id, count, visible_at],
                )
                .map(|_| ())
                .map_err(backend)
            })
            .await
    }

    async fn dead_letter(&self, receipt: &str, reason: &str) -> Result<(), StoreError> {
        let (id, count) = parse_receipt(receipt)?;
        let (now, reason) = (self.clock.now_ms(), reason.to_owned());
        self.db
            .write(move |conn| {
                exec(
                    conn,
                    "UPDATE queue SET dead_at_ms = ?3, dead_reason = ?4 WHERE id = ?1 AND receive_count = ?2",
                    params![id, count, now, reason],
                )
                .map(|_| ())
                .map_err(backend)
            })
            .await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        self.db
            .read(|conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT id, body, receive_count, dead_reason, dead_at_ms FROM queue \
                         WHERE dead_at_ms IS NOT NULL ORDER BY dead_at_ms, id",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map([], |row| {
                        let body: String = row.get(1)?;
                        Ok(DeadLetter {
                            id: row.get::<_, i64>(0)?.to_string(),
                            message: Task::decode(&body).ok(),
                            receive_count: row.get(2)?,
                            reason: row.get::<_, Option<String>>(3)?.unwrap_or_default(),
                            dead_at_ms: row.get(4)?,
                        })
                    })
                    .map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)
            })
            .await
    }

    async fn redrive(&self, ids: Option<&[String]>) -> Result<usize, StoreError> {
        let ids: Option<Vec<i64>> = ids
            .map(|ids| {
                ids.iter()
                    .map(|id| id.parse::<i64>().map_err(|_| StoreError::Invalid(format!("no dead letter '{id}'"))))
                    .collect()
            })
            .transpose()?;
        let now = self.clock.now_ms();
        self.db
            .write(move |conn| {
                let sql = "UPDATE queue SET dead_at_ms = NULL, dead_reason = NULL, receive_count = 0, visible_at_ms = ?1 \
                           WHERE dead_at_ms IS NOT NULL";
                match ids {
                    None => exec(conn,sql, params![now]).map_err(backend),
                    Some(ids) => {
                        let mut moved = 0;
                        for id in ids {
                            moved += exec(conn,&format!("{sql} AND id = ?2"), params![now, id]).map_err(backend)?;
                        }
                        Ok(moved)
                    }
                }
            })
            .await
    }
}
