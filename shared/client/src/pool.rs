//! One API client per (provider, connection) for the life of the process.
//!
//! A client carries what must be shared by every call of one connection: its
//! rate limiter, its breaker, its OAuth session. Handlers therefore never
//! build clients: they ask the pool, which builds each one lazily from the
//! connection's secrets and keeps it (in a Lambda, for the life of the
//! execution environment), so concurrent events, commands and listings of a
//! connection share one budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use portage_core::StoreError;
use portage_core::ports::Secrets;
use url::Url;

use crate::{ApiClient, Credentials, Metrics, Origins, Policy, http_client};

/// How a connection's credential is read from its secrets.
#[derive(Debug, Clone, Copy)]
pub enum CredentialSource {
    /// `Authorization: Bearer` with the secret under this key (Stripe's
    /// `api_key`).
    Bearer(&'static str),
    /// HTTP Basic with the secrets under these two keys (Twilio's
    /// `account_sid` and `auth_token`).
    Basic {
        /// The key of the user name.
        user: &'static str,
        /// The key of the password.
        password: &'static str,
    },
    /// An OAuth 2.0 access token (`access_token`, from a connect flow),
    /// refreshed when it expires or is refused, at the token endpoint this
    /// makes from the connection's `shop` and `region` secrets.
    OAuth(fn(Option<&str>, Option<&str>) -> crate::TokenEndpoint),
    /// An OAuth 2.0 access token from the client-credentials grant at this
    /// token endpoint, with the connection's `client_id` and `client_secret`
    /// (PayPal's merchant calls).
    ClientCredentials(fn() -> crate::TokenEndpoint),
}

/// The process's API clients, built on first use and kept.
pub struct ClientPool {
    http: reqwest::Client,
    /// For OAuth refreshes: follows no redirect.
    token_http: reqwest::Client,
    secrets: Arc<dyn Secrets>,
    origins: Origins,
    metrics: Arc<Metrics>,
    clients: Mutex<HashMap<(&'static str, String), Arc<ApiClient>>>,
    /// Where OAuth refreshes take their lease, and as whom.
    lease: Option<(Arc<dyn portage_core::ports::Leases>, String)>,
}

impl ClientPool {
    /// A pool reading credentials from `secrets`, reaching each provider's
    /// host or its override in `origins` (a sandbox, a test fake).
    pub fn new(secrets: Arc<dyn Secrets>, origins: Origins) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: http_client()?,
            token_http: crate::token_http_client()?,
            secrets,
            origins,
            metrics: Arc::new(Metrics::default()),
            clients: Mutex::new(HashMap::new()),
            lease: None,
        })
    }

    /// OAuth clients refresh under a lease in `leases`, held under a name
    /// unique to this pool, so concurrent workers refresh a token once.
    pub fn with_leases(mut self, leases: Arc<dyn portage_core::ports::Leases>) -> Self {
        self.lease = Some((leases, format!("pool-{:016x}", rand::random::<u64>())));
        self
    }

    /// Gives every call of the pool's clients `timeout` instead of 30 s.
    pub fn with_call_timeout(mut self, timeout: std::time::Duration) -> Result<Self, reqwest::Error> {
        self.http = crate::http_client_with_timeout(timeout)?;
        Ok(self)
    }

    /// The pool's HTTP client (for one-off calls outside a provider's policy).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Where provider hosts are really reached.
    pub fn origins(&self) -> &Origins {
        &self.origins
    }

    /// The calls, retries and limits every client of the pool counted.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The connection's client for `policy`, built the first time from its
    /// credential; `None` when the connection has no such credential (it
    /// cannot call the provider yet). A client, once built, is the same
    /// `Arc` for every later caller.
    pub async fn client(
        &self,
        policy: Arc<dyn Policy>,
        connection: &str,
        credential: CredentialSource,
    ) -> Result<Option<Arc<ApiClient>>, StoreError> {
        let key = (policy.provider(), connection.to_owned());
        if let Some(client) = self.cached(&key) {
            return Ok(Some(client));
        }
        let credentials = match credential {
            CredentialSource::Bearer(name) => match self.secrets.get(policy.provider(), connection, name).await? {
                Some(secret) => Credentials::Bearer(secret),
                None => return Ok(None),
            },
            CredentialSource::Basic { user, password } => {
                let user = self.secrets.get(policy.provider(), connection, user).await?;
                let password = self.secrets.get(policy.provider(), connection, password).await?;
                match (user, password) {
                    (Some(user), Some(password)) => Credentials::Basic { user, password },
                    _ => return Ok(None),
                }
            }
            CredentialSource::OAuth(endpoint) => match self.oauth(policy.provider(), connection, endpoint).await? {
                Some(session) => Credentials::OAuth(Arc::new(session)),
                None => return Ok(None),
            },
            CredentialSource::ClientCredentials(endpoint) => {
                let id = self.secrets.get(policy.provider(), connection, "client_id").await?;
                let secret = self.secrets.get(policy.provider(), connection, "client_secret").await?;
                if id.is_none() || secret.is_none() {
                    return Ok(None);
                }
                let endpoint = endpoint().through(&self.origins);
                let session = self.session(policy.provider(), connection, endpoint).by_client_credentials();
                Credentials::OAuth(Arc::new(session))
            }
        };
        let base_url = self.base_url(policy.as_ref());
        let built = Arc::new(ApiClient::new(
            self.http.clone(),
            policy,
            connection,
            credentials,
            base_url,
            self.metrics.clone(),
        ));
        // Two first callers may both build one; the first stored wins, so
        // every caller ends up with the same client.
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(Some(clients.entry(key).or_insert(built).clone()))
    }

    /// The connection's OAuth session, if it has an access token.
    async fn oauth(
        &self,
        provider: &'static str,
        connection: &str,
        endpoint: fn(Option<&str>, Option<&str>) -> crate::TokenEndpoint,
    ) -> Result<Option<crate::OAuthSession>, StoreError> {
        if self.secrets.get(provider, connection, "access_token").await?.is_none() {
            return Ok(None);
        }
        let shop = self.secrets.get(provider, connection, "shop").await?;
        let region = self.secrets.get(provider, connection, "region").await?;
        let endpoint =
            endpoint(shop.as_ref().map(|s| s.expose()), region.as_ref().map(|s| s.expose())).through(&self.origins);
        Ok(Some(self.session(provider, connection, endpoint)))
    }

    /// A token session at `endpoint`, refreshing under the pool's lease.
    fn session(&self, provider: &'static str, connection: &str, endpoint: crate::TokenEndpoint) -> crate::OAuthSession {
        let http = self.token_http.clone();
        let mut session = crate::OAuthSession::new(provider, connection, endpoint, self.secrets.clone(), http);
        if let Some((leases, holder)) = &self.lease {
            session = session.with_lease(leases.clone(), holder.clone());
        }
        session
    }

    fn cached(&self, key: &(&'static str, String)) -> Option<Arc<ApiClient>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned()
    }

    /// The policy's base URL with its host's override applied; `None` when
    /// there is none (the policy's own).
    fn base_url(&self, policy: &dyn Policy) -> Option<String> {
        let url = Url::parse(policy.base_url()).ok()?;
        let resolved = self.origins.resolve(&url);
        (resolved != url).then(|| resolved.as_str().trim_end_matches('/').to_owned())
    }
}
