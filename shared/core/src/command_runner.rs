//! Executing one queued command: take it, run its action through the
//! provider's executor, write the records it produced, and end it as
//! succeeded, failed, unknown or to be retried, by its effect strategy.

use std::sync::Arc;
use std::time::Duration;

use tracing::{Instrument, info, info_span, warn};

use crate::actions::{Action, ActionError, ActionExecutors, Catalog, Execution};
use crate::commands::{BeginOutcome, CommandError, CommandOutcome, CommandRecord, CommandStore};
use crate::notifications::{Notifier, state_changed};
use crate::ports::{Clock, StateStore, UpsertOutcome};
use crate::sync::Settlement;

/// How commands are executed.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// How long a worker holds a command while executing it.
    pub lease: Duration,
    /// Receives of a command's message before a command that keeps failing
    /// transiently ends `failed` (and in the dead-letter queue): the queue's
    /// own limit, so the last receive is the last execution. A redriven
    /// message starts counting again.
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt up to `retry_max`.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            max_attempts: 8,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
        }
    }
}

/// Runs commands from the queue.
pub struct CommandRunner {
    catalog: Catalog,
    executors: ActionExecutors,
    commands: Arc<dyn CommandStore>,
    state: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    config: RunnerConfig,
    notifier: Option<Arc<Notifier>>,
}

/// What handling one command task did, for the queue and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// The command as it now stands, when it exists.
    pub command: Option<CommandRecord>,
    /// What to do with the queue message.
    pub settlement: Settlement,
}

fn command_error(kind: &str, error: &ActionError) -> CommandError {
    let (code, message, request_id) = match error {
        ActionError::Refused { code, message, request_id }
        | ActionError::Transient { code, message, request_id, .. } => {
            (code.clone(), message.clone(), request_id.clone())
        }
        ActionError::Ambiguous { code, message } => (code.clone(), message.clone(), None),
    };
    CommandError { kind: kind.to_owned(), code, message, request_id }
}

fn unknown(action: &Action, detail: &str) -> CommandError {
    CommandError {
        kind: "ambiguous".to_owned(),
        code: "outcome_unknown".to_owned(),
        message: format!(
            "{detail}; {} {} cannot be repeated safely, so it was not retried: check at {} whether it took effect",
            action.provider, action.name, action.provider
        ),
        request_id: None,
    }
}

impl CommandRunner {
    /// A runner over the catalogue's actions and their executors.
    pub fn new(
        catalog: Catalog,
        executors: ActionExecutors,
        commands: Arc<dyn CommandStore>,
        state: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
        config: RunnerConfig,
    ) -> Self {
        Self { catalog, executors, commands, state, clock, config, notifier: None }
    }

    /// Tells the app when a command ends (`command.*`) and of the records it wrote (`state.changed`).
    pub fn with_notifier(mut self, notifier: Arc<Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Handles one command task, received for the `receive`th time.
    pub async fn run(&self, id: &str, receive: u32) -> RunReport {
        let span =
            info_span!("command", command_id = %id, provider = tracing::field::Empty, action = tracing::field::Empty);
        self.run_in_span(id, receive).instrument(span).await
    }

    fn retry_delay(&self, attempts: u32) -> Duration {
        crate::sync::backoff(self.config.retry_base, self.config.retry_max, attempts)
    }

    async fn run_in_span(&self, id: &str, receive: u32) -> RunReport {
        let now = self.clock.now_ms();
        let until = now.saturating_add(i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX));
        let (command, interrupted) = match self.commands.begin(id, now, until).await {
            Ok(BeginOutcome::Begun(command)) => (command, false),
            Ok(BeginOutcome::Interrupted(command)) => (command, true),
            Ok(BeginOutcome::Final(command)) => {
                return RunReport { command: Some(command), settlement: Settlement::Ack };
            }
            Ok(BeginOutcome::Busy(until_ms)) => {
                let wait = u64::try_from(until_ms.saturating_sub(now)).unwrap_or(0);
                let delay = Duration::from_millis(wait).max(Duration::from_secs(1));
                return RunReport { command: None, settlement: Settlement::Retry { delay } };
            }
            Ok(BeginOutcome::NotFound) => {
                return RunReport {
                    command: None,
                    settlement: Settlement::DeadLetter { reason: "unknown_command".to_owned() },
                };
            }
            Err(error) => {
                warn!(%error, "could not take the command");
                return RunReport { command: None, settlement: Settlement::Retry { delay: self.retry_delay(1) } };
            }
        };
        tracing::Span::current()
            .record("provider", command.provider.as_str())
            .record("action", command.action.as_str());
        let Some(action) = self.catalog.get(&command.provider, &command.action).copied() else {
            let error = CommandError {
                kind: "provider".to_owned(),
                code: "unknown_action".to_owned(),
                message: format!("this build has no action {} {}", command.provider, command.action),
                request_id: None,
            };
            return self
                .end(command, CommandOutcome::Failed(error), Settlement::DeadLetter { reason: "unknown_action".into() })
                .await;
        };
        if interrupted && !action.effect.repeatable() {
            let error = unknown(&action, "the worker running it stopped while its request may have been sent");
            return self.end(command, CommandOutcome::Unknown(error), Settlement::Ack).await;
        }
        let Some(executor) = self.executors.get(&command.provider).cloned() else {
            return RunReport {
                command: Some(command),
                settlement: Settlement::DeadLetter { reason: "unhandled_task".into() },
            };
        };
        let executed = executor.execute(&command).await;
        self.settle(command, &action, executed, receive).await
    }

    async fn settle(
        &self,
        command: CommandRecord,
        action: &Action,
        executed: Result<Execution, ActionError>,
        receive: u32,
    ) -> RunReport {
        match executed {
            Ok(execution) => {
                let now = self.clock.now_ms();
                for change in &execution.changes {
                    match self.state.upsert(&command.provider, &command.connection, change, None, now).await {
                        Ok(UpsertOutcome::Applied) => {
                            if let Some(notifier) = &self.notifier {
                                let data = state_changed(&command.provider, &command.connection, change);
                                notifier.publish("state.changed", data).await;
                            }
                        }
                        Ok(UpsertOutcome::Stale) => {}
                        // The effect happened; the record will come by webhook or reconcile.
                        Err(error) => {
                            warn!(%error, kind = %change.kind, id = %change.id, "could not write the command's record");
                        }
                    }
                }
                info!(status = "succeeded", "command finished");
                self.end(command, CommandOutcome::Succeeded(execution.result), Settlement::Ack).await
            }
            Err(error @ ActionError::Refused { .. }) => {
                info!(status = "failed", %error, "command finished");
                self.end(command, CommandOutcome::Failed(command_error("provider", &error)), Settlement::Ack).await
            }
            Err(ActionError::Ambiguous { message, .. }) if !action.effect.repeatable() => {
                warn!(status = "unknown", %message, "command outcome unknown");
                let error = unknown(action, &message);
                self.end(command, CommandOutcome::Unknown(error), Settlement::Ack).await
            }
            Err(error) => {
                let detail = command_error("transient", &error);
                if receive >= self.config.max_attempts {
                    warn!(receive, %error, "command failed: out of attempts");
                    let reason = Settlement::DeadLetter { reason: "attempts_exhausted".to_owned() };
                    return self.end(command, CommandOutcome::Failed(detail), reason).await;
                }
                let asked = match &error {
                    ActionError::Transient { retry_after, .. } => *retry_after,
                    _ => None,
                };
                let delay = self.retry_delay(receive).max(asked.unwrap_or_default());
                info!(receive, delay_ms = delay.as_millis() as u64, %error, "command will be retried");
                self.end(command, CommandOutcome::Retry(detail), Settlement::Retry { delay }).await
            }
        }
    }

    async fn end(&self, command: CommandRecord, outcome: CommandOutcome, settlement: Settlement) -> RunReport {
        let now = self.clock.now_ms();
        if let Err(error) = self.commands.finish(&command.id, &outcome, now).await {
            // Still `running`: its lease runs out and the next delivery decides again.
            warn!(%error, "could not record the command's outcome");
            return RunReport { command: Some(command), settlement: Settlement::Retry { delay: self.retry_delay(1) } };
        }
        let command = self.commands.get(&command.id).await.ok().flatten().unwrap_or(command);
        if let (Some(notifier), true) = (&self.notifier, command.status.is_final()) {
            notifier.publish(&format!("command.{}", command.status), command.view()).await;
        }
        RunReport { command: Some(command), settlement }
    }
}
