//! API keys: who may call the application API (`/v1`) and what for.
//!
//! A key is shown once, when it is made; the store keeps only its SHA-256
//! hash (a key is 256 random bits, so a plain hash cannot be searched back),
//! the first characters for people to tell keys apart, and its scopes.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// What a key may do. `admin` grants every scope, plus keys and subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// Submit commands.
    #[serde(rename = "commands:write")]
    CommandsWrite,
    /// Read commands and the action catalogue.
    #[serde(rename = "commands:read")]
    CommandsRead,
    /// Read state records.
    #[serde(rename = "state:read")]
    StateRead,
    /// Read events and dead letters.
    #[serde(rename = "events:read")]
    EventsRead,
    /// Replay events and redrive dead letters.
    #[serde(rename = "events:write")]
    EventsWrite,
    /// Read connections.
    #[serde(rename = "connections:read")]
    ConnectionsRead,
    /// Create and change connections.
    #[serde(rename = "connections:write")]
    ConnectionsWrite,
    /// Everything.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    /// Every scope, in the order the documentation lists them.
    pub const ALL: [Self; 8] = [
        Self::CommandsWrite,
        Self::CommandsRead,
        Self::StateRead,
        Self::EventsRead,
        Self::EventsWrite,
        Self::ConnectionsRead,
        Self::ConnectionsWrite,
        Self::Admin,
    ];

    /// The scope's name on the wire and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CommandsWrite => "commands:write",
            Self::CommandsRead => "commands:read",
            Self::StateRead => "state:read",
            Self::EventsRead => "events:read",
            Self::EventsWrite => "events:write",
            Self::ConnectionsRead => "connections:read",
            Self::ConnectionsWrite => "connections:write",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope name that is not one of [`Scope::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scope {0:?} (one of: commands:write, commands:read, state:read, events:read, events:write, connections:read, connections:write, admin)"
)]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s).ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

/// A stored key: everything but the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// The operator's name for it, unique.
    pub name: String,
    /// The key's first characters, to tell keys apart in a listing.
    pub prefix: String,
    /// Hex SHA-256 of the whole key: what a presented key is looked up by.
    pub hash: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// When it was made, Unix milliseconds.
    pub created_at_ms: i64,
    /// When it was last accepted (to the minute), Unix milliseconds.
    pub last_used_at_ms: Option<i64>,
}

impl ApiKeyRecord {
    /// Whether the key may act under `needed` (`admin` may act under any).
    pub fn grants(&self, needed: Scope) -> bool {
        self.scopes.iter().any(|&scope| scope == needed || scope == Scope::Admin)
    }
}

/// How often a key's `last_used_at` is rewritten: at most once a minute, so
/// an API call costs no write of its own.
pub const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// The store of API keys.
#[async_trait]
pub trait ApiKeys: Send + Sync {
    /// Saves a new key; false (and nothing written) when its name is taken.
    async fn create(&self, record: &ApiKeyRecord) -> Result<bool, StoreError>;

    /// The key whose hash this is, if it exists and is not revoked.
    async fn find(&self, hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// Records a use of `key` at `now_ms` (a no-op within
    /// [`LAST_USED_RESOLUTION_MS`] of the last one).
    async fn touch(&self, key: &ApiKeyRecord, now_ms: i64) -> Result<(), StoreError>;

    /// Every key, by name.
    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Deletes the key named `name`; false when there is none.
    async fn revoke(&self, name: &str) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_admin_grants_all() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
            assert_eq!(serde_json::to_value(scope).unwrap(), serde_json::json!(scope.as_str()));
        }
        assert!("state:write".parse::<Scope>().is_err());
        let key = |scopes: Vec<Scope>| ApiKeyRecord {
            name: "k".into(),
            prefix: "p".into(),
            hash: "h".into(),
            scopes,
            created_at_ms: 0,
            last_used_at_ms: None,
        };
        assert!(key(vec![Scope::Admin]).grants(Scope::EventsWrite));
        assert!(key(vec![Scope::StateRead]).grants(Scope::StateRead));
        assert!(!key(vec![Scope::StateRead]).grants(Scope::EventsRead));
        assert!(!key(vec![Scope::CommandsRead]).grants(Scope::CommandsWrite));
    }
}
