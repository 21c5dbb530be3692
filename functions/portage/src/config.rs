//! Local configuration: the TOML file, the environment, and the development
//! secrets `portage serve` generates when none is configured.
//!
//! ```toml
//! [server]
//! max_body_bytes = 1048576          # larger bodies get 413
//! reclaim_after_seconds = 30        # a delivery still unqueued this long is enqueued again
//!
//! [worker]
//! concurrency = 1                   # receive loops
//! batch_size = 50                   # messages per receive, handled concurrently
//! visibility_timeout_seconds = 30   # also the processing lease
//! max_receives = 5                  # then the message is dead-lettered
//! stranded_check_seconds = 30       # how often the scheduler re-enqueues stranded events
//!
//! [client]
//! call_timeout_ms = 30000           # a provider call unanswered this long is interrupted
//!
//! [providers.stripe]
//! tolerance_seconds = 300
//! legacy_signatures = false         # HubSpot: also accept v1/v2 (no timestamp)
//!
//! [connections.stripe.default]
//! webhook_secret = "whsec_…"
//!
//! [connections.stripe.acme]         # POST /webhooks/stripe/acme
//! webhook_secret = "whsec_new…"
//! webhook_secret_previous = "whsec_old…"   # any webhook_secret_* is also accepted
//! ```
//!
//! `PORTAGE_<PROVIDER>_WEBHOOK_SECRET` (e.g. `PORTAGE_STRIPE_WEBHOOK_SECRET`)
//! sets the default connection's secret and wins over the file.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use portage_client::Origins;
use portage_core::Secret;
use portage_core::command_runner::RunnerConfig;
use portage_core::ingest::IngestConfig;
use portage_core::provider::{Registry, Transport};
use portage_core::sync::SyncConfig;
use portage_embedded::MapSecrets;
use portage_providers::notify::DEFAULT_SCHEDULE_SECS;
use serde::{Deserialize, Serialize};

use crate::cli::Global;

/// The file `portage serve` writes generated development secrets to.
pub(crate) const DEV_SECRETS_FILE: &str = "dev-secrets.toml";
/// The file `portage secrets set` writes to.
pub(crate) const SECRETS_FILE: &str = "secrets.toml";
const DEFAULT_CONFIG_FILE: &str = "portage.toml";

type ConnectionSecrets = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    worker: WorkerSection,
    #[serde(default)]
    providers: BTreeMap<String, ProviderSection>,
    #[serde(default)]
    connections: ConnectionSecrets,
    /// Provider hosts reached elsewhere: `"api.stripe.com" = "http://127.0.0.1:12111"`.
    #[serde(default)]
    origins: BTreeMap<String, String>,
    #[serde(default)]
    notifications: NotificationsSection,
    #[serde(default)]
    client: ClientSection,
    #[serde(default)]
    connect: ConnectSection,
    /// Plans and add-ons (see `portage_core::billing`).
    billing: Option<portage_core::billing::BillingConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectSection {
    /// Prefixes a connect session's `return_url` must start with.
    #[serde(default)]
    return_urls: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientSection {
    /// How long a provider call may go unanswered (30000).
    call_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationsSection {
    /// The delay before each delivery attempt, in seconds.
    retry_schedule_seconds: Option<Vec<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    max_body_bytes: Option<usize>,
    reclaim_after_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkerSection {
    concurrency: Option<usize>,
    batch_size: Option<usize>,
    visibility_timeout_seconds: Option<u64>,
    max_receives: Option<u32>,
    stranded_check_seconds: Option<u64>,
    /// First retry delay of a failed event or command, doubled per attempt.
    retry_base_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderSection {
    tolerance_seconds: Option<u64>,
    legacy_signatures: Option<bool>,
}

/// The shape of the development and `secrets set` files: `[connections]` tables.
#[derive(Debug, Default, Serialize, Deserialize)]
struct DevSecrets {
    #[serde(default)]
    connections: ConnectionSecrets,
}

/// Worker loop settings.
#[derive(Debug, Clone)]
pub(crate) struct WorkerSettings {
    /// Receive loops.
    pub concurrency: usize,
    /// Messages per receive.
    pub batch_size: usize,
    /// Message visibility timeout (and processing lease).
    pub visibility: Duration,
    /// Receives before a message is dead-lettered.
    pub max_receives: u32,
    /// Interval of the stranded-event check.
    pub stranded_check: Duration,
    /// How commands are executed.
    pub commands: RunnerConfig,
}

/// Everything the local program needs, resolved.
pub(crate) struct Settings {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Ingest settings.
    pub ingest: IngestConfig,
    /// Sync settings.
    pub sync: SyncConfig,
    /// Worker loop settings.
    pub worker: WorkerSettings,
    /// Secrets from the file, the environment and the development file.
    pub secrets: MapSecrets,
    /// Provider hosts reached elsewhere (a sandbox, a fake): `[origins]`,
    /// then `PORTAGE_PROVIDER_ORIGINS`, which wins.
    pub origins: Origins,
    /// The delay before each notification delivery attempt.
    pub notification_schedule: Vec<Duration>,
    /// How long a provider call may go unanswered before it counts as
    /// interrupted: `[client] call_timeout_ms`.
    pub call_timeout: Duration,
    /// Allowed return URLs of connect sessions: `[connect] return_urls`,
    /// and `PORTAGE_CONNECT_RETURN_URLS` (comma-separated) beside them.
    pub return_urls: Vec<String>,
    /// `[billing]`, checked.
    pub billing: Option<portage_core::billing::BillingConfig>,
}

fn read_toml<T: serde::de::DeserializeOwned + Default>(path: &Path, must_exist: bool) -> anyhow::Result<T> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("invalid configuration in {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => Ok(T::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn insert_all(secrets: &mut MapSecrets, connections: &ConnectionSecrets) {
    for (provider, conns) in connections {
        for (connection, keys) in conns {
            for (key, value) in keys {
                secrets.insert(provider, connection, key, Secret::new(value.clone()));
            }
        }
    }
}

/// The environment variable holding a provider's default-connection secret.
pub(crate) fn secret_env_var(provider: &str) -> String {
    format!("PORTAGE_{}_WEBHOOK_SECRET", provider.to_ascii_uppercase().replace('-', "_"))
}

/// Loads the configuration: file, then development secrets where nothing
/// else configures one, then the environment.
pub(crate) fn load(global: &Global, registry: &Registry) -> anyhow::Result<Settings> {
    let (path, must_exist) = match &global.config {
        Some(path) => (path.clone(), true),
        None => (global.data.join(DEFAULT_CONFIG_FILE), false),
    };
    let file: FileConfig = read_toml(&path, must_exist)?;
    let dev: DevSecrets = read_toml(&global.data.join(DEV_SECRETS_FILE), false)?;
    let set: DevSecrets = read_toml(&global.data.join(SECRETS_FILE), false)?;

    let mut secrets = MapSecrets::new().saving_to(portage_embedded::SecretsFile::new(global.data.join(SECRETS_FILE)));
    insert_all(&mut secrets, &dev.connections);
    insert_all(&mut secrets, &set.connections);
    insert_all(&mut secrets, &file.connections);
    for provider in registry.names() {
        if let Ok(value) = std::env::var(secret_env_var(provider))
            && !value.is_empty()
        {
            let secret = Secret::new(value);
            secrets.insert(provider, portage_core::DEFAULT_CONNECTION, "webhook_secret", secret);
        }
    }

    let tolerance: HashMap<String, Duration> = file
        .providers
        .iter()
        .filter_map(|(name, p)| p.tolerance_seconds.map(|s| (name.clone(), Duration::from_secs(s))))
        .collect();
    let legacy_schemes = file
        .providers
        .iter()
        .filter(|(_, p)| p.legacy_signatures == Some(true))
        .map(|(name, _)| name.clone())
        .collect();
    let visibility = Duration::from_secs(file.worker.visibility_timeout_seconds.unwrap_or(30).max(1));
    let max_receives = file.worker.max_receives.unwrap_or(5).max(1);
    let retry_base = file.worker.retry_base_ms.map_or(SyncConfig::default().retry_base, Duration::from_millis);
    let ingest = IngestConfig {
        max_body_bytes: file.server.max_body_bytes.unwrap_or(1024 * 1024),
        tolerance,
        legacy_schemes,
        reclaim_after: Duration::from_secs(file.server.reclaim_after_seconds.unwrap_or(30).max(1)),
    };
    let from_file = file.origins.iter().map(|(host, url)| format!("{host}={url}")).collect::<Vec<_>>().join(",");
    let from_env = std::env::var("PORTAGE_PROVIDER_ORIGINS").unwrap_or_default();
    let origins =
        Origins::parse(&format!("{from_file},{from_env}")).context("invalid [origins] or PORTAGE_PROVIDER_ORIGINS")?;
    let schedule = file.notifications.retry_schedule_seconds.unwrap_or_else(|| DEFAULT_SCHEDULE_SECS.to_vec());
    let billing = file.billing.clone();
    if let Some(billing) = &billing {
        billing.validate().with_context(|| format!("invalid [billing] in {}", path.display()))?;
    }
    let return_urls = file
        .connect
        .return_urls
        .iter()
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .chain(portage_providers::connect::return_urls_from_env())
        .collect();
    Ok(Settings {
        notification_schedule: schedule.into_iter().map(Duration::from_secs).collect(),
        call_timeout: Duration::from_millis(file.client.call_timeout_ms.unwrap_or(30_000).max(1)),
        origins,
        data_dir: global.data.clone(),
        sync: SyncConfig { lease: visibility, retry_base, ..SyncConfig::default() },
        worker: WorkerSettings {
            concurrency: file.worker.concurrency.unwrap_or(1).max(1),
            batch_size: file.worker.batch_size.unwrap_or(50).clamp(1, 100),
            visibility,
            max_receives,
            stranded_check: Duration::from_secs(file.worker.stranded_check_seconds.unwrap_or(30).max(1)),
            // A command's last execution is its message's last receive, so it
            // ends `failed` (and dead-lettered) rather than stranded `queued`.
            commands: RunnerConfig {
                lease: visibility,
                max_attempts: max_receives,
                retry_base,
                ..RunnerConfig::default()
            },
        },
        ingest,
        secrets,
        return_urls,
        billing,
    })
}

/// For every provider whose default connection has no signing secret,
/// generates one, saves it to the development secrets file and returns it.
pub(crate) fn ensure_dev_secrets(
    settings: &mut Settings,
    registry: &Registry,
) -> anyhow::Result<Vec<(String, Secret)>> {
    let path = settings.data_dir.join(DEV_SECRETS_FILE);
    let mut dev: DevSecrets = read_toml(&path, false)?;
    let mut generated = Vec::new();
    // Queue-borne notifications (Amazon) carry no signature: no secret to make.
    for provider in registry.iter().filter(|p| p.transport() == Transport::Http) {
        let name = provider.name();
        if !settings.secrets.signing(name, portage_core::DEFAULT_CONNECTION).is_empty() {
            continue;
        }
        let secret = provider.generate_secret();
        dev.connections
            .entry(name.to_owned())
            .or_default()
            .entry(portage_core::DEFAULT_CONNECTION.to_owned())
            .or_default()
            .insert("webhook_secret".to_owned(), secret.expose().to_owned());
        settings.secrets.insert(name, portage_core::DEFAULT_CONNECTION, "webhook_secret", secret.clone());
        generated.push((name.to_owned(), secret));
    }
    if !generated.is_empty() {
        std::fs::create_dir_all(&settings.data_dir)?;
        let text = toml::to_string(&dev).context("cannot encode development secrets")?;
        write_private(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(generated)
}

/// Merges secrets into `DATA/secrets.toml` (what `portage secrets set`
/// writes); returns the file's path.
pub(crate) fn save_local_secrets(
    data_dir: &Path,
    provider: &str,
    connection: &str,
    values: &[(String, Secret)],
) -> anyhow::Result<PathBuf> {
    let file = portage_embedded::SecretsFile::new(data_dir.join(SECRETS_FILE));
    file.merge(provider, connection, values)?;
    Ok(file.path().to_owned())
}

/// Writes a file readable by its owner only.
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    portage_embedded::write_private(path, text)
}
