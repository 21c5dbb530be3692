//! The secrets port over an in-memory map, filled by the local program from
//! its configuration file, the environment and the development secret file.

use std::collections::BTreeMap;
use std::sync::RwLock;

use async_trait::async_trait;
use portage_core::ports::Secrets;
use portage_core::{Secret, StoreError};

type Values = BTreeMap<(String, String), BTreeMap<String, Secret>>;

/// Secrets by (provider, connection) and key.
#[derive(Debug, Default)]
pub struct MapSecrets {
    values: RwLock<Values>,
}

impl Clone for MapSecrets {
    fn clone(&self) -> Self {
        Self { values: RwLock::new(self.values.read().map(|v| v.clone()).unwrap_or_default()) }
    }
}

impl MapSecrets {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one secret, replacing an earlier value under the same key.
    pub fn insert(&mut self, provider: &str, connection: &str, key: &str, value: Secret) {
        if let Ok(values) = self.values.get_mut() {
            values.entry((provider.to_owned(), connection.to_owned())).or_default().insert(key.to_owned(), value);
        }
    }

    /// Every `(provider, connection)` that has a secret: the connections a
    /// local reconcile walks (provider apps are not connections).
    pub fn connections(&self) -> Vec<(String, String)> {
        let values = self.values.read().map(|values| values.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
        values.into_iter().filter(|(provider, _)| provider != portage_core::apps::APPS).collect()
    }

    /// The connection's signing secrets (see [`Secrets::signing_secrets`]).
    pub fn signing(&self, provider: &str, connection: &str) -> Vec<Secret> {
        let Ok(values) = self.values.read() else {
            return Vec::new();
        };
        values
            .get(&(provider.to_owned(), connection.to_owned()))
            .map(|keys| {
                keys.iter().filter(|(k, _)| portage_core::secret::is_signing_key(k)).map(|(_, v)| v.clone()).collect()
            })
            .unwrap_or_default()
    }
}

#[async_trait]
impl Secrets for MapSecrets {
    async fn signing_secrets(&self, provider: &str, connection: &str) -> Result<Vec<Secret>, StoreError> {
        Ok(self.signing(provider, connection))
    }

    async fn refreshed_signing_secrets(&self, _: &str, _: &str) -> Result<Option<Vec<Secret>>, StoreError> {
        // Held in memory: there is nothing newer to fetch.
        Ok(None)
    }

    async fn get(&self, provider: &str, connection: &str, key: &str) -> Result<Option<Secret>, StoreError> {
        let all = self.values.read().map_err(|_| StoreError::Backend("secrets lock poisoned".into()))?;
        Ok(all.get(&(provider.to_owned(), connection.to_owned())).and_then(|keys| keys.get(key)).cloned())
    }

    async fn put(&self, provider: &str, connection: &str, values: &[(String, Secret)]) -> Result<(), StoreError> {
        let mut all = self.values.write().map_err(|_| StoreError::Backend("secrets lock poisoned".into()))?;
        let keys = all.entry((provider.to_owned(), connection.to_owned())).or_default();
        for (key, value) in values {
            keys.insert(key.clone(), value.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_secrets_include_rotated_keys_only() {
        let mut s = MapSecrets::new();
        s.insert("stripe", "default", "webhook_secret", Secret::new("new"));
        s.insert("stripe", "default", "webhook_secret_previous", Secret::new("old"));
        s.insert("stripe", "default", "api_key", Secret::new("sk"));
        let signing = s.signing("stripe", "default");
        let got: Vec<&str> = signing.iter().map(Secret::expose).collect();
        assert_eq!(got.len(), 2);
        assert!(got.contains(&"new") && got.contains(&"old"));
        assert!(s.signing("stripe", "other").is_empty());
    }
}
