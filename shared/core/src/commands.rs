//! Commands: effects an app asks Portage to have at a provider. Each is
//! recorded, with one conditional write on (provider, connection,
//! idempotency key), before anything is sent, so a repeated request finds the
//! same command and nothing runs twice.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// Where a command stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    /// Recorded and on the queue.
    Queued,
    /// A worker is executing it.
    Running,
    /// The effect happened; `result` says what it made.
    Succeeded,
    /// The effect did not happen and will not be tried again.
    Failed,
    /// The effect may or may not have happened (an ambiguous failure of an
    /// action that cannot be safely repeated); `error.message` says what to check.
    Unknown,
}

impl CommandStatus {
    /// The status's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }

    /// Whether the command is over (nothing more will happen to it).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Unknown)
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CommandStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Queued, Self::Running, Self::Succeeded, Self::Failed, Self::Unknown]
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown command status {s:?} (queued, running, succeeded, failed, unknown)"))
    }
}

/// Why a command did not succeed, as the app sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandError {
    /// `provider` (the provider refused it), `transient` (kept failing to
    /// reach it), `ambiguous` (the outcome is unknown), `credentials`.
    pub kind: String,
    /// A stable code: the provider's own where it gives one.
    pub code: String,
    /// What happened, and for `unknown` what to check.
    pub message: String,
    /// The provider's request id, for its support.
    pub request_id: Option<String>,
}

/// A command about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommand {
    /// Its id (`cmd_…`), made by the caller.
    pub id: String,
    /// Provider name.
    pub provider: String,
    /// The tenant connection it acts for.
    pub connection: String,
    /// The action, e.g. `customer.create`.
    pub action: String,
    /// The action's input, as validated.
    pub input: serde_json::Value,
    /// The app's key for this request.
    pub idempotency_key: String,
    /// A digest of action and input: a reused key with another digest is a conflict.
    pub fingerprint: String,
    /// What it acts on, when the action names one: commands on one resource
    /// run in submission order.
    pub resource: Option<String>,
    /// When it was submitted, Unix milliseconds.
    pub created_at_ms: i64,
}

/// A recorded command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// Its id.
    pub id: String,
    /// Provider name.
    pub provider: String,
    /// The tenant connection.
    pub connection: String,
    /// The action.
    pub action: String,
    /// The app's idempotency key.
    pub idempotency_key: String,
    /// Digest of action and input.
    pub fingerprint: String,
    /// What it acts on (its ordering group), if anything.
    pub resource: Option<String>,
    /// Where it stands.
    pub status: CommandStatus,
    /// Executions begun.
    pub attempts: u32,
    /// The input.
    pub input: serde_json::Value,
    /// What the effect made, once succeeded.
    pub result: Option<serde_json::Value>,
    /// Why it failed or is unknown (or the last transient failure).
    pub error: Option<CommandError>,
    /// When it was submitted, Unix milliseconds.
    pub created_at_ms: i64,
    /// When it last changed, Unix milliseconds.
    pub updated_at_ms: i64,
    /// While running: until when the worker holds it, Unix milliseconds.
    pub lease_until_ms: Option<i64>,
    /// The journal of a multi-step command's steps, oldest first.
    #[serde(default)]
    pub steps: Vec<CommandStep>,
}

/// One step of a multi-step command, journalled as it ends, so an execution
/// that resumes (after a crash, a retry) finds what was done and never does
/// it again, and the app reads what was tried and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandStep {
    /// What the step is, e.g. `stripe.checkout`.
    pub name: String,
    /// `done`, or `failed` (a failure the command went on from, e.g. to a fallback).
    pub status: String,
    /// What it made (ids, the result it gave), or why it failed (`{"code", "message"}`).
    pub result: serde_json::Value,
    /// When it ended, Unix milliseconds.
    pub at_ms: i64,
}

impl CommandStep {
    /// A step that was done, with what it made.
    pub fn done(name: &str, result: serde_json::Value, at_ms: i64) -> Self {
        Self { name: name.to_owned(), status: "done".to_owned(), result, at_ms }
    }

    /// A step that failed, the command going on without it.
    pub fn failed(name: &str, result: serde_json::Value, at_ms: i64) -> Self {
        Self { name: name.to_owned(), status: "failed".to_owned(), result, at_ms }
    }

    /// The step as the API shows it.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "status": self.status,
            "result": self.result,
            "at": crate::domain::rfc3339_ms(self.at_ms),
        })
    }
}

/// What submitting a command found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Recorded now: the caller must queue it.
    Created(CommandRecord),
    /// The same request was submitted before: this is that command.
    Existing(CommandRecord),
    /// The key was used before for another action or input.
    Conflict,
}

/// What an attempt to begin executing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeginOutcome {
    /// The caller runs it now (it was queued).
    Begun(CommandRecord),
    /// It was running under a lease that ran out: the worker died mid-effect.
    /// The caller now holds it and must decide by the action's effect
    /// strategy whether running it again is safe.
    Interrupted(CommandRecord),
    /// Another worker holds it until this time (Unix ms).
    Busy(i64),
    /// Already over.
    Final(CommandRecord),
    /// No such command.
    NotFound,
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandOutcome {
    /// The effect happened.
    Succeeded(serde_json::Value),
    /// It did not, and will not be tried again.
    Failed(CommandError),
    /// It may have; never tried again.
    Unknown(CommandError),
    /// Not yet: back to `queued` for another attempt, with what was seen.
    Retry(CommandError),
}

/// Which commands a listing holds: newest first, optionally after a cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandFilter {
    /// Only this status.
    pub status: Option<CommandStatus>,
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this connection.
    pub connection: Option<String>,
    /// Only commands older than this (created_at_ms, id) position.
    pub before: Option<(i64, String)>,
    /// At most this many.
    pub limit: usize,
}

impl CommandRecord {
    /// The command as the API shows it (and `command.*` notifications carry it).
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "provider": self.provider,
            "connection": self.connection,
            "action": self.action,
            "idempotency_key": self.idempotency_key,
            "status": self.status,
            "attempts": self.attempts,
            "input": self.input,
            "result": self.result,
            "error": self.error,
            "steps": self.steps.iter().map(CommandStep::view).collect::<Vec<_>>(),
            "created_at": crate::domain::rfc3339_ms(self.created_at_ms),
            "updated_at": crate::domain::rfc3339_ms(self.updated_at_ms),
        })
    }

    /// The queue task that runs it, in its resource's ordering group.
    pub fn task(&self) -> crate::domain::Task {
        crate::domain::Task::Command { id: self.id.clone(), group: self.resource.clone() }
    }
}

/// The store of commands.
#[async_trait]
pub trait CommandStore: Send + Sync {
    /// Records a command unless its (provider, connection, idempotency key)
    /// exists, as one conditional write.
    async fn submit(&self, command: &NewCommand) -> Result<SubmitOutcome, StoreError>;

    /// One command.
    async fn get(&self, id: &str) -> Result<Option<CommandRecord>, StoreError>;

    /// Commands matching a filter, newest first.
    async fn list(&self, filter: &CommandFilter) -> Result<Vec<CommandRecord>, StoreError>;

    /// Takes a command to execute until `until_ms`: a queued one, or a
    /// running one whose lease ran out (see [`BeginOutcome::Interrupted`]).
    async fn begin(&self, id: &str, now_ms: i64, until_ms: i64) -> Result<BeginOutcome, StoreError>;

    /// Ends an execution. Has effect only while the command is `running`.
    async fn finish(&self, id: &str, outcome: &CommandOutcome, now_ms: i64) -> Result<(), StoreError>;

    /// Commands still `queued`, never begun, whose last enqueue is older than
    /// `before_ms`: a process died between recording one and queueing it.
    async fn stranded(&self, before_ms: i64, limit: usize) -> Result<Vec<CommandRecord>, StoreError>;

    /// Notes that a `queued` command was put on the queue (again) at `now_ms`.
    async fn mark_enqueued(&self, id: &str, now_ms: i64) -> Result<(), StoreError>;

    /// Journals one step of a `running` command (appended to its `steps`);
    /// a command no longer running is left as it is.
    async fn record_step(&self, id: &str, step: &CommandStep) -> Result<(), StoreError>;

    /// Makes a `failed` command runnable again (`queued`), for an operator's
    /// redrive of its dead letter; false when it was not `failed`.
    async fn requeue_failed(&self, id: &str, now_ms: i64) -> Result<bool, StoreError>;
}
