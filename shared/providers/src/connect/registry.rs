//! Disconnecting: the token revoked at the provider where it offers
//! revocation, the connection's credentials deleted, its record kept as
//! `disconnected`, the app told.

use portage_core::apps::ProviderApp;
use portage_core::connect::{ConnectionRecord, ConnectionStatus};
use serde_json::json;
use tracing::{info, warn};
use url::Url;

use super::{ConnectError, Connector, Place, Revocation, piece};

impl Connector {
    /// Disconnects a connection; answers its record as it now is.
    pub async fn disconnect(&self, provider: &str, connection: &str) -> Result<ConnectionRecord, ConnectError> {
        let mut record = self.store.connection(provider, connection).await?.ok_or(ConnectError::ConnectionNotFound)?;
        if let Some(revocation) = piece(provider)?.oauth.and_then(|flow| flow.revocation) {
            match self.revoke(provider, connection, revocation).await {
                Ok(true) => info!(provider, connection, "token revoked at the provider"),
                Ok(false) => {}
                Err(error) => warn!(provider, connection, %error, "revocation failed; credentials deleted anyway"),
            }
        }
        self.secrets.delete(provider, connection).await?;
        record.status = ConnectionStatus::Disconnected;
        record.expires_at_ms = None;
        record.refresh_expires_at_ms = None;
        self.store.put_connection(&record).await?;
        let data = json!({ "provider": provider, "connection": connection });
        self.notifier.publish("connection.disconnected", data).await;
        Ok(record)
    }

    /// Revokes the connection's refresh token (else its access token);
    /// false when it has neither.
    async fn revoke(&self, provider: &str, connection: &str, revocation: Revocation) -> Result<bool, ConnectError> {
        let secret = |key: &'static str| self.secrets.get(provider, connection, key);
        let token = match secret("refresh_token").await?.filter(|t| !t.expose().is_empty()) {
            Some(token) => token,
            None => match secret("access_token").await?.filter(|t| !t.expose().is_empty()) {
                Some(token) => token,
                None => return Ok(false),
            },
        };
        let app = ProviderApp::load(self.secrets.as_ref(), provider).await?.ok_or(ConnectError::NoProviderApp)?;
        let shop = secret("shop").await?.map(|s| s.expose().to_owned());
        let region = secret("region").await?.map(|s| s.expose().to_owned());
        let place = Place { shop: shop.as_deref(), region: region.as_deref() };
        let resolve = |url: String| -> Result<String, ConnectError> {
            let parsed = Url::parse(&url).map_err(|_| ConnectError::ProviderUnavailable)?;
            Ok(self.origins.resolve(&parsed).into())
        };
        let request = match revocation {
            Revocation::Form { url, with_client } => {
                let mut form = vec![("token", token.expose().to_owned())];
                if with_client {
                    form.push(("client_id", app.client_id.clone()));
                    form.push(("client_secret", app.client_secret.expose().to_owned()));
                }
                self.http.post(resolve(url(&place))?).form(&form)
            }
            Revocation::GitHub => {
                let url = resolve(format!("https://api.github.com/applications/{}/token", app.client_id))?;
                let access = secret("access_token").await?.unwrap_or(token);
                self.http
                    .delete(url)
                    .basic_auth(&app.client_id, Some(app.client_secret.expose()))
                    .header(http::header::ACCEPT, "application/vnd.github+json")
                    .json(&json!({ "access_token": access.expose() }))
            }
        };
        let response = request.send().await.map_err(|_| ConnectError::ProviderUnavailable)?;
        if response.status().is_success() { Ok(true) } else { Err(ConnectError::ProviderUnavailable) }
    }
}
