//! Opening a connect session, and sending its browser to the provider.

use oauth2::{CsrfToken, PkceCodeChallenge};
use portage_core::apps::ProviderApp;
use portage_core::connect::{ConnectSession, SESSION_TTL_MS, SessionStatus, return_url_allowed};
use portage_core::{Secret, is_valid_connection};
use sha2::{Digest, Sha256};
use url::Url;

use super::{ConnectError, Connector, OAuthFlow, Place, piece};

/// What an app asks for (`POST /v1/connect/sessions`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The provider.
    pub provider: String,
    /// The connection the account becomes.
    pub connection: String,
    /// Where the browser is sent at the end.
    pub return_url: String,
    /// Shopify: the `*.myshopify.com` domain; WooCommerce: the store URL;
    /// Salesforce: a My Domain host.
    pub shop: Option<String>,
    /// Amazon: `na`, `eu` or `fe`; Salesforce: `login` or `test`.
    pub region: Option<String>,
    /// Scopes, instead of the app's.
    pub scopes: Option<Vec<String>>,
}

/// A session as the app sees it.
#[derive(Debug, Clone)]
pub struct CreatedSession {
    /// Its id.
    pub id: String,
    /// Where the app sends its user's browser (once).
    pub url: String,
    /// When the URL stops working, Unix ms.
    pub expires_at_ms: i64,
}

/// The scopes a session asks for: its own, else the app's, else the provider's defaults.
pub(crate) fn asked_scopes(flow: &OAuthFlow, session: &ConnectSession, app: &ProviderApp) -> Vec<String> {
    match (session.scopes.is_empty(), app.scopes.is_empty()) {
        (false, _) => session.scopes.clone(),
        (true, false) => app.scopes.clone(),
        (true, true) => flow.default_scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The SHA-256 of a state, as stored: a leaked table holds no usable state.
pub(crate) fn digest(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

fn valid_scope(scope: &str) -> bool {
    !scope.is_empty() && scope.len() <= 200 && scope.chars().all(|c| c.is_ascii_alphanumeric() || "._:/-".contains(c))
}

/// Whether `url` is a WooCommerce store URL Portage may send a browser to:
/// https on the default port, a host name (no address, no user info).
pub(crate) fn is_store_url(url: &str) -> bool {
    let Ok(parsed) = Url::parse(url) else { return false };
    parsed.scheme() == "https"
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.port().is_none()
        && parsed.query().is_none()
        && parsed.fragment().is_none()
        && matches!(parsed.host(), Some(url::Host::Domain(host)) if host.contains('.') && !host.ends_with(".localhost"))
}

impl Connector {
    /// Opens a session: checks the request, and that an app is registered.
    pub async fn create_session(&self, request: SessionRequest) -> Result<CreatedSession, ConnectError> {
        let piece = piece(&request.provider)?;
        if !is_valid_connection(&request.connection) {
            return Err(ConnectError::InvalidConnection);
        }
        if !return_url_allowed(&request.return_url, &self.settings.return_urls) {
            return Err(ConnectError::ReturnUrlNotAllowed);
        }
        let place = Place { shop: request.shop.as_deref(), region: request.region.as_deref() };
        match (piece.oauth, piece.wc_keys) {
            (Some(flow), _) => (flow.check_place)(&place)?,
            (None, true) => {
                if !request.shop.as_deref().is_some_and(is_store_url) {
                    return Err(ConnectError::InvalidShop);
                }
                if request.region.is_some() {
                    return Err(ConnectError::InvalidRegion);
                }
            }
            (None, false) => return Err(ConnectError::NotConnectable),
        }
        let scopes = request.scopes.unwrap_or_default();
        if !scopes.iter().all(|s| valid_scope(s)) {
            return Err(ConnectError::InvalidScopes);
        }
        if piece.oauth.is_some() && ProviderApp::load(self.secrets.as_ref(), &request.provider).await?.is_none() {
            return Err(ConnectError::NoProviderApp);
        }
        let base = self.public_base()?.to_owned();
        let now = self.clock.now_ms();
        let id = format!("cs_{}", hex::encode(rand::random::<[u8; 16]>()));
        let session = ConnectSession {
            id: id.clone(),
            provider: request.provider,
            connection: request.connection,
            return_url: request.return_url,
            shop: request.shop,
            region: request.region,
            scopes,
            status: SessionStatus::Open,
            state_digest: None,
            verifier: None,
            created_at_ms: now,
            expires_at_ms: now + SESSION_TTL_MS,
        };
        self.store.create_session(&session).await?;
        Ok(CreatedSession { url: format!("{base}/connect/sessions/{id}"), id, expires_at_ms: session.expires_at_ms })
    }

    /// Follows a session's URL, once: binds a fresh state (and PKCE
    /// verifier) to it and answers where the browser goes next.
    pub async fn start(&self, id: &str) -> Result<String, ConnectError> {
        let session = self.store.session(id).await?.ok_or(ConnectError::SessionNotFound)?;
        let now = self.clock.now_ms();
        if session.status != SessionStatus::Open || session.expired(now) {
            return Err(ConnectError::SessionUsed);
        }
        let piece = piece(&session.provider)?;
        let state = CsrfToken::new_random_len(32);
        let (challenge, verifier) = match piece.oauth {
            Some(flow) if flow.pkce => {
                let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
                (Some(challenge), Some(Secret::new(verifier.secret().clone())))
            }
            _ => (None, None),
        };
        let url = match piece.oauth {
            Some(flow) => self.authorization_url(flow, &session, state.secret(), challenge.as_ref()).await?,
            None => self.wc_authorize_url(&session)?,
        };
        if !self.store.start_session(id, &digest(state.secret()), verifier.as_ref(), now).await? {
            return Err(ConnectError::SessionUsed);
        }
        Ok(url)
    }

    async fn authorization_url(
        &self,
        flow: &OAuthFlow,
        session: &ConnectSession,
        state: &str,
        challenge: Option<&PkceCodeChallenge>,
    ) -> Result<String, ConnectError> {
        let app =
            ProviderApp::load(self.secrets.as_ref(), &session.provider).await?.ok_or(ConnectError::NoProviderApp)?;
        let place = Place { shop: session.shop.as_deref(), region: session.region.as_deref() };
        let endpoints = (flow.endpoints)(&place);
        let redirect = self.redirect_uri(flow, &app, &session.provider)?;
        let mut url = self.origins.resolve(&endpoints.authorize);
        {
            let mut query = url.query_pairs_mut();
            if let Some(param) = flow.client_id_param {
                query.append_pair(param, &app.client_id);
            }
            if let Some(extra) = flow.authorize_params {
                for (name, value) in extra(&app, &redirect) {
                    query.append_pair(name, &value);
                }
            }
            query.append_pair(flow.redirect_param, &redirect);
            if flow.response_type {
                query.append_pair("response_type", "code");
            }
            if let Some(separator) = flow.scope_separator {
                query.append_pair("scope", &asked_scopes(flow, session, &app).join(separator));
            }
            query.append_pair("state", state);
            if let Some(challenge) = challenge {
                query.append_pair("code_challenge", challenge.as_str());
                query.append_pair("code_challenge_method", "S256");
            }
            for (name, value) in flow.authorize_extra {
                query.append_pair(name, value);
            }
        }
        Ok(url.into())
    }

    /// The `redirect_uri` of a flow: Portage's callback, or the app's own
    /// (eBay's RuName).
    pub(crate) fn redirect_uri(
        &self,
        flow: &OAuthFlow,
        app: &ProviderApp,
        provider: &str,
    ) -> Result<String, ConnectError> {
        if flow.app_redirect {
            return app.redirect_uri.clone().ok_or(ConnectError::NoProviderApp);
        }
        self.callback_url(provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_are_public_https_hosts() {
        for good in ["https://shop.example.com", "https://example.com/wordpress"] {
            assert!(is_store_url(good), "{good}");
        }
        for bad in [
            "http://shop.example.com",
            "https://127.0.0.1",
            "https://[::1]/",
            "https://localhost",
            "https://user@shop.example.com",
            "https://shop.example.com:8443",
            "https://a.localhost",
            "javascript:alert(1)",
            "https://shop.example.com/?x=1",
        ] {
            assert!(!is_store_url(bad), "{bad}");
        }
        assert!(valid_scope("https://api.ebay.com/oauth/api_scope/sell.inventory"));
        assert!(!valid_scope("a b") && !valid_scope("a&b=c") && !valid_scope(""));
    }
}
