//! The secrets port on Secrets Manager.
//!
//! One secret per connection, named `{prefix}{provider}/{connection}` (prefix
//! `portage/` by default), holding a JSON object of keys and values, e.g.
//! `{"webhook_secret": "whsec_…", "webhook_secret_previous": "whsec_…"}`.
//! Reads are cached in memory for a TTL (5 minutes by default); after a
//! signature mismatch a copy older than a minute is fetched again once, so a
//! rotation is picked up without waiting for the TTL.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use portage_core::ports::Secrets;
use portage_core::{Secret, StoreError};

use crate::backend;

/// How old a cached copy must be before a signature mismatch refetches it.
const REFETCH_AFTER: Duration = Duration::from_secs(60);

type Values = BTreeMap<String, String>;

/// Secrets Manager, with an in-memory cache.
pub struct SecretsManagerSecrets {
    client: Client,
    prefix: String,
    ttl: Duration,
    cache: Mutex<HashMap<(String, String), (Instant, Values)>>,
}

impl SecretsManagerSecrets {
    /// The adapter, with a client built once at start-up.
    pub fn new(client: Client, prefix: impl Into<String>, ttl: Duration) -> Self {
        Self { client, prefix: prefix.into(), ttl, cache: Mutex::new(HashMap::new()) }
    }

    /// The secret's name for a connection.
    pub fn secret_name(&self, provider: &str, connection: &str) -> String {
        format!("{}{provider}/{connection}", self.prefix)
    }

    async fn fetch(&self, provider: &str, connection: &str) -> Result<Values, StoreError> {
        let got = self.client.get_secret_value().secret_id(self.secret_name(provider, connection)).send().await;
        let values = match got {
            Ok(out) => match out.secret_string {
                Some(text) => serde_json::from_str(&text).map_err(|_| {
                    // The secret's text is not repeated: it is a credential.
                    StoreError::Corrupt(format!(
                        "secret {} is not a JSON object of strings",
                        self.secret_name(provider, connection)
                    ))
                })?,
                None => Values::new(),
            },
            Err(SdkError::ServiceError(e)) if matches!(e.err(), GetSecretValueError::ResourceNotFoundException(_)) => {
                Values::new()
            }
            Err(e) => return Err(backend(e)),
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert((provider.to_owned(), connection.to_owned()), (Instant::now(), values.clone()));
        }
        Ok(values)
    }

    fn cached(&self, provider: &str, connection: &str) -> Option<(Instant, Values)> {
        let cache = self.cache.lock().ok()?;
        cache.get(&(provider.to_owned(), connection.to_owned())).cloned()
    }

    async fn values(&self, provider: &str, connection: &str) -> Result<Values, StoreError> {
        match self.cached(provider, connection) {
            Some((at, values)) if at.elapsed() < self.ttl => Ok(values),
            _ => self.fetch(provider, connection).await,
        }
    }
}

fn signing(values: &Values) -> Vec<Secret> {
    values
        .iter()
        .filter(|(k, _)| portage_core::secret::is_signing_key(k))
        .map(|(_, v)| Secret::new(v.clone()))
        .collect()
}

#[async_trait]
impl Secrets for SecretsManagerSecrets {
    async fn signing_secrets(&self, provider: &str, connection: &str) -> Result<Vec<Secret>, StoreError> {
        Ok(signing(&self.values(provider, connection).await?))
    }

    async fn refreshed_signing_secrets(
        &self,
        provider: &str,
        connection: &str,
    ) -> Result<Option<Vec<Secret>>, StoreError> {
        match self.cached(provider, connection) {
            Some((at, _)) if at.elapsed() < REFETCH_AFTER => Ok(None),
            _ => Ok(Some(signing(&self.fetch(provider, connection).await?))),
        }
    }

    async fn put(&self, provider: &str, connection: &str, values: &[(String, Secret)]) -> Result<(), StoreError> {
        let name = self.secret_name(provider, connection);
        let mut merged = self.fetch(provider, connection).await?;
        let existed = !merged.is_empty();
        for (key, value) in values {
            merged.insert(key.clone(), value.expose().to_owned());
        }
        let text = serde_json::to_string(&merged).map_err(|e| StoreError::Invalid(e.to_string()))?;
        if existed {
            self.client.put_secret_value().secret_id(&name).secret_string(text).send().await.map_err(backend)?;
        } else {
            let created = self.client.create_secret().name(&name).secret_string(&text).send().await;
            if let Err(e) = created {
                // Created meanwhile, or it exists with an empty value: write a new version.
                if !e.as_service_error().is_some_and(|s| s.is_resource_exists_exception()) {
                    return Err(backend(e));
                }
                self.client.put_secret_value().secret_id(&name).secret_string(text).send().await.map_err(backend)?;
            }
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert((provider.to_owned(), connection.to_owned()), (Instant::now(), merged));
        }
        Ok(())
    }
}
