//! What each provider can do, as data: the registry answers "who listens,
//! syncs, lists, commands, connects" without calling anything, `portage
//! providers` prints it, and a test walks it to check each provider's shape.
//!
//! Each provider's `mod.rs` declares its [`Capabilities`] once; the live
//! pieces (the reconcile listing's constructor, the API policy) hang off the
//! descriptor, so flows find them here rather than in a `match` on names.

use std::sync::Arc;

use portage_client::{ApiClient, ClientPool, CredentialSource, Policy};
use portage_core::actions::{Action, ActionExecutor};
use portage_core::ports::{Clock, Secrets};
use portage_core::provider::SyncHandler;
use portage_core::reconcile::ChangeSource;
use serde::Serialize;

/// How a provider's accounts are linked to a connection: any of an OAuth
/// flow (`oauth.rs`), API keys checked by a call, WooCommerce's key delivery.
#[derive(Clone, Copy)]
pub struct ConnectPiece {
    /// Its OAuth 2.0 authorization-code flow.
    pub oauth: Option<&'static crate::connect::OAuthFlow>,
    /// Its API keys, and the call that checks them.
    pub api_key: Option<&'static crate::connect::KeyCheck>,
    /// WooCommerce's `/wc-auth/v1/authorize` key delivery.
    pub wc_keys: bool,
}

impl ConnectPiece {
    /// The ways, as `portage providers` names them.
    pub fn methods(&self) -> Vec<&'static str> {
        let mut methods = Vec::new();
        if self.oauth.is_some() {
            methods.push("oauth2");
        }
        if self.wc_keys {
            methods.push("wc_keys");
        }
        if self.api_key.is_some() {
            methods.push("api_key");
        }
        methods
    }
}

/// Builds a provider's sync handler over the process's API clients.
pub type MakeSyncHandler = fn(Arc<ClientPool>, Arc<dyn Clock>) -> Arc<dyn SyncHandler>;

/// Builds one connection's reconcile listing over its long-lived client.
pub type MakeListing = fn(Arc<ApiClient>, &str, Arc<dyn Clock>) -> Arc<dyn ChangeSource>;

/// The sync piece: the kinds its events become, and its handler built over
/// the process's API clients.
#[derive(Clone, Copy)]
pub struct SyncPiece {
    /// The record kinds.
    pub kinds: &'static [&'static str],
    /// The handler, given the clients it fetches through.
    pub handler: MakeSyncHandler,
}

/// What action executors are built with: the process's API clients, the
/// time, and the public URL providers call back on (Twilio's status
/// callbacks), when one is configured.
#[derive(Clone)]
pub struct ActionDeps {
    /// The process's API clients.
    pub clients: Arc<ClientPool>,
    /// Connections' secrets (values an action puts in a path, like Twilio's account SID).
    pub secrets: Arc<dyn Secrets>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// `PORTAGE_PUBLIC_BASE_URL`: where `/webhooks/…` is reached from outside.
    pub public_base_url: Option<String>,
    /// The records actions read and write beside their results (billing's
    /// customer records), with the deployment's projections.
    pub state: Arc<dyn portage_core::ports::StateStore>,
    /// Where multi-step commands journal their steps.
    pub journal: Arc<dyn portage_core::commands::CommandStore>,
    /// `[billing]`, when configured.
    pub billing: Option<Arc<portage_core::billing::BillingConfig>>,
}

/// Builds a provider's action executor.
pub type MakeActionExecutor = fn(&ActionDeps) -> Arc<dyn ActionExecutor>;

/// The commands piece: the actions the provider offers, and their executor
/// built over the process's API clients.
#[derive(Clone, Copy)]
pub struct CommandsPiece {
    /// The actions, as the catalogue lists them.
    pub actions: &'static [Action],
    /// The executor.
    pub executor: MakeActionExecutor,
    /// The providers whose API clients the actions go through, when not the
    /// provider's own (billing: Stripe and PayPal); each has its file in
    /// the provider's folder.
    pub through: &'static [&'static str],
}

/// The reconcile piece: the kinds listed, and how a connection's listing is
/// made from its long-lived client.
#[derive(Clone, Copy)]
pub struct Listing {
    /// The record kinds a run lists, in order.
    pub kinds: &'static [&'static str],
    /// Where the connection's credential for the client is read.
    pub credential: CredentialSource,
    /// The API policy the client is built with.
    pub policy: fn() -> Arc<dyn Policy>,
    /// The listing of one connection over its client.
    pub source: MakeListing,
}

/// One provider's capabilities.
#[derive(Clone, Copy)]
pub struct Capabilities {
    /// The name used in routes, records and configuration.
    pub provider: &'static str,
    /// Portage takes its notifications (webhooks; for Amazon SP-API, queue-borne notifications).
    pub webhooks: bool,
    /// Its sync handler, if its events become state.
    pub sync: Option<SyncPiece>,
    /// Its reconcile listing, if it has one.
    pub reconcile: Option<Listing>,
    /// The actions an application may ask of it.
    pub commands: Option<CommandsPiece>,
    /// How its accounts are linked.
    pub connect: Option<ConnectPiece>,
    /// It has an API policy (`api.rs`) for the shared client.
    pub api: bool,
}

/// One row of `portage providers --format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The provider's name.
    pub provider: &'static str,
    /// Whether Portage takes its notifications.
    pub webhooks: bool,
    /// Kinds kept from its events.
    pub sync: Vec<&'static str>,
    /// Kinds reconcile lists.
    pub reconcile: Vec<&'static str>,
    /// Actions.
    pub commands: Vec<&'static str>,
    /// How accounts are linked (`oauth2`, `wc_keys`, `api_key`).
    pub connect: Vec<&'static str>,
}

impl Capabilities {
    /// A provider that only listens: its notifications are verified,
    /// recorded and kept, nothing more yet.
    pub const fn listening(provider: &'static str, api: bool) -> Self {
        Self { provider, webhooks: true, sync: None, reconcile: None, commands: None, connect: None, api }
    }

    /// The matrix row.
    pub fn row(&self) -> Row {
        Row {
            provider: self.provider,
            webhooks: self.webhooks,
            sync: self.sync.map(|s| s.kinds.to_vec()).unwrap_or_default(),
            reconcile: self.reconcile.map(|l| l.kinds.to_vec()).unwrap_or_default(),
            commands: self.commands.map(|c| c.actions.iter().map(|a| a.name).collect()).unwrap_or_default(),
            connect: self.connect.map(|c| c.methods()).unwrap_or_default(),
        }
    }
}
