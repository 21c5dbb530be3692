//! Keeping OAuth connections alive: the scheduler's pass refreshes access
//! tokens ahead of expiry (under the refresh lease, so concurrent workers
//! refresh once; a rotated refresh token is saved before the old one is
//! dropped, by [`portage_client::OAuthSession`]); a refused refresh
//! (`invalid_grant`) moves the connection to `needs_reauth` and tells the
//! app once; a refresh token with a known end tells `connection.expiring`
//! 14 days before it.

use std::time::Duration;

use portage_client::{INVALID_GRANT, OAuthSession, ProviderError};
use portage_core::connect::{AuthKind, ConnectionRecord, ConnectionStatus};
use serde_json::json;
use tracing::{info, warn};

use super::{ConnectError, Connector, Place, piece};

/// How far ahead of its expiry the scheduler refreshes an access token:
/// more than the deployed schedule's 15 minutes between passes, so a token
/// is refreshed before it expires even if a pass is late.
pub const REFRESH_AHEAD: Duration = Duration::from_secs(20 * 60);
/// How long before a refresh token's end `connection.expiring` is sent.
pub const EXPIRING_NOTICE: Duration = Duration::from_secs(14 * 86_400);

/// What a pass did, by `provider/connection`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Tokens refreshed.
    pub refreshed: Vec<String>,
    /// Connections whose refresh was refused: the user must connect again.
    pub needs_reauth: Vec<String>,
    /// Connections told their authorisation ends soon.
    pub expiring: Vec<String>,
    /// Refreshes that failed otherwise (retried on the next pass).
    pub failed: Vec<String>,
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Connector {
    /// One pass over the registry.
    pub async fn refresh_due(&self) -> Result<RefreshReport, ConnectError> {
        let mut report = RefreshReport::default();
        let now = self.clock.now_ms();
        for record in self.store.connections(None).await? {
            let name = format!("{}/{}", record.provider, record.connection);
            if record.auth != AuthKind::Oauth2
                || !matches!(record.status, ConnectionStatus::Connected | ConnectionStatus::Error)
            {
                continue;
            }
            let ending = record.refresh_expires_at_ms.is_some_and(|end| end - now <= ms(EXPIRING_NOTICE));
            if ending && record.expiring_notified_at_ms.is_none() && self.tell_expiring(&record).await? {
                report.expiring.push(name.clone());
            }
            if record.expires_at_ms.is_none_or(|at| at - now > ms(REFRESH_AHEAD)) {
                continue;
            }
            match self.refresh_record(record).await {
                Ok(true) => report.refreshed.push(name),
                Ok(false) => {}
                Err(ConnectError::InvalidCredentials) => report.needs_reauth.push(name),
                Err(error) => {
                    warn!(connection = %name, %error, "token refresh failed; retried on the next pass");
                    report.failed.push(name);
                }
            }
        }
        Ok(report)
    }

    async fn tell_expiring(&self, record: &ConnectionRecord) -> Result<bool, ConnectError> {
        let mut told = record.clone();
        told.expiring_notified_at_ms = Some(self.clock.now_ms());
        if !self.store.move_connection(&told, record.status).await? {
            return Ok(false);
        }
        let ends_at = record.refresh_expires_at_ms.map(portage_core::rfc3339_ms);
        let data =
            json!({ "provider": record.provider, "connection": record.connection, "refresh_expires_at": ends_at });
        self.notifier.publish("connection.expiring", data).await;
        Ok(true)
    }

    /// Refreshes one connection's token if it expires within
    /// [`REFRESH_AHEAD`]; answers whether a fresh token was made. A refused
    /// refresh is `InvalidCredentials`, after the connection was moved to
    /// `needs_reauth` (and the app told, by the one worker that moved it).
    async fn refresh_record(&self, mut record: ConnectionRecord) -> Result<bool, ConnectError> {
        let capabilities = crate::capabilities().into_iter().find(|c| c.provider == record.provider);
        let provider = capabilities.map(|c| c.provider).ok_or(ConnectError::UnknownProvider)?;
        let flow = piece(provider)?.oauth.ok_or(ConnectError::NotConnectable)?;
        let secret = |key: &'static str| self.secrets.get(provider, &record.connection, key);
        let shop = secret("shop").await?.map(|s| s.expose().to_owned());
        let region = secret("region").await?.map(|s| s.expose().to_owned());
        let endpoint = self.token_endpoint(flow, &Place { shop: shop.as_deref(), region: region.as_deref() });
        let before = secret("refresh_token").await?;
        let mut session =
            OAuthSession::new(provider, &record.connection, endpoint, self.secrets.clone(), self.http.clone());
        if let Some((leases, holder)) = &self.lease {
            session = session.with_lease(leases.clone(), holder.clone());
        }
        let previous = record.status;
        match session.refresh_ahead(REFRESH_AHEAD).await {
            Ok(false) => Ok(false),
            Ok(true) => {
                let now = self.clock.now_ms();
                let read_ms = |value: Option<portage_core::Secret>| {
                    value.and_then(|v| v.expose().parse::<i64>().ok()).map(|secs| secs * 1000)
                };
                record.expires_at_ms = read_ms(secret("access_token_expires_at").await?);
                let rotated = secret("refresh_token").await? != before;
                if rotated {
                    record.refresh_expires_at_ms = read_ms(secret("refresh_token_expires_at").await?)
                        .or_else(|| flow.refresh_lifetime.map(|lifetime| now + ms(lifetime)))
                        .or(record.refresh_expires_at_ms);
                    record.expiring_notified_at_ms = None;
                }
                record.last_refreshed_at_ms = Some(now);
                record.status = ConnectionStatus::Connected;
                record.last_error = None;
                self.store.move_connection(&record, previous).await?;
                info!(provider, connection = %record.connection, rotated, "token refreshed ahead of expiry");
                Ok(true)
            }
            Err(ProviderError::Unauthorized(detail)) if detail.code.as_deref() == Some(INVALID_GRANT) => {
                record.status = ConnectionStatus::NeedsReauth;
                record.last_error = Some(INVALID_GRANT.to_owned());
                if self.store.move_connection(&record, previous).await? {
                    warn!(provider, connection = %record.connection, "refresh refused: the connection needs authorising again");
                    let data = json!({ "provider": provider, "connection": record.connection, "error": INVALID_GRANT });
                    self.notifier.publish("connection.needs_reauth", data).await;
                }
                Err(ConnectError::InvalidCredentials)
            }
            Err(ProviderError::Unauthorized(detail)) => {
                record.status = ConnectionStatus::Error;
                record.last_error = Some(detail.code.unwrap_or_else(|| "refresh_refused".to_owned()));
                self.store.move_connection(&record, previous).await?;
                Err(ConnectError::ProviderUnavailable)
            }
            Err(_) => Err(ConnectError::ProviderUnavailable),
        }
    }
}
