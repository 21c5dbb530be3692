//! Connecting a tenant's account: connect sessions (what an app opens and
//! its user's browser follows), and the registry of connections (what each
//! one is, how it authenticates, whether it still works). Tokens themselves
//! live in the secrets port; nothing here holds one.
//!
//! A session goes `open` (created by the app) → `started` (its URL was
//! followed once: a state and a PKCE verifier are bound to it) → `finished`
//! (a callback used its state). Each move is one conditional write, so a
//! URL or a state works once however many requests race for it.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::secret::Secret;

/// How long a session's URL and state stay usable.
pub const SESSION_TTL_MS: i64 = 10 * 60 * 1000;

/// Where a connect session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Created; its URL has not been followed.
    Open,
    /// Its URL was followed: the browser is at the provider.
    Started,
    /// A callback used it: it can do nothing more.
    Finished,
}

impl SessionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Started => "started",
            Self::Finished => "finished",
        }
    }

    /// The status a stored name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Open, Self::Started, Self::Finished].into_iter().find(|s| s.as_str() == name)
    }
}

/// One attempt to link an account, from the app's request to the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectSession {
    /// `cs_` and 128 random bits: unguessable, as WooCommerce echoes it back.
    pub id: String,
    /// The provider.
    pub provider: String,
    /// The connection the account becomes.
    pub connection: String,
    /// Where the browser goes at the end (already checked against the allowlist).
    pub return_url: String,
    /// The shop or store the account is at (Shopify's `*.myshopify.com`
    /// domain, a WooCommerce or Magento store URL, a Salesforce My Domain host).
    pub shop: Option<String>,
    /// The provider's region (Amazon: `na`, `eu`, `fe`; Salesforce: `login`, `test`).
    pub region: Option<String>,
    /// Scopes asked for; empty for the provider app's defaults.
    pub scopes: Vec<String>,
    /// Where the session is.
    pub status: SessionStatus,
    /// The SHA-256 (hex) of the state sent to the provider, once started.
    pub state_digest: Option<String>,
    /// The PKCE code verifier, once started, where the provider takes PKCE.
    pub verifier: Option<Secret>,
    /// When the app created it, Unix ms.
    pub created_at_ms: i64,
    /// When its URL and state stop working, Unix ms.
    pub expires_at_ms: i64,
}

impl ConnectSession {
    /// Whether it is past its expiry at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> bool {
        now_ms >= self.expires_at_ms
    }
}

/// Whether a connection can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Its credentials work.
    Connected,
    /// The provider refused its refresh token: the user must connect again.
    NeedsReauth,
    /// Its last use failed for another reason (see `last_error`).
    Error,
    /// Disconnected: its credentials are gone.
    Disconnected,
}

impl fmt::Display for ConnectionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connected => "connected",
            Self::NeedsReauth => "needs_reauth",
            Self::Error => "error",
            Self::Disconnected => "disconnected",
        })
    }
}

/// How a connection authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// OAuth 2.0 tokens from an authorization-code flow.
    Oauth2,
    /// An API key, token or client credentials the user gave.
    ApiKey,
    /// WooCommerce's delivered consumer key and secret.
    WcKeys,
}

/// One connection in the registry: what it is, never a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    /// The provider.
    pub provider: String,
    /// The connection.
    pub connection: String,
    /// Whether it can be used.
    pub status: ConnectionStatus,
    /// How it authenticates.
    pub auth: AuthKind,
    /// The scopes granted (as the provider reported them, else as asked).
    pub scopes: Vec<String>,
    /// When it was (last) connected, Unix ms.
    pub connected_at_ms: i64,
    /// When its access token expires, Unix ms; `None` when it does not.
    pub expires_at_ms: Option<i64>,
    /// When its refresh token (or authorisation) ends, where that is known.
    pub refresh_expires_at_ms: Option<i64>,
    /// When its token was last refreshed.
    pub last_refreshed_at_ms: Option<i64>,
    /// The last failure's code, when it failed.
    pub last_error: Option<String>,
    /// When `connection.expiring` was last sent for its current refresh token.
    pub expiring_notified_at_ms: Option<i64>,
}

impl ConnectionRecord {
    /// A connection connected at `now_ms`: no expiry known yet, nothing failed.
    pub fn connected(provider: &str, connection: &str, auth: AuthKind, scopes: Vec<String>, now_ms: i64) -> Self {
        Self {
            provider: provider.to_owned(),
            connection: connection.to_owned(),
            status: ConnectionStatus::Connected,
            auth,
            scopes,
            connected_at_ms: now_ms,
            expires_at_ms: None,
            refresh_expires_at_ms: None,
            last_refreshed_at_ms: None,
            last_error: None,
            expiring_notified_at_ms: None,
        }
    }
}

/// Connect sessions and the registry of connections.
#[async_trait]
pub trait ConnectStore: Send + Sync {
    /// Saves a new session (its id is fresh).
    async fn create_session(&self, session: &ConnectSession) -> Result<(), StoreError>;

    /// The session with this id, whatever its status.
    async fn session(&self, id: &str) -> Result<Option<ConnectSession>, StoreError>;

    /// Moves an `open`, unexpired session to `started` with its state's
    /// digest and PKCE verifier; false (nothing written) otherwise.
    async fn start_session(
        &self,
        id: &str,
        state_digest: &str,
        verifier: Option<&Secret>,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// The session whose state has this digest.
    async fn session_for_state(&self, state_digest: &str) -> Result<Option<ConnectSession>, StoreError>;

    /// Moves a `started` session to `finished`; false when it was not
    /// `started` (a callback already used it).
    async fn finish_session(&self, id: &str) -> Result<bool, StoreError>;

    /// Writes a connection's record, replacing the one it had.
    async fn put_connection(&self, record: &ConnectionRecord) -> Result<(), StoreError>;

    /// One connection's record.
    async fn connection(&self, provider: &str, connection: &str) -> Result<Option<ConnectionRecord>, StoreError>;

    /// Writes a connection's record only while its stored status is `from`;
    /// false (nothing written) otherwise: the one worker that moves a
    /// connection (to `needs_reauth`, say) is the one that tells the app.
    async fn move_connection(&self, record: &ConnectionRecord, from: ConnectionStatus) -> Result<bool, StoreError>;

    /// Every connection (of one provider, when named), by provider then name.
    async fn connections(&self, provider: Option<&str>) -> Result<Vec<ConnectionRecord>, StoreError>;
}

/// Pulls a connected account's metadata into state (the worker's handler
/// for metadata tasks).
#[async_trait]
pub trait MetadataHandler: Send + Sync {
    /// Makes one attempt; says when to try again, if ever.
    async fn pull(&self, provider: &str, connection: &str) -> crate::sync::Settlement;
}

/// Whether `shop` is a Shopify shop domain (`name.myshopify.com`, lower
/// case, nothing before or after): the only hosts a Shopify flow calls.
pub fn is_shopify_shop(shop: &str) -> bool {
    let Some(name) = shop.strip_suffix(".myshopify.com") else { return false };
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Whether `url` starts with one of the allowed return URLs. The allowed
/// prefix must end the origin (a path, a `?`, or the whole URL follows it),
/// so `https://app.example` does not admit `https://app.example.evil.com`.
pub fn return_url_allowed(url: &str, allowed: &[String]) -> bool {
    allowed.iter().filter(|prefix| !prefix.is_empty()).any(|prefix| {
        url.strip_prefix(prefix.as_str()).is_some_and(|rest| {
            prefix.ends_with('/') || rest.is_empty() || rest.starts_with(['/', '?', '#']) || has_path(prefix)
        })
    })
}

/// Whether a URL prefix already names a path beyond its origin.
fn has_path(prefix: &str) -> bool {
    prefix.split_once("://").is_some_and(|(_, rest)| rest.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_shop_domains_are_shops() {
        for good in ["acme.myshopify.com", "a-1.myshopify.com", "0shop.myshopify.com"] {
            assert!(is_shopify_shop(good), "{good}");
        }
        for bad in [
            "evil.com",
            "x.myshopify.com.evil.com",
            "x.myshopify.com/",
            "-x.myshopify.com",
            ".myshopify.com",
            "X.myshopify.com",
            "a.b.myshopify.com",
            "a_b.myshopify.com",
            "https://x.myshopify.com",
            "x.myshopify.com:443",
            "",
        ] {
            assert!(!is_shopify_shop(bad), "{bad}");
        }
    }

    #[test]
    fn return_urls_match_on_whole_origins() {
        let allowed = vec!["https://app.example".to_owned(), "https://other.example/connected".to_owned()];
        for good in [
            "https://app.example",
            "https://app.example/settings?tab=1",
            "https://app.example?x=1",
            "https://other.example/connected/done",
        ] {
            assert!(return_url_allowed(good, &allowed), "{good}");
        }
        for bad in [
            "https://app.example.evil.com/",
            "https://app.exampleevil.com",
            "https://app.example@evil.com",
            "http://app.example/",
            "https://evil.com/https://app.example",
            "",
        ] {
            assert!(!return_url_allowed(bad, &allowed), "{bad}");
        }
        assert!(!return_url_allowed("https://x", &[String::new()]), "an empty entry allows nothing");
        assert_eq!(SessionStatus::parse("started"), Some(SessionStatus::Started));
    }
}
