//! The SQLite database: a group-committing writer thread and a small pool
//! of read connections (the schema and its upgrades are in [`crate::schema`]).
//!
//! Writes are closures sent to one thread. It runs every closure waiting at
//! that moment inside one `BEGIN IMMEDIATE` transaction (each in a savepoint,
//! so one failing write does not undo the others), commits once with
//! `synchronous=FULL`, and only then answers each caller. A caller therefore
//! learns of success only after its write is on disk, and a burst of
//! deliveries costs one `fsync` rather than one each. Another process on the
//! same file (the CLI beside a running server) waits on SQLite's busy timeout
//! for at most one group's commit.

use std::path::Path;
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::Duration;

use portage_core::StoreError;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;
use tracing::error;

/// Most writes committed together in one transaction.
const MAX_GROUP: usize = 512;
/// How long a connection waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// One write waiting for the writer thread: run inside the group's
/// transaction, then completed with the group's commit result.
trait Job: Send {
    fn run(&mut self, conn: &Connection);
    fn complete(self: Box<Self>, commit: Result<(), StoreError>);
}

struct TypedJob<T, F> {
    op: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) {
        if let Some(op) = self.op.take() {
            self.result = Some(in_savepoint(conn, op));
        }
    }

    fn complete(self: Box<Self>, commit: Result<(), StoreError>) {
        let answer = match (commit, self.result) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::Backend("the write never ran".into())),
        };
        let _ = self.reply.send(answer);
    }
}

/// The embedded database: one writer thread and a pool of readers.
pub struct Database {
    jobs: Mutex<Option<mpsc::Sender<Box<dyn Job>>>>,
    writer: Mutex<Option<thread::JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    path: std::path::PathBuf,
}

/// Maps any SQLite error into the port's error type.
pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Runs a statement through the connection's prepared-statement cache.
pub(crate) fn exec<P: rusqlite::Params>(conn: &Connection, sql: &str, params: P) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Queries one row through the connection's prepared-statement cache.
pub(crate) fn query_row<T, P, F>(conn: &Connection, sql: &str, params: P, f: F) -> rusqlite::Result<T>
where
    P: rusqlite::Params,
    F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
{
    conn.prepare_cached(sql)?.query_row(params, f)
}

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags).map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "synchronous", "FULL").map_err(backend)?;
    Ok(conn)
}

impl Database {
    /// Opens or creates the database file, applies the schema and starts the
    /// writer thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = connect(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0)).map_err(backend)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!("cannot switch {} to WAL mode", path.display())));
        }
        crate::schema::migrate(&mut conn)?;
        let (sender, receiver) = mpsc::channel::<Box<dyn Job>>();
        let writer = thread::Builder::new()
            .name("portage-sqlite-writer".into())
            .spawn(move || write_loop(conn, receiver))
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;

        Ok(Self {
            jobs: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
            path: path.to_owned(),
        })
    }

    /// Runs `op` in the next group commit and returns its result once the
    /// group is durable. If `op` fails, its own changes are rolled back.
    pub async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(TypedJob { op: Some(op), result: None, reply });
        let sender = self
            .jobs
            .lock()
            .map_err(|_| StoreError::Backend("writer lock poisoned".into()))?
            .clone()
            .ok_or_else(|| StoreError::Backend("database is closed".into()))?;
        sender.send(job).map_err(|_| StoreError::Backend("the writer thread has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Backend("the writer thread dropped a write".into()))?
    }

    /// Runs a read on a pooled connection, off the async threads.
    pub async fn read<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pooled = self.readers.lock().ok().and_then(|mut pool| pool.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => connect(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?,
        };
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = op(&conn);
            (conn, result)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?;
        if let Ok(mut pool) = self.readers.lock() {
            pool.push(conn);
        }
        result
    }

    /// Checks that the database answers a read, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| query_row(conn, "SELECT 1", [], |_| Ok(())).map_err(backend)).await
    }

    /// Stops accepting writes, lets the writer finish what it has, and waits
    /// for it. Called on graceful shutdown; dropping the database does the same.
    pub fn close(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        self.close();
    }
}

fn in_savepoint<T>(conn: &Connection, op: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
    exec(conn, "SAVEPOINT job", []).map_err(backend)?;
    match op(conn) {
        Ok(value) => {
            exec(conn, "RELEASE job", []).map_err(backend)?;
            Ok(value)
        }
        Err(e) => {
            exec(conn, "ROLLBACK TO job", []).map_err(backend)?;
            exec(conn, "RELEASE job", []).map_err(backend)?;
            Err(e)
        }
    }
}

fn write_loop(mut conn: Connection, jobs: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let committed = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => {
                for job in &mut group {
                    job.run(&tx);
                }
                tx.commit().map_err(backend)
            }
            Err(e) => Err(backend(e)),
        };
        if let Err(e) = &committed {
            error!(error = %e, "group commit failed");
        }
        for job in group {
            job.complete(match &committed {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Backend(e.to_string())),
            });
        }
    }
}
