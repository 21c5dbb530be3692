//! The secrets port over an in-memory map, filled by the local program from
//! its configuration file, the environment and the development secret file.
//! What flows write (connected accounts' tokens, refreshed tokens) is also
//! saved to a [`SecretsFile`] when one is given, so it outlives the process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use async_trait::async_trait;
use portage_core::ports::Secrets;
use portage_core::{Secret, StoreError};

type Values = BTreeMap<(String, String), BTreeMap<String, Secret>>;

/// Secrets by (provider, connection) and key.
#[derive(Debug, Default)]
pub struct MapSecrets {
    values: RwLock<Values>,
    file: Option<SecretsFile>,
}

impl Clone for MapSecrets {
    fn clone(&self) -> Self {
        Self { values: RwLock::new(self.values.read().map(|v| v.clone()).unwrap_or_default()), file: self.file.clone() }
    }
}

impl MapSecrets {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also saves what `put` and `delete` change to `file`.
    pub fn saving_to(mut self, file: SecretsFile) -> Self {
        self.file = Some(file);
        self
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
        if let Some(file) = &self.file {
            file.merge(provider, connection, values)?;
        }
        let keys = all.entry((provider.to_owned(), connection.to_owned())).or_default();
        for (key, value) in values {
            keys.insert(key.clone(), value.clone());
        }
        Ok(())
    }

    async fn delete(&self, provider: &str, connection: &str) -> Result<(), StoreError> {
        let mut all = self.values.write().map_err(|_| StoreError::Backend("secrets lock poisoned".into()))?;
        if let Some(file) = &self.file {
            file.remove(provider, connection)?;
        }
        all.remove(&(provider.to_owned(), connection.to_owned()));
        Ok(())
    }
}

/// The shape of a secrets file: `[connections.PROVIDER.CONNECTION]` tables
/// of keys and values.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct SecretsDocument {
    /// Values by provider, connection and key.
    #[serde(default)]
    pub connections: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
}

/// A TOML file of secrets readable by its owner only (`DATA/secrets.toml`):
/// what `portage secrets set` writes and a local deployment's flows save to.
#[derive(Debug, Clone)]
pub struct SecretsFile {
    path: PathBuf,
}

impl SecretsFile {
    /// The file at `path` (created on first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the file holds; empty when it does not exist.
    pub fn read(&self) -> Result<SecretsDocument, StoreError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                StoreError::Corrupt(format!("{} is not a secrets file: {}", self.path.display(), e.message()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SecretsDocument::default()),
            Err(e) => Err(StoreError::Backend(format!("cannot read {}: {e}", self.path.display()))),
        }
    }

    /// Merges values into a connection's table.
    pub fn merge(&self, provider: &str, connection: &str, values: &[(String, Secret)]) -> Result<(), StoreError> {
        let mut document = self.read()?;
        let keys =
            document.connections.entry(provider.to_owned()).or_default().entry(connection.to_owned()).or_default();
        for (key, value) in values {
            keys.insert(key.clone(), value.expose().to_owned());
        }
        self.write(&document)
    }

    /// Removes a connection's table.
    pub fn remove(&self, provider: &str, connection: &str) -> Result<(), StoreError> {
        let mut document = self.read()?;
        let Some(connections) = document.connections.get_mut(provider) else { return Ok(()) };
        if connections.remove(connection).is_some() {
            return self.write(&document);
        }
        Ok(())
    }

    fn write(&self, document: &SecretsDocument) -> Result<(), StoreError> {
        let text = toml::to_string(document).map_err(|e| StoreError::Invalid(format!("cannot encode secrets: {e}")))?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", dir.display())))?;
        }
        write_private(&self.path, &text)
            .map_err(|e| StoreError::Backend(format!("cannot write {}: {e}", self.path.display())))
    }
}

/// Writes a file readable by its owner only, durably.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
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
