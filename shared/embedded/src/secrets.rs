//! The secrets port over an in-memory map, filled by the local program from
//! its configuration file, the environment and the development secret file.

use std::collections::BTreeMap;

use async_trait::async_trait;
use portage_core::ports::Secrets;
use portage_core::{Secret, StoreError};

/// Secrets by (provider, connection) and key.
#[derive(Debug, Clone, Default)]
pub struct MapSecrets {
    values: BTreeMap<(String, String), BTreeMap<String, Secret>>,
}

impl MapSecrets {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one secret, replacing an earlier value under the same key.
    pub fn insert(&mut self, provider: &str, connection: &str, key: &str, value: Secret) {
        self.values.entry((provider.to_owned(), connection.to_owned())).or_default().insert(key.to_owned(), value);
    }

    /// The connection's signing secrets (see [`Secrets::signing_secrets`]).
    pub fn signing(&self, provider: &str, connection: &str) -> Vec<Secret> {
        self.values
            .get(&(provider.to_owned(), connection.to_owned()))
            .map(|keys| {
                keys.iter()
                    .filter(|(k, _)| *k == "webhook_secret" || k.starts_with("webhook_secret_"))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[async_trait]
impl Secrets for MapSecrets {
    async fn signing_secrets(&self, provider: &str, connection: &str) -> Result<Vec<Secret>, StoreError> {
        Ok(self.signing(provider, connection))
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
