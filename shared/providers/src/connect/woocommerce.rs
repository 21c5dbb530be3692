//! WooCommerce's own key delivery (`/wc-auth/v1/authorize`): the browser is
//! sent to the store with the session's id as `user_id`; the store POSTs
//! the new consumer key and secret to Portage's callback, and then sends the
//! browser to the same callback with `success` and `user_id`.
//!
//! Keys are accepted only for a started, unexpired WooCommerce session
//! whose id came back as `user_id`, and only once they work against that
//! session's store URL (one authenticated call).

use portage_core::Secret;
use portage_core::connect::{AuthKind, ConnectionRecord, ConnectionStatus, SessionStatus};
use serde::Deserialize;
use url::Url;

use super::callback::{back, param};
use super::{ConnectError, Connector, KeyInput};

const PROVIDER: &str = "woocommerce";

/// The store's POST to the callback.
#[derive(Debug, Deserialize)]
pub struct DeliveredKeys {
    /// The session's id, as sent.
    pub user_id: serde_json::Value,
    /// The consumer key.
    pub consumer_key: String,
    /// The consumer secret.
    pub consumer_secret: String,
    /// `read`, `write` or `read_write`.
    #[serde(default)]
    pub key_permissions: Option<String>,
}

impl Connector {
    /// The store's authorization URL for a session.
    pub(crate) fn wc_authorize_url(
        &self,
        session: &portage_core::connect::ConnectSession,
    ) -> Result<String, ConnectError> {
        let store = session.shop.as_deref().ok_or(ConnectError::InvalidShop)?;
        let callback = self.callback_url(PROVIDER)?;
        let mut url = Url::parse(&format!("{}/wc-auth/v1/authorize", store.trim_end_matches('/')))
            .map_err(|_| ConnectError::InvalidShop)?;
        url = self.origins.resolve(&url);
        url.query_pairs_mut()
            .append_pair("app_name", "Portage")
            .append_pair("scope", "read_write")
            .append_pair("user_id", &session.id)
            .append_pair("return_url", &callback)
            .append_pair("callback_url", &callback);
        Ok(url.into())
    }

    /// Accepts a store's key delivery.
    pub async fn wc_keys(&self, keys: DeliveredKeys) -> Result<(), ConnectError> {
        let id = match &keys.user_id {
            serde_json::Value::String(id) => id.clone(),
            other => other.to_string(),
        };
        let session = self.store.session(&id).await?.ok_or(ConnectError::InvalidState)?;
        let live = session.provider == PROVIDER
            && session.status == SessionStatus::Started
            && !session.expired(self.clock.now_ms());
        if !live {
            return Err(ConnectError::InvalidState);
        }
        let store = session.shop.clone().ok_or(ConnectError::InvalidShop)?;
        if keys.consumer_key.is_empty() || keys.consumer_secret.is_empty() {
            return Err(ConnectError::InvalidCredentials);
        }
        self.public_store(&store).await?;
        let base = Url::parse(&store).map_err(|_| ConnectError::InvalidShop)?;
        // The same call that checks keys typed by hand.
        let delivered = std::collections::BTreeMap::from([
            ("consumer_key".to_owned(), keys.consumer_key.clone()),
            ("consumer_secret".to_owned(), keys.consumer_secret.clone()),
        ]);
        let probe = (crate::woocommerce::KEYS.probe)(&KeyInput::new(&delivered));
        self.probe(&self.origins.resolve(&base), &probe).await?;
        if !self.store.finish_session(&session.id).await? {
            return Err(ConnectError::InvalidState);
        }
        let values = [
            ("consumer_key".to_owned(), Secret::new(keys.consumer_key)),
            ("consumer_secret".to_owned(), Secret::new(keys.consumer_secret)),
            ("base_url".to_owned(), Secret::new(store.trim_end_matches('/'))),
        ];
        self.secrets.put(PROVIDER, &session.connection, &values).await?;
        let scopes = keys.key_permissions.into_iter().collect();
        let now = self.clock.now_ms();
        self.connected(ConnectionRecord::connected(PROVIDER, &session.connection, AuthKind::WcKeys, scopes, now)).await
    }

    /// The browser's return from the store (`?success=…&user_id=…`).
    pub async fn wc_return(&self, query: &[(String, String)]) -> Result<String, ConnectError> {
        let id = param(query, "user_id").ok_or(ConnectError::InvalidState)?;
        let session =
            self.store.session(id).await?.filter(|s| s.provider == PROVIDER).ok_or(ConnectError::InvalidState)?;
        match session.status {
            SessionStatus::Open => Err(ConnectError::InvalidState),
            SessionStatus::Started => {
                // Declined, or the keys never came: the session ends here.
                if !self.store.finish_session(&session.id).await? {
                    return Err(ConnectError::InvalidState);
                }
                let code = if param(query, "success") == Some("0") { "access_denied" } else { "keys_not_delivered" };
                Ok(back(&session, Err(code)))
            }
            SessionStatus::Finished => {
                let record = self.store.connection(PROVIDER, &session.connection).await?;
                let delivered = record.is_some_and(|r| {
                    r.auth == AuthKind::WcKeys
                        && r.status == ConnectionStatus::Connected
                        && r.connected_at_ms >= session.created_at_ms
                });
                Ok(back(&session, if delivered { Ok(()) } else { Err("keys_not_delivered") }))
            }
        }
    }
}
