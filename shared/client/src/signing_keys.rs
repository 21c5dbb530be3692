//! The signing-key port over HTTPS: fetch what a delivery's [`KeyLocation`]
//! names, check it, and keep it for the location's cache time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use portage_core::Secret;
use portage_core::ports::{KeyError, Secrets, SigningKeys};
use portage_core::provider::{ClientCredentials, KeyFormat, KeyLocation};
use rustls_pki_types::{TrustAnchor, UnixTime};
use tracing::info;
use url::Url;

use crate::certificate;
use crate::origins::{Origins, OriginsError};

/// The fetcher cannot be set up as configured.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `PORTAGE_PROVIDER_ORIGINS` is malformed.
    #[error(transparent)]
    Origins(#[from] OriginsError),
    /// The extra trust roots cannot be read.
    #[error("extra trust roots: {0}")]
    Roots(String),
    /// The HTTP client cannot be built.
    #[error("HTTP client: {0}")]
    Http(String),
}

/// The largest key document accepted: a certificate chain is a few KB.
const MAX_KEY_BYTES: usize = 64 * 1024;
/// How long one fetch may take, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A token is renewed this long before the provider says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// A cached value and when it stops being used; `None` until first fetched.
/// The async lock is held across a fetch, so concurrent deliveries naming
/// the same key wait for one request.
type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Secret)>>>;

/// Fetches signing keys from providers' hosts, and caches them.
pub struct HttpSigningKeys {
    http: reqwest::Client,
    secrets: Arc<dyn Secrets>,
    origins: Origins,
    anchors: Vec<TrustAnchor<'static>>,
    keys: Mutex<HashMap<String, Slot>>,
    tokens: Mutex<HashMap<(String, String, ClientCredentials), Slot>>,
}

impl HttpSigningKeys {
    /// Fetches with the connections' credentials from `secrets`, trusting
    /// Mozilla's roots for certificates. Redirects are never followed: a key
    /// must come from the host the delivery named.
    pub fn new(secrets: Arc<dyn Secrets>, origins: Origins) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .user_agent(crate::USER_AGENT)
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        Ok(Self {
            http,
            secrets,
            origins,
            anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            keys: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// Also trusts the CA certificates in `pem` (a private PKI, or a test CA
    /// standing in for a provider's public one).
    pub fn with_extra_roots(mut self, pem: &[u8]) -> Result<Self, ConfigError> {
        self.anchors.extend(certificate::anchors_from_pem(pem).map_err(ConfigError::Roots)?);
        Ok(self)
    }

    /// The fetcher as the environment configures it: `PORTAGE_PROVIDER_ORIGINS`
    /// (`HOST=URL,…`: a provider host reached elsewhere, a sandbox or a test
    /// fake) and `PORTAGE_EXTRA_ROOTS_FILE` (PEM CA certificates trusted
    /// beside Mozilla's roots). Both unset in production.
    pub fn from_env(secrets: Arc<dyn Secrets>) -> Result<Self, ConfigError> {
        let origins = Origins::from_env()?;
        let keys = Self::new(secrets, origins)?;
        match std::env::var("PORTAGE_EXTRA_ROOTS_FILE") {
            Ok(path) if !path.is_empty() => {
                let pem = std::fs::read(&path).map_err(|e| ConfigError::Roots(format!("{path}: {e}")))?;
                keys.with_extra_roots(&pem)
            }
            _ => Ok(keys),
        }
    }

    fn key_slot(&self, url: &str) -> Slot {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.entry(url.to_owned()).or_default().clone()
    }

    fn token_slot(&self, provider: &str, connection: &str, grant: &ClientCredentials) -> Slot {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.entry((provider.to_owned(), connection.to_owned(), grant.clone())).or_default().clone()
    }

    /// The connection's bearer token for `grant`, reused until shortly before
    /// it expires; `renew` drops the cached one first (after a 401).
    async fn token(
        &self,
        provider: &str,
        connection: &str,
        grant: &ClientCredentials,
        renew: bool,
    ) -> Result<Secret, KeyError> {
        let slot = self.token_slot(provider, connection, grant);
        let mut cached = slot.lock().await;
        if let Some((until, token)) = cached.as_ref()
            && !renew
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let credential = |key: &'static str| async move {
            let value = self.secrets.get(provider, connection, key).await;
            value.map_err(|e| KeyError::Unavailable(e.to_string()))?.ok_or(KeyError::MissingCredential(key))
        };
        let (id, secret) = (credential("client_id").await?, credential("client_secret").await?);
        let token_url = self.resolve(&grant.token_url)?;
        let client = BasicClient::new(ClientId::new(id.expose().to_owned()))
            .set_client_secret(ClientSecret::new(secret.expose().to_owned()))
            .set_token_uri(TokenUrl::from_url(token_url));
        let response = client
            .exchange_client_credentials()
            .add_scopes(grant.scope.split_whitespace().map(|s| Scope::new(s.to_owned())))
            .request_async(&self.http)
            .await
            // oauth2's errors name the endpoint and the provider's error code,
            // never the client secret or a token.
            .map_err(|e| KeyError::Unavailable(format!("token from {}: {e}", grant.token_url)))?;
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(300));
        let token = Secret::new(response.access_token().secret().clone());
        *cached = Some((Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN), token.clone()));
        info!(provider, connection, token_url = %grant.token_url, "application token obtained");
        Ok(token)
    }

    fn resolve(&self, url: &str) -> Result<Url, KeyError> {
        let parsed = Url::parse(url).map_err(|_| KeyError::Untrusted(format!("not a URL: {url}")))?;
        if parsed.scheme() != "https" {
            return Err(KeyError::Untrusted(format!("not an https URL: {url}")));
        }
        Ok(self.origins.resolve(&parsed))
    }

    async fn download(&self, provider: &str, connection: &str, location: &KeyLocation) -> Result<Vec<u8>, KeyError> {
        let url = self.resolve(&location.url)?;
        let mut renew = false;
        loop {
            let mut request = self.http.get(url.clone());
            if let Some(grant) = &location.token {
                request = request.bearer_auth(self.token(provider, connection, grant, renew).await?.expose());
            }
            let unavailable =
                |e: reqwest::Error| KeyError::Unavailable(format!("{}: {}", location.url, e.without_url()));
            let mut response = request.send().await.map_err(unavailable)?;
            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED && location.token.is_some() && !renew {
                renew = true;
                continue;
            }
            if !status.is_success() {
                return Err(KeyError::Unavailable(format!("{} answered {status}", location.url)));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(unavailable)? {
                if body.len() + chunk.len() > MAX_KEY_BYTES {
                    return Err(KeyError::Untrusted(format!(
                        "{} served more than {MAX_KEY_BYTES} bytes",
                        location.url
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            return Ok(body);
        }
    }
}

#[async_trait]
impl SigningKeys for HttpSigningKeys {
    async fn fetch(&self, provider: &str, connection: &str, location: &KeyLocation) -> Result<Secret, KeyError> {
        let slot = self.key_slot(&location.url);
        let mut cached = slot.lock().await;
        if let Some((until, key)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(key.clone());
        }
        let body = self.download(provider, connection, location).await?;
        if let KeyFormat::CertificateFor(name) = location.format {
            certificate::check_chain(&body, name, &self.anchors, UnixTime::now()).map_err(KeyError::Untrusted)?;
        }
        let key = Secret::new(
            String::from_utf8(body).map_err(|_| KeyError::Untrusted(format!("{} served binary data", location.url)))?,
        );
        *cached = Some((Instant::now() + location.cache_for, key.clone()));
        info!(provider, url = %location.url, "signing key fetched");
        Ok(key)
    }
}
