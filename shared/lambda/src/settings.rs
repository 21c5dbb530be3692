//! The functions' configuration, read from the environment variables that
//! template.yaml sets.
//!
//! | variable | used by | meaning |
//! |---|---|---|
//! | `PORTAGE_TABLE` | all | the DynamoDB table |
//! | `PORTAGE_QUEUE_URL` | all | the events queue |
//! | `PORTAGE_DLQ_URL` | all | its dead-letter queue |
//! | `PORTAGE_COMMAND_QUEUE_URL` | api, sync-worker | the FIFO commands queue (commands go on the events queue when unset) |
//! | `PORTAGE_COMMAND_DLQ_URL` | api, sync-worker | its dead-letter queue (required with the queue) |
//! | `PORTAGE_MAX_RECEIVES` | sync-worker | the queues' `maxReceiveCount`: a command's last receive is its last execution (5) |
//! | `PORTAGE_NOTIFICATION_SCHEDULE` | sync-worker | seconds before each delivery attempt, comma-separated (`0,5,300,1800,7200,18000,36000,36000`) |
//! | `PORTAGE_SECRETS_PREFIX` | webhooks | prefix of the Secrets Manager names (`portage/`) |
//! | `PORTAGE_SECRETS_TTL_SECONDS` | webhooks | secrets cache lifetime (300) |
//! | `PORTAGE_MAX_BODY_BYTES` | webhooks | body size limit (1048576) |
//! | `PORTAGE_TOLERANCE_SECONDS` | webhooks | signature tolerance (the provider's default) |
//! | `PORTAGE_RECLAIM_AFTER_SECONDS` | webhooks, reconcile | age after which an unqueued event is enqueued again (30) |
//! | `PORTAGE_PUBLIC_BASE_URL` | webhooks | the URL prefix providers call when it is not API Gateway's (a custom domain), up to where `/webhooks/…` begins: Twilio and HubSpot sign the full URL |
//! | `PORTAGE_PROVIDER_ORIGINS` | webhook-paypal, webhook-ebay | `HOST=URL,…`: a provider host reached elsewhere (eBay's sandbox, a test fake); read by `portage_client::HttpSigningKeys::from_env` |
//! | `PORTAGE_EXTRA_ROOTS_FILE` | webhook-paypal | PEM CA certificates trusted beside Mozilla's roots for fetched certificates (a test PKI) |
//! | `PORTAGE_CONNECTION` | notifications | the connection queued notifications are recorded under (`default`) |
//! | `PORTAGE_LEGACY_SIGNATURES` | webhooks | `true` also accepts the provider's legacy schemes without a timestamp (HubSpot v1/v2) |
//! | `PORTAGE_CONNECTIONS` | reconcile | `provider/connection` pairs to reconcile, comma-separated (each provider's `default`) |
//! | `PORTAGE_RECONCILE_OVERLAP_SECONDS` | reconcile | how far before the last run an incremental listing starts (600) |
//!
//! The AWS SDK's own variables apply too (`AWS_REGION`, `AWS_ENDPOINT_URL` for an emulator).

use std::time::Duration;

use thiserror::Error;

/// A variable is missing or unreadable.
#[derive(Debug, Error)]
pub enum SettingsError {
    /// A required variable is not set.
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// A variable does not hold a number.
    #[error("environment variable {0} must be a whole number")]
    NotANumber(&'static str),
    /// A variable does not have the documented form.
    #[error("environment variable {0} is malformed (see the settings table in the README)")]
    Malformed(&'static str),
    /// `PORTAGE_BILLING` holds a document that is not a usable `[billing]`.
    #[error("PORTAGE_BILLING: {0}")]
    Billing(String),
}

/// Everything the functions read from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// DynamoDB table name.
    pub table: String,
    /// Events queue URL.
    pub queue_url: String,
    /// Dead-letter queue URL.
    pub dlq_url: String,
    /// The FIFO commands queue and its dead-letter queue, when deployed apart.
    pub command_queues: Option<(String, String)>,
    /// The queues' receive limit.
    pub max_receives: u32,
    /// Delays before each notification delivery attempt.
    pub notification_schedule: Vec<Duration>,
    /// Secrets Manager name prefix.
    pub secrets_prefix: String,
    /// Secrets cache lifetime.
    pub secrets_ttl: Duration,
    /// Body size limit.
    pub max_body_bytes: usize,
    /// Signature tolerance override.
    pub tolerance: Option<Duration>,
    /// Reclaim window for unqueued events.
    pub reclaim_after: Duration,
    /// Accept the provider's legacy, timestamp-less signature schemes too.
    pub legacy_signatures: bool,
    /// The URL prefix providers call, when it is not API Gateway's own.
    pub public_base_url: Option<String>,
    /// Allowed return URLs of connect sessions (`PORTAGE_CONNECT_RETURN_URLS`, comma-separated).
    pub return_urls: Vec<String>,
    /// Plans and add-ons (`PORTAGE_BILLING`, the `[billing]` document as JSON), checked.
    pub billing: Option<portage_core::billing::BillingConfig>,
    /// The connection a notifications function records under.
    pub connection: String,
    /// `(provider, connection)` pairs to reconcile; `None` for every
    /// provider's default connection.
    pub connections: Option<Vec<(String, String)>>,
    /// Overlap of incremental reconcile listings.
    pub reconcile_overlap: Duration,
}

fn required(name: &'static str) -> Result<String, SettingsError> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or(SettingsError::Missing(name))
}

fn number(name: &'static str, default: u64) -> Result<u64, SettingsError> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v.parse().map_err(|_| SettingsError::NotANumber(name)),
        _ => Ok(default),
    }
}

impl Settings {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        let tolerance = match std::env::var("PORTAGE_TOLERANCE_SECONDS") {
            Ok(v) if !v.is_empty() => Some(Duration::from_secs(
                v.parse().map_err(|_| SettingsError::NotANumber("PORTAGE_TOLERANCE_SECONDS"))?,
            )),
            _ => None,
        };
        Ok(Self {
            table: required("PORTAGE_TABLE")?,
            queue_url: required("PORTAGE_QUEUE_URL")?,
            dlq_url: required("PORTAGE_DLQ_URL")?,
            command_queues: match std::env::var("PORTAGE_COMMAND_QUEUE_URL") {
                Ok(url) if !url.is_empty() => Some((url, required("PORTAGE_COMMAND_DLQ_URL")?)),
                _ => None,
            },
            max_receives: u32::try_from(number("PORTAGE_MAX_RECEIVES", 5)?.max(1))
                .map_err(|_| SettingsError::NotANumber("PORTAGE_MAX_RECEIVES"))?,
            notification_schedule: schedule(&std::env::var("PORTAGE_NOTIFICATION_SCHEDULE").unwrap_or_default())?,
            secrets_prefix: std::env::var("PORTAGE_SECRETS_PREFIX").unwrap_or_else(|_| "portage/".to_owned()),
            secrets_ttl: Duration::from_secs(number("PORTAGE_SECRETS_TTL_SECONDS", 300)?),
            max_body_bytes: usize::try_from(number("PORTAGE_MAX_BODY_BYTES", 1024 * 1024)?).unwrap_or(usize::MAX),
            tolerance,
            reclaim_after: Duration::from_secs(number("PORTAGE_RECLAIM_AFTER_SECONDS", 30)?),
            connections: connections()?,
            legacy_signatures: std::env::var("PORTAGE_LEGACY_SIGNATURES").is_ok_and(|v| v == "true"),
            public_base_url: std::env::var("PORTAGE_PUBLIC_BASE_URL").ok().filter(|v| !v.is_empty()),
            billing: billing()?,
            return_urls: portage_providers::connect::return_urls_from_env(),
            connection: std::env::var("PORTAGE_CONNECTION")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| portage_core::DEFAULT_CONNECTION.to_owned()),
            reconcile_overlap: Duration::from_secs(number("PORTAGE_RECONCILE_OVERLAP_SECONDS", 600)?),
        })
    }
}

/// Parses `0,5,300`: seconds before each delivery attempt; empty for the default.
fn schedule(text: &str) -> Result<Vec<Duration>, SettingsError> {
    if text.trim().is_empty() {
        return Ok(portage_providers::notify::DEFAULT_SCHEDULE_SECS.map(Duration::from_secs).to_vec());
    }
    text.split(',')
        .map(|secs| secs.trim().parse().map(Duration::from_secs))
        .collect::<Result<_, _>>()
        .map_err(|_| SettingsError::Malformed("PORTAGE_NOTIFICATION_SCHEDULE"))
}

/// Reads `PORTAGE_CONNECTIONS` (see [`parse_connections`]).
fn connections() -> Result<Option<Vec<(String, String)>>, SettingsError> {
    parse_connections(&std::env::var("PORTAGE_CONNECTIONS").unwrap_or_default())
}

/// Parses `stripe/default,stripe/acme`: a bare provider name means its
/// `default` connection; an empty text means every provider's `default`.
fn parse_connections(text: &str) -> Result<Option<Vec<(String, String)>>, SettingsError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut pairs = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (provider, connection) = item.split_once('/').unwrap_or((item, portage_core::DEFAULT_CONNECTION));
        if provider.is_empty() || connection.is_empty() || connection.contains('/') {
            return Err(SettingsError::Malformed("PORTAGE_CONNECTIONS"));
        }
        pairs.push((provider.to_owned(), connection.to_owned()));
    }
    Ok(Some(pairs))
}

/// `PORTAGE_BILLING`: the `[billing]` document as JSON, checked; unset or empty for none.
fn billing() -> Result<Option<portage_core::billing::BillingConfig>, SettingsError> {
    let Some(text) = std::env::var("PORTAGE_BILLING").ok().filter(|t| !t.trim().is_empty()) else { return Ok(None) };
    let config: portage_core::billing::BillingConfig =
        serde_json::from_str(&text).map_err(|e| SettingsError::Billing(e.to_string()))?;
    config.validate().map_err(|e| SettingsError::Billing(e.to_string()))?;
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::{parse_connections, schedule};

    #[test]
    fn schedules_are_seconds_or_the_default() {
        assert_eq!(schedule("").unwrap().len(), 8);
        assert_eq!(schedule("0, 5").unwrap(), [std::time::Duration::ZERO, std::time::Duration::from_secs(5)]);
        assert!(schedule("0,soon").is_err());
    }

    #[test]
    fn connections_are_provider_slash_connection_pairs() {
        assert_eq!(parse_connections(" ").unwrap(), None);
        let pairs = parse_connections("stripe, stripe/acme ,shopify/eu").unwrap().unwrap();
        let expected = [("stripe", "default"), ("stripe", "acme"), ("shopify", "eu")];
        assert_eq!(pairs, expected.map(|(p, c)| (p.to_owned(), c.to_owned())));
        for bad in ["/acme", "stripe/", "stripe/a/b"] {
            assert!(parse_connections(bad).is_err(), "{bad}");
        }
    }
}
