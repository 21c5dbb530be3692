//! Actions: the effects a provider module offers, as data (what the app may
//! ask for, with which input, how it is kept from happening twice), and the
//! executors that carry them out through the connection's client.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::commands::CommandRecord;
use crate::domain::StateChange;

/// How an action is kept from taking effect twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectStrategy {
    /// The provider dedupes on a key derived from the command id (Stripe's
    /// `Idempotency-Key`), within its retention window: safe to repeat.
    ProviderKey,
    /// An upsert on a natural key (a contact by email): safe to repeat.
    NaturalKey,
    /// A marker (metadata, an external id) is looked up before creating again.
    CheckThenCreate,
    /// Neither (an SMS, an email): after an ambiguous failure it is never
    /// repeated; the command ends `unknown`.
    Unsafe,
}

impl EffectStrategy {
    /// Whether running the action again, when an earlier attempt may have
    /// taken effect, is safe.
    pub fn repeatable(self) -> bool {
        !matches!(self, Self::Unsafe)
    }
}

/// One action a provider offers.
#[derive(Debug, Clone, Copy)]
pub struct Action {
    /// The provider.
    pub provider: &'static str,
    /// Its name, e.g. `customer.create`.
    pub name: &'static str,
    /// What it does, for the catalogue.
    pub description: &'static str,
    /// Its input's JSON Schema, as JSON text.
    pub input_schema: &'static str,
    /// How it is kept from happening twice.
    pub effect: EffectStrategy,
    /// The connection secrets it needs (all of them).
    pub credentials: &'static [&'static str],
    /// The input field naming the resource it acts on, if any: commands on
    /// one resource run in submission order.
    pub resource_field: Option<&'static str>,
}

impl Action {
    /// The resource a command on `connection` with `input` acts on:
    /// `{provider}:{connection}:{field}:{value}` (one tenant's resources never
    /// share a group with another's).
    pub fn resource(&self, connection: &str, input: &serde_json::Value) -> Option<String> {
        let field = self.resource_field?;
        let value = input.get(field)?.as_str()?;
        Some(format!("{}:{connection}:{field}:{value}", self.provider))
    }
}

/// What a successful execution made.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The command's result, as the app reads it.
    pub result: serde_json::Value,
    /// State records the effect produced.
    pub changes: Vec<StateChange>,
}

/// Why an execution did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The provider refused it; trying again will not help.
    #[error("refused ({code}): {message}")]
    Refused {
        /// The provider's code, or the HTTP status.
        code: String,
        /// The provider's message.
        message: String,
        /// The provider's request id.
        request_id: Option<String>,
    },
    /// It did not take effect and may pass later: not sent, throttled,
    /// or an answer that says it was not processed.
    #[error("not done yet ({code}): {message}")]
    Transient {
        /// The provider's code, or what went wrong.
        code: String,
        /// What happened.
        message: String,
        /// The provider's request id.
        request_id: Option<String>,
        /// When the provider (or the client's breaker) says to come back.
        retry_after: Option<std::time::Duration>,
    },
    /// The request went out and no clear answer came back: it may have taken effect.
    #[error("outcome unknown ({code}): {message}")]
    Ambiguous {
        /// What went wrong.
        code: String,
        /// What happened.
        message: String,
    },
}

/// Carries out one provider's actions through its connections' clients.
#[async_trait]
pub trait ActionExecutor: Send + Sync {
    /// Executes `command` (one of the provider's actions, input validated).
    async fn execute(&self, command: &CommandRecord) -> Result<Execution, ActionError>;
}

/// Every provider's action executor, by provider name.
#[derive(Clone, Default)]
pub struct ActionExecutors {
    executors: BTreeMap<&'static str, Arc<dyn ActionExecutor>>,
}

impl ActionExecutors {
    /// None.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `provider`'s executor.
    pub fn with(mut self, provider: &'static str, executor: Arc<dyn ActionExecutor>) -> Self {
        self.executors.insert(provider, executor);
        self
    }

    /// `provider`'s executor.
    pub fn get(&self, provider: &str) -> Option<&Arc<dyn ActionExecutor>> {
        self.executors.get(provider)
    }
}

/// The catalogue of actions every provider offers.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    actions: Vec<Action>,
}

impl Catalog {
    /// A catalogue of these actions.
    pub fn new(actions: Vec<Action>) -> Self {
        Self { actions }
    }

    /// One action.
    pub fn get(&self, provider: &str, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.provider == provider && a.name == name)
    }

    /// Every action, or one provider's.
    pub fn list(&self, provider: Option<&str>) -> impl Iterator<Item = &Action> {
        self.actions.iter().filter(move |a| provider.is_none_or(|p| a.provider == p))
    }
}
