//! The secrets port on Secrets Manager.
//!
//! One secret per connection, named `{prefix}{provider}/{connection}` (prefix
//! `portage/` by default), holding a JSON object of keys and values, e.g.
//! `{"webhook_secret": "whsec_…", "webhook_secret_previous": "whsec_…"}`.
//! Reads are cached in memory for a TTL (5 minutes by default); after a
//! signature mismatch a copy older than a minute is fetched again once, so a
//! rotation is picked up without waiting for the TTL.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use portage_core::ports::Secrets;
use portage_core::{Secret, StoreError};

use crate::backend;

/// How old a cached copy must be, by default, before a signature mismatch
/// refetches it.
const REFETCH_AFTER: Duration = Duration::from_secs(60);

type Values = BTreeMap<String, String>;

/// A connection's cached copy; `None` until first fetched. Its async lock is
/// held across a fetch, so concurrent callers wait for one request instead of
/// each making their own.
type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Values)>>>;

/// Secrets Manager, with an in-memory cache.
pub struct SecretsManagerSecrets {
    client: Client,
    prefix: String,
    ttl: Duration,
    refetch_after: Duration,
    slots: Mutex<HashMap<(String, String), Slot>>,
}

impl SecretsManagerSecrets {
    /// The adapter, with a client built once at start-up.
    pub fn new(client: Client, prefix: impl Into<String>, ttl: Duration) -> Self {
        Self { client, prefix: prefix.into(), ttl, refetch_after: REFETCH_AFTER, slots: Mutex::new(HashMap::new()) }
    }

    /// Sets how old a cached copy must be before a signature mismatch fetches
    /// it again (one minute by default): shorter means rotations are seen
    /// sooner, at the price of a Secrets Manager call per forged request.
    pub fn with_refetch_after(mut self, age: Duration) -> Self {
        self.refetch_after = age;
        self
    }

    /// The secret's name for a connection.
    pub fn secret_name(&self, provider: &str, connection: &str) -> String {
        format!("{}{provider}/{connection}", self.prefix)
    }

    fn slot(&self, provider: &str, connection: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry((provider.to_owned(), connection.to_owned())).or_default().clone()
    }

    async fn fetch(&self, provider: &str, connection: &str) -> Result<Values, StoreError> {
        let got = self.client.get_secret_value().secret_id(self.secret_name(provider, connection)).send().await;
        match got {
            Ok(out) => match out.secret_string {
                Some(text) => serde_json::from_str(&text).map_err(|_| {
                    // The secret's text is not repeated: it is a credential.
                    StoreError::Corrupt(format!(
                        "secret {} is not a JSON object of strings",
                        self.secret_name(provider, connection)
                    ))
                }),
                None => Ok(Values::new()),
            },
            Err(SdkError::ServiceError(e)) if matches!(e.err(), GetSecretValueError::ResourceNotFoundException(_)) => {
                Ok(Values::new())
            }
            Err(e) => Err(backend(e)),
        }
    }

    /// The connection's values: the cached copy while younger than `max_age`,
    /// else fetched (once, however many callers ask at the same time).
    /// Returns whether they were fetched.
    async fn values(&self, provider: &str, connection: &str, max_age: Duration) -> Result<(Values, bool), StoreError> {
        let slot = self.slot(provider, connection);
        let mut cached = slot.lock().await;
        if let Some((at, values)) = cached.as_ref()
            && at.elapsed() < max_age
        {
            return Ok((values.clone(), false));
        }
        let values = self.fetch(provider, connection).await?;
        *cached = Some((Instant::now(), values.clone()));
        Ok((values, true))
    }

    /// Fetches a connection's secrets into the cache ahead of the first
    /// delivery: a function calls it at init, beside its first wait for an
    /// invocation.
    pub async fn warm(&self, provider: &str, connection: &str) -> Result<(), StoreError> {
        self.values(provider, connection, self.ttl).await.map(|_| ())
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
        Ok(signing(&self.values(provider, connection, self.ttl).await?.0))
    }

    async fn refreshed_signing_secrets(
        &self,
        provider: &str,
        connection: &str,
    ) -> Result<Option<Vec<Secret>>, StoreError> {
        let (values, fetched) = self.values(provider, connection, self.refetch_after).await?;
        Ok(fetched.then(|| signing(&values)))
    }

    async fn get(&self, provider: &str, connection: &str, key: &str) -> Result<Option<Secret>, StoreError> {
        Ok(self.values(provider, connection, self.ttl).await?.0.get(key).map(|v| Secret::new(v.clone())))
    }

    async fn put(&self, provider: &str, connection: &str, values: &[(String, Secret)]) -> Result<(), StoreError> {
        let name = self.secret_name(provider, connection);
        let slot = self.slot(provider, connection);
        let mut cached = slot.lock().await;
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
        *cached = Some((Instant::now(), merged));
        Ok(())
    }

    async fn delete(&self, provider: &str, connection: &str) -> Result<(), StoreError> {
        let slot = self.slot(provider, connection);
        let mut cached = slot.lock().await;
        // Without a recovery window: connecting the account again re-creates the name at once.
        let deleted = self
            .client
            .delete_secret()
            .secret_id(self.secret_name(provider, connection))
            .force_delete_without_recovery(true)
            .send()
            .await;
        if let Err(e) = deleted
            && !e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception())
        {
            return Err(backend(e));
        }
        *cached = Some((Instant::now(), Values::new()));
        Ok(())
    }
}
