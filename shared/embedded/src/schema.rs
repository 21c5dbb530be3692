//! The database's schema and its upgrades: [`SCHEMA_VERSION`] in `PRAGMA
//! user_version`, and [`migrate`], which brings an older file up to it in
//! place with nothing lost.

use portage_core::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use tracing::info;

use crate::db::backend;

/// The schema version this build writes (`PRAGMA user_version`). 0 is the
/// release before connection-scoped keys; [`migrate`] upgrades it in place.
/// Version 2 adds the application API's tables (API keys, commands,
/// subscriptions, notifications) and the queue's ordering groups, which an
/// older file simply gains; version 3, connect sessions and the registry of
/// connections; version 4, usage counters; version 5, commands' step journals.
pub const SCHEMA_VERSION: i64 = 5;

/// Tables and indexes of [`SCHEMA_VERSION`], created when absent.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    -- Declared, so the row id survives VACUUM: event_payloads refers to it.
    seq             INTEGER PRIMARY KEY,
    provider        TEXT    NOT NULL,
    connection      TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    occurred_at     INTEGER NOT NULL,
    account         TEXT,
    object_kind     TEXT,
    object_id       TEXT,
    livemode        INTEGER,
    status          TEXT    NOT NULL,
    received_at_ms  INTEGER NOT NULL,
    claimed_at_ms   INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_until_ms  INTEGER,
    finished_at_ms  INTEGER,
    detail          TEXT,
    -- The deduplication key: one tenant's event id never meets another's.
    -- Event id first: this one index also serves lookups by id alone.
    UNIQUE (event_id, provider, connection)
);
-- Only `received` rows are indexed: the stranded-event scan is its one
-- user, and a full index would be rewritten on every status change.
CREATE INDEX IF NOT EXISTS events_received ON events (claimed_at_ms) WHERE status = 'received';
-- Bodies live apart from the status columns, so the worker's status updates
-- rewrite small rows instead of rows carrying the whole payload.
CREATE TABLE IF NOT EXISTS event_payloads (
    event_rowid INTEGER PRIMARY KEY,
    headers     TEXT NOT NULL,
    raw         BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    provider          TEXT    NOT NULL,
    connection        TEXT    NOT NULL,
    kind              TEXT    NOT NULL,
    id                TEXT    NOT NULL,
    version_primary   INTEGER NOT NULL,
    version_secondary INTEGER NOT NULL,
    data              TEXT    NOT NULL,
    deleted           INTEGER NOT NULL,
    source_event      TEXT,
    updated_at_ms     INTEGER NOT NULL,
    PRIMARY KEY (provider, connection, kind, id)
);
-- Named reconcile/{provider}/{connection}/{kind}.
CREATE TABLE IF NOT EXISTS cursors (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Named {purpose}:{provider}/{connection}, e.g. oauth:etsy/shop-a.
CREATE TABLE IF NOT EXISTS leases (
    name      TEXT    PRIMARY KEY,
    holder    TEXT    NOT NULL,
    until_ms  INTEGER NOT NULL
);
-- Bodies are versioned tasks (portage_core::Task).
CREATE TABLE IF NOT EXISTS queue (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    body            TEXT    NOT NULL,
    enqueued_at_ms  INTEGER NOT NULL,
    visible_at_ms   INTEGER NOT NULL,
    receive_count   INTEGER NOT NULL DEFAULT 0,
    dead_at_ms      INTEGER,
    dead_reason     TEXT,
    -- A task's ordering group (a command's resource): only the oldest live
    -- message of a group is ever received, as in an SQS FIFO queue.
    group_key       TEXT
);
CREATE INDEX IF NOT EXISTS queue_by_visibility ON queue (dead_at_ms, visible_at_ms, id);
CREATE INDEX IF NOT EXISTS queue_groups ON queue (group_key, id) WHERE group_key IS NOT NULL;
-- Keys of the application API, by the SHA-256 of the key (never the key).
CREATE TABLE IF NOT EXISTS api_keys (
    name             TEXT    PRIMARY KEY,
    prefix           TEXT    NOT NULL,
    hash             TEXT    NOT NULL UNIQUE,
    scopes           TEXT    NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    last_used_at_ms  INTEGER
);
-- Commands, recorded before any effect: one per (provider, connection,
-- idempotency key).
CREATE TABLE IF NOT EXISTS commands (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    provider         TEXT    NOT NULL,
    connection       TEXT    NOT NULL,
    action           TEXT    NOT NULL,
    idempotency_key  TEXT    NOT NULL,
    fingerprint      TEXT    NOT NULL,
    resource         TEXT,
    status           TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    input            TEXT    NOT NULL,
    result           TEXT,
    error            TEXT,
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL,
    lease_until_ms   INTEGER,
    UNIQUE (provider, connection, idempotency_key)
);
CREATE INDEX IF NOT EXISTS commands_newest ON commands (created_at_ms, id);
-- A multi-step command's journal: its steps in the order they ended.
CREATE TABLE IF NOT EXISTS command_steps (
    command_id  TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    step        TEXT    NOT NULL,
    PRIMARY KEY (command_id, n)
);
-- The stranded-command scan's: only never-begun queued rows.
-- Where the app is told, and what about; the secret signs its deliveries.
CREATE TABLE IF NOT EXISTS subscriptions (
    id             TEXT    PRIMARY KEY,
    url            TEXT    NOT NULL,
    types          TEXT    NOT NULL,
    description    TEXT,
    secret         TEXT    NOT NULL,
    allow_private  INTEGER NOT NULL,
    created_at_ms  INTEGER NOT NULL
);
-- One message to one subscription: the same body and webhook-id on every attempt.
CREATE TABLE IF NOT EXISTS notifications (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    subscription_id  TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_unstarted ON commands (updated_at_ms) WHERE status = 'queued' AND attempts = 0;
-- Connect sessions: one per attempt to link an account, found by id (its URL,
-- WooCommerce's user_id) or by the SHA-256 of its state (the callback).
CREATE TABLE IF NOT EXISTS connect_sessions (
    id             TEXT    PRIMARY KEY,
    provider       TEXT    NOT NULL,
    connection     TEXT    NOT NULL,
    return_url     TEXT    NOT NULL,
    shop           TEXT,
    region         TEXT,
    scopes         TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    state_digest   TEXT    UNIQUE,
    verifier       TEXT,
    created_at_ms  INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL
);
-- Metered usage: one counter per (customer, limit), and the keys counted.
CREATE TABLE IF NOT EXISTS usage_counters (
    connection TEXT    NOT NULL,
    customer   TEXT    NOT NULL,
    limit_name TEXT    NOT NULL,
    used       INTEGER NOT NULL,
    PRIMARY KEY (connection, customer, limit_name)
);
CREATE TABLE IF NOT EXISTS usage_keys (
    connection     TEXT    NOT NULL,
    customer       TEXT    NOT NULL,
    key            TEXT    NOT NULL,
    limit_name     TEXT    NOT NULL,
    quantity       INTEGER NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (connection, customer, key)
);
-- The registry of connections (never a credential: those are secrets).
CREATE TABLE IF NOT EXISTS connections (
    provider    TEXT NOT NULL,
    connection  TEXT NOT NULL,
    record      TEXT NOT NULL,
    PRIMARY KEY (provider, connection)
);
";

/// Version 0 → 1: the event key and the state key gain the connection, and
/// queue messages become versioned event tasks naming their connection.
/// Tables are rebuilt (SQLite cannot change a key in place), keeping every
/// row and every event's row id (the payloads refer to it).
const MIGRATE_0_TO_1: &str = "
ALTER TABLE events RENAME TO events_v0;
ALTER TABLE state RENAME TO state_v0;
DROP INDEX IF EXISTS events_received;
";

const COPY_0_TO_1: &str = "
INSERT INTO events (seq, provider, connection, event_id, event_type, occurred_at, account, object_kind, object_id,
    livemode, status, received_at_ms, claimed_at_ms, attempts, lease_until_ms, finished_at_ms, detail)
    SELECT rowid, provider, connection, event_id, event_type, occurred_at, account, object_kind, object_id,
    livemode, status, received_at_ms, claimed_at_ms, attempts, lease_until_ms, finished_at_ms, detail FROM events_v0;
INSERT INTO state (provider, connection, kind, id, version_primary, version_secondary, data, deleted, source_event,
    updated_at_ms)
    SELECT provider, connection, kind, id, version_primary, version_secondary, data, deleted, source_event,
    updated_at_ms FROM state_v0;
UPDATE queue SET body = json_object('v', 1, 'task', 'event',
        'provider', json_extract(body, '$.provider'),
        'connection', COALESCE((SELECT e.connection FROM events e
            WHERE e.provider = json_extract(queue.body, '$.provider')
              AND e.event_id = json_extract(queue.body, '$.event_id')), 'default'),
        'event_id', json_extract(body, '$.event_id'))
    WHERE json_valid(body) AND json_type(body, '$.v') IS NULL
      AND json_type(body, '$.provider') = 'text' AND json_type(body, '$.event_id') = 'text';
DROP TABLE events_v0;
DROP TABLE state_v0;
";

/// Brings the database to [`SCHEMA_VERSION`] in one transaction: a new file
/// gets the schema; a version-0 file is migrated with nothing lost; a file
/// from a newer build is refused rather than misread.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive).map_err(backend)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(backend)?;
    let has_events: bool = tx
        .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events')", [], |row| {
            row.get(0)
        })
        .map_err(backend)?;
    // Version 2's one change to an existing table: the queue's ordering groups.
    let has_queue: bool = tx
        .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'queue')", [], |row| {
            row.get(0)
        })
        .map_err(backend)?;
    let has_groups: bool = tx
        .query_row("SELECT EXISTS (SELECT 1 FROM pragma_table_info('queue') WHERE name = 'group_key')", [], |row| {
            row.get(0)
        })
        .map_err(backend)?;
    if has_queue && !has_groups && version < SCHEMA_VERSION {
        tx.execute_batch("ALTER TABLE queue ADD COLUMN group_key TEXT").map_err(backend)?;
    }
    match version {
        SCHEMA_VERSION => {}
        // Versions since 1 only add tables, which the schema below creates.
        1..SCHEMA_VERSION => info!(from = version, to = SCHEMA_VERSION, "database upgraded"),
        0 if has_events => {
            tx.execute_batch(MIGRATE_0_TO_1).map_err(backend)?;
            tx.execute_batch(SCHEMA).map_err(backend)?;
            tx.execute_batch(COPY_0_TO_1).map_err(backend)?;
            info!(from = 0, to = SCHEMA_VERSION, "database upgraded");
        }
        0 => {}
        newer => {
            return Err(StoreError::Backend(format!(
                "the database has schema version {newer}, newer than this build's {SCHEMA_VERSION}: upgrade portage"
            )));
        }
    }
    tx.execute_batch(SCHEMA).map_err(backend)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(backend)?;
    tx.commit().map_err(backend)
}
