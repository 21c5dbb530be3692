//! OAuth 2.0 access tokens that refresh themselves: read from the secrets
//! port, refreshed (with the `oauth2` crate) when expired or refused, once
//! however many calls find them stale at the same time, and written back —
//! access token, refresh token (rotated or not) and expiry in one `put`, so
//! a reader never sees a new access token with an old refresh token.
//!
//! Across processes, a refresh runs under a lease (the leases port, on the
//! DynamoDB table or the embedded store): a worker that cannot take it waits
//! for the holder's new token to appear in the secrets and uses it; one that
//! takes it reads the secrets again first, in case the refresh it waited for
//! has just landed. A refresh refused as `invalid_grant` re-reads them once
//! more before it gives up.
//!
//! A crash between the provider's answer and the save loses a rotated
//! refresh token. Providers that rotate keep the previous one valid for a
//! grace period (until the new tokens are first used, or for minutes), and
//! the stored token is the previous one: the next refresh, after a restart,
//! succeeds with it. Where a provider has no grace period, the connection
//! must be authorised again; the error says so.

use std::sync::Arc;
use std::time::Duration;

use portage_core::Secret;
use portage_core::ports::{Clock, Leases, Secrets, SystemClock};
use tracing::{info, warn};

use crate::error::{ErrorDetail, ProviderError};
use crate::token::{ClientCredentials, Grant, TokenEndpoint, TokenError, request_token};

/// Keys of a connection's secrets.
const ACCESS: &str = "access_token";
const REFRESH: &str = "refresh_token";
const EXPIRES: &str = "access_token_expires_at";
const REFRESH_EXPIRES: &str = "refresh_token_expires_at";
/// The scopes granted, space-separated (named again by refreshes that want them).
const SCOPE: &str = "scope";
/// The code of a refused refresh token, on the error it ends in.
pub const INVALID_GRANT: &str = "invalid_grant";
/// A token is refreshed this long before it expires.
const MARGIN: Duration = Duration::from_secs(60);
/// How long a refresh may hold its lease.
const LEASE_FOR: Duration = Duration::from_secs(30);
/// How long a worker waits for another's refresh before it refreshes anyway.
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(15);

/// One connection's OAuth tokens.
pub struct OAuthSession {
    provider: &'static str,
    connection: String,
    endpoint: TokenEndpoint,
    secrets: Arc<dyn Secrets>,
    http: reqwest::Client,
    current: tokio::sync::Mutex<Option<(Secret, Option<u64>)>>,
    lease: Option<(Arc<dyn Leases>, String)>,
    /// Tokens come from the client-credentials grant, not a refresh token.
    client_grant: bool,
}

/// What waiting for the refresh lease gave.
enum Turn {
    /// This worker holds the lease (or there is none to take).
    Ours,
    /// Another worker refreshed meanwhile: its token.
    Theirs(Secret, Option<u64>),
}

impl OAuthSession {
    /// Tokens of `provider`/`connection`, refreshed at `endpoint` with the
    /// connection's `client_id` and `client_secret`, or else the provider
    /// app's (see [`portage_core::apps`]). `http` must not follow redirects
    /// (the token endpoint's answer carries credentials).
    pub fn new(
        provider: &'static str,
        connection: &str,
        endpoint: TokenEndpoint,
        secrets: Arc<dyn Secrets>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            provider,
            connection: connection.to_owned(),
            endpoint,
            secrets,
            http,
            current: tokio::sync::Mutex::new(None),
            lease: None,
            client_grant: false,
        }
    }

    /// Tokens come from the client-credentials grant with the connection's
    /// `client_id` and `client_secret` (PayPal), asked for again whenever
    /// one expires or is refused, and kept in this process only (nothing is
    /// written to the secrets: a worker needs only to read them).
    pub fn by_client_credentials(mut self) -> Self {
        self.client_grant = true;
        self
    }

    /// Refreshes under a lease in `leases`, held as `holder` (unique per
    /// process), so that concurrent workers refresh once.
    pub fn with_lease(mut self, leases: Arc<dyn Leases>, holder: impl Into<String>) -> Self {
        self.lease = Some((leases, holder.into()));
        self
    }

    fn lease_name(&self) -> String {
        format!("oauth:{}/{}", self.provider, self.connection)
    }

    /// Waits for the refresh lease, or for another worker's fresh token.
    async fn turn(&self, stale: Option<&Secret>) -> Result<Turn, ProviderError> {
        let Some((leases, holder)) = &self.lease else { return Ok(Turn::Ours) };
        let deadline = tokio::time::Instant::now() + WAIT_FOR_OTHERS;
        loop {
            let now = SystemClock.now_ms();
            let until = now.saturating_add(i64::try_from(LEASE_FOR.as_millis()).unwrap_or(i64::MAX));
            let taken =
                leases.try_lease(&self.lease_name(), holder, now, until).await.map_err(|e| self.store_error(&e))?;
            if taken {
                return Ok(Turn::Ours);
            }
            if let Some((token, expires)) = self.stored().await?
                && Some(&token) != stale
                && !expiring(expires)
            {
                return Ok(Turn::Theirs(token, expires));
            }
            if tokio::time::Instant::now() >= deadline {
                warn!(provider = self.provider, connection = %self.connection, "refresh lease still held elsewhere: refreshing anyway");
                return Ok(Turn::Ours);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn release(&self) {
        if let Some((leases, holder)) = &self.lease
            && let Err(error) = leases.release(&self.lease_name(), holder).await
        {
            warn!(provider = self.provider, connection = %self.connection, %error, "refresh lease not released; it expires");
        }
    }

    fn store_error(&self, error: &portage_core::StoreError) -> ProviderError {
        ProviderError::Transient(ErrorDetail {
            provider: self.provider,
            message: error.to_string(),
            ..Default::default()
        })
    }

    fn error(&self, message: impl Into<String>) -> ProviderError {
        ProviderError::Unauthorized(ErrorDetail {
            provider: self.provider,
            message: message.into(),
            ..Default::default()
        })
    }

    async fn read(&self, key: &str) -> Result<Option<Secret>, ProviderError> {
        let value = self.secrets.get(self.provider, &self.connection, key).await;
        value.map_err(|e| {
            ProviderError::Transient(ErrorDetail {
                provider: self.provider,
                message: e.to_string(),
                ..Default::default()
            })
        })
    }

    async fn stored(&self) -> Result<Option<(Secret, Option<u64>)>, ProviderError> {
        if self.client_grant {
            // Client-credentials tokens live in this process only.
            return Ok(None);
        }
        let Some(access) = self.read(ACCESS).await? else { return Ok(None) };
        let expires = self.read(EXPIRES).await?.and_then(|e| e.expose().parse().ok());
        Ok(Some((access, expires)))
    }

    /// An access token that has not expired, refreshed if it has.
    pub async fn access_token(&self) -> Result<Secret, ProviderError> {
        let mut current = self.current.lock().await;
        if current.is_none() {
            *current = self.stored().await?;
        }
        match current.as_ref() {
            Some((token, expires)) if !expiring(*expires) => Ok(token.clone()),
            _ => self.refresh(&mut current).await,
        }
    }

    /// Refreshes the token now when it expires within `ahead` (the
    /// scheduler's pass, ahead of any call); answers whether a fresh token
    /// was made (here, or by another worker meanwhile). Errors as
    /// [`access_token`](Self::access_token) does; a dead refresh token is
    /// `Unauthorized` with the code [`INVALID_GRANT`].
    pub async fn refresh_ahead(&self, ahead: Duration) -> Result<bool, ProviderError> {
        let mut current = self.current.lock().await;
        *current = self.stored().await?;
        let due = match current.as_ref() {
            Some((_, Some(expires))) => now_secs() + ahead.as_secs() >= *expires,
            Some((_, None)) => false,
            None => true,
        };
        if !due {
            return Ok(false);
        }
        self.refresh(&mut current).await.map(|_| true)
    }

    /// After the provider refused `rejected`: a newer token if another call
    /// (or process) already has one, else a refreshed one.
    pub async fn after_refusal(&self, rejected: &Secret) -> Result<Secret, ProviderError> {
        let mut current = self.current.lock().await;
        if let Some((token, _)) = current.as_ref()
            && token != rejected
        {
            return Ok(token.clone());
        }
        if let Some((stored, expires)) = self.stored().await?
            && &stored != rejected
        {
            *current = Some((stored.clone(), expires));
            return Ok(stored);
        }
        self.refresh(&mut current).await
    }

    async fn refresh(&self, current: &mut Option<(Secret, Option<u64>)>) -> Result<Secret, ProviderError> {
        if self.client_grant {
            // No refresh token to rotate, so nothing to share or to race
            // for: each process asks for its own token.
            let (token, expires) = self.exchange().await.map_err(|f| f.into_error(self))?;
            *current = Some((token.clone(), expires));
            return Ok(token);
        }
        let stale = current.as_ref().map(|(token, _)| token.clone());
        match self.turn(stale.as_ref()).await? {
            Turn::Theirs(token, expires) => {
                *current = Some((token.clone(), expires));
                Ok(token)
            }
            Turn::Ours => {
                let refreshed = self.refresh_holding_lease(current, stale.as_ref()).await;
                self.release().await;
                refreshed
            }
        }
    }

    async fn refresh_holding_lease(
        &self,
        current: &mut Option<(Secret, Option<u64>)>,
        stale: Option<&Secret>,
    ) -> Result<Secret, ProviderError> {
        // The refresh waited for may have landed just before the lease was free.
        if let Some((token, expires)) = self.stored().await?
            && Some(&token) != stale
            && !expiring(expires)
        {
            *current = Some((token.clone(), expires));
            return Ok(token);
        }
        match self.exchange().await {
            Err(RefreshFailure::InvalidGrant) => {
                // Another process may have rotated the refresh token: use
                // what it stored, or try once with it.
                let stored = self.stored().await?;
                if let Some((token, expires)) =
                    stored.filter(|(t, e)| !expiring(*e) && Some(t) != current.as_ref().map(|(c, _)| c))
                {
                    *current = Some((token.clone(), expires));
                    return Ok(token);
                }
                let (token, expires) = self.exchange().await.map_err(|f| f.into_error(self))?;
                *current = Some((token.clone(), expires));
                Ok(token)
            }
            Err(other) => Err(other.into_error(self)),
            Ok((token, expires)) => {
                *current = Some((token.clone(), expires));
                Ok(token)
            }
        }
    }

    /// The client credentials: the connection's own, else the provider app's.
    async fn client_credentials(&self) -> Result<ClientCredentials, RefreshFailure> {
        let own = (self.read("client_id").await, self.read("client_secret").await);
        if let (Ok(Some(id)), Ok(Some(secret))) = own {
            return Ok(ClientCredentials { id: id.expose().to_owned(), secret });
        }
        let app = portage_core::apps::ProviderApp::load(self.secrets.as_ref(), self.provider).await;
        match app.map_err(|e| RefreshFailure::Provider(self.store_error(&e)))? {
            Some(app) => Ok(ClientCredentials { id: app.client_id, secret: app.client_secret }),
            None => Err(RefreshFailure::Missing("client_id and client_secret (nor a provider app)")),
        }
    }

    /// One refresh-token grant, its result saved before it is used.
    async fn exchange(&self) -> Result<(Secret, Option<u64>), RefreshFailure> {
        let client = self.client_credentials().await?;
        let refresh = match self.client_grant {
            true => None,
            false => Some(
                self.read(REFRESH).await.map_err(RefreshFailure::Provider)?.ok_or(RefreshFailure::Missing(REFRESH))?,
            ),
        };
        let scope = match self.endpoint.refresh_scope {
            true => self.read(SCOPE).await.map_err(RefreshFailure::Provider)?,
            false => None,
        };
        let grant = match &refresh {
            Some(token) => Grant::Refresh { token, scope: scope.as_ref().map(Secret::expose) },
            None => Grant::ClientCredentials,
        };
        let answer =
            request_token(&self.http, &self.endpoint, &client, &grant, now_secs()).await.map_err(|e| match e {
                e if e.is_invalid_grant() => RefreshFailure::InvalidGrant,
                TokenError::Refused(code) => RefreshFailure::Refused(code),
                TokenError::Unreachable | TokenError::Malformed => RefreshFailure::Unreachable,
            })?;
        let access = answer.access_token.clone();
        let expires = answer.expires_at;
        if self.client_grant {
            info!(provider = self.provider, connection = %self.connection, "client-credentials token obtained");
            return Ok((access, expires));
        }
        let mut values = vec![(ACCESS.to_owned(), access.clone())];
        values.push((EXPIRES.to_owned(), Secret::new(expires.map(|e| e.to_string()).unwrap_or_default())));
        let rotated = answer.refresh_token.is_some();
        if let Some(rotated) = answer.refresh_token {
            values.push((REFRESH.to_owned(), rotated));
        }
        if let Some(at) = answer.refresh_expires_at {
            values.push((REFRESH_EXPIRES.to_owned(), Secret::new(at.to_string())));
        }
        self.secrets.put(self.provider, &self.connection, &values).await.map_err(|e| {
            RefreshFailure::Provider(ProviderError::Transient(ErrorDetail {
                provider: self.provider,
                message: format!("refreshed tokens not saved: {e}"),
                ..Default::default()
            }))
        })?;
        info!(provider = self.provider, connection = %self.connection, rotated, "access token refreshed");
        Ok((access, expires))
    }
}

enum RefreshFailure {
    InvalidGrant,
    Refused(String),
    Unreachable,
    Missing(&'static str),
    Provider(ProviderError),
}

impl RefreshFailure {
    fn into_error(self, session: &OAuthSession) -> ProviderError {
        match self {
            Self::InvalidGrant => ProviderError::Unauthorized(ErrorDetail {
                provider: session.provider,
                code: Some(INVALID_GRANT.to_owned()),
                message: "refresh token refused (invalid_grant): the connection must be authorised again".into(),
                ..Default::default()
            }),
            Self::Refused(code) => session.error(format!("token refresh refused: {code}")),
            Self::Unreachable => ProviderError::Transient(ErrorDetail {
                provider: session.provider,
                message: "token endpoint unreachable".into(),
                ..Default::default()
            }),
            // An expired token that cannot be refreshed: as good as refused.
            Self::Missing(REFRESH) => ProviderError::Unauthorized(ErrorDetail {
                provider: session.provider,
                code: Some(INVALID_GRANT.to_owned()),
                message: "the connection has no refresh token: it must be authorised again".into(),
                ..Default::default()
            }),
            Self::Missing(what) => session.error(format!("connection has no {what}")),
            Self::Provider(error) => error,
        }
    }
}

fn now_secs() -> u64 {
    u64::try_from(SystemClock.now_secs()).unwrap_or(0)
}

fn expiring(expires_at: Option<u64>) -> bool {
    expires_at.is_some_and(|at| now_secs() + MARGIN.as_secs() >= at)
}
