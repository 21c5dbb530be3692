//! The provider's answer: `GET /connect/{provider}/callback`.
//!
//! The state is checked first (unknown, used, expired or another
//! provider's: refused, nothing stored), then the provider's own extras;
//! only then is the session finished (once, however many callbacks race)
//! and the code exchanged. Whatever happens after the state is accepted
//! ends at the app's return URL, with `status=connected` or
//! `status=error&error=CODE`.

use portage_client::{ClientCredentials, Grant, TokenAnswer, TokenEndpoint, TokenError, request_token};
use portage_core::Secret;
use portage_core::apps::ProviderApp;
use portage_core::connect::{AuthKind, ConnectSession, ConnectionRecord, SessionStatus};
use serde_json::{Value, json};
use tracing::{info, warn};
use url::Url;

use super::authorize::digest;
use super::{CallbackCheck, ConnectError, Connector, OAuthFlow, Place, piece};

/// A provider's error code as it may appear in a URL: lower-case letters,
/// digits and underscores, else `provider_error`.
fn safe_code(code: &str) -> String {
    let clean = !code.is_empty()
        && code.len() <= 64
        && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if clean { code.to_owned() } else { "provider_error".to_owned() }
}

/// The value of a query parameter (the first, if repeated).
pub(crate) fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

impl Connector {
    /// Handles a callback; answers the URL the browser is sent back to.
    pub async fn callback(&self, provider: &str, query: &[(String, String)]) -> Result<String, ConnectError> {
        let session = self.session_for_callback(provider, param(query, "state")).await?;
        let flow = piece(provider)?.oauth.ok_or(ConnectError::InvalidState)?;
        let app = ProviderApp::load(self.secrets.as_ref(), provider).await?.ok_or(ConnectError::NoProviderApp)?;
        if let Some(check) = flow.check_callback {
            check(&CallbackCheck {
                query,
                shop: session.shop.as_deref(),
                client_secret: app.client_secret.expose(),
                now_secs: self.clock.now_secs(),
            })?;
        }
        if !self.store.finish_session(&session.id).await? {
            return Err(ConnectError::InvalidState);
        }
        if let Some(error) = param(query, "error") {
            info!(provider, connection = %session.connection, error = %safe_code(error), "authorization declined");
            return Ok(back(&session, Err(&safe_code(error))));
        }
        let Some(code) = param(query, flow.code_param).filter(|c| !c.is_empty()) else {
            return Ok(back(&session, Err("missing_code")));
        };
        let mut kept = Vec::new();
        for name in flow.callback_keep {
            match param(query, name).filter(|v| !v.is_empty()) {
                Some(value) => kept.push(((*name).to_owned(), Secret::new(value))),
                None => return Ok(back(&session, Err(&format!("missing_{name}")))),
            }
        }
        let answer = match self.exchange(flow, &app, &session, code).await {
            Ok(answer) => answer,
            Err(error) => {
                let code = match &error {
                    TokenError::Refused(code) => safe_code(code),
                    TokenError::Unreachable => "provider_unavailable".to_owned(),
                    TokenError::Malformed => "exchange_failed".to_owned(),
                };
                warn!(provider, connection = %session.connection, error = %code, "code exchange failed: nothing stored");
                return Ok(back(&session, Err(&code)));
            }
        };
        let asked = super::authorize::asked_scopes(flow, &session, &app);
        self.save_tokens(flow, &session, answer, asked, kept).await?;
        Ok(back(&session, Ok(())))
    }

    /// The started, unexpired session of `provider` whose state this is.
    pub(crate) async fn session_for_callback(
        &self,
        provider: &str,
        state: Option<&str>,
    ) -> Result<ConnectSession, ConnectError> {
        let state = state.filter(|s| !s.is_empty()).ok_or(ConnectError::InvalidState)?;
        let session = self.store.session_for_state(&digest(state)).await?.ok_or(ConnectError::InvalidState)?;
        let usable = session.provider == provider
            && session.status == SessionStatus::Started
            && !session.expired(self.clock.now_ms());
        if usable { Ok(session) } else { Err(ConnectError::InvalidState) }
    }

    /// The token endpoint of a place, with its host's override.
    pub(crate) fn token_endpoint(&self, flow: &OAuthFlow, place: &Place<'_>) -> TokenEndpoint {
        (flow.endpoints)(place).token.through(&self.origins)
    }

    async fn exchange(
        &self,
        flow: &OAuthFlow,
        app: &ProviderApp,
        session: &ConnectSession,
        code: &str,
    ) -> Result<TokenAnswer, TokenError> {
        let redirect = self.redirect_uri(flow, app, &session.provider).map_err(|_| TokenError::Malformed)?;
        let client = ClientCredentials { id: app.client_id.clone(), secret: app.client_secret.clone() };
        let grant = Grant::Code { code, redirect_uri: &redirect, verifier: session.verifier.as_ref() };
        let now = u64::try_from(self.clock.now_secs()).unwrap_or(0);
        let place = Place { shop: session.shop.as_deref(), region: session.region.as_deref() };
        request_token(&self.http, &self.token_endpoint(flow, &place), &client, &grant, now).await
    }

    /// Saves the tokens and extras as the connection's secrets, then its
    /// record, then tells the app.
    async fn save_tokens(
        &self,
        flow: &OAuthFlow,
        session: &ConnectSession,
        answer: TokenAnswer,
        asked: Vec<String>,
        mut values: Vec<(String, Secret)>,
    ) -> Result<(), ConnectError> {
        let now_ms = self.clock.now_ms();
        let now_secs = u64::try_from(self.clock.now_secs()).unwrap_or(0);
        let refresh_expires_at = answer.refresh_expires_at.or_else(|| {
            answer.refresh_token.as_ref().and(flow.refresh_lifetime).map(|lifetime| now_secs + lifetime.as_secs())
        });
        let text = |at: Option<u64>| Secret::new(at.map(|a| a.to_string()).unwrap_or_default());
        values.push(("access_token".into(), answer.access_token));
        values.push(("access_token_expires_at".into(), text(answer.expires_at)));
        values.push(("refresh_token_expires_at".into(), text(refresh_expires_at)));
        if let Some(refresh) = answer.refresh_token {
            values.push(("refresh_token".into(), refresh));
        }
        for (name, value) in [("shop", &session.shop), ("region", &session.region)] {
            if let Some(value) = value {
                values.push((name.into(), Secret::new(value.clone())));
            }
        }
        for name in flow.token_keep {
            match answer.extra.get(*name) {
                Some(Value::String(v)) => values.push(((*name).into(), Secret::new(v.clone()))),
                Some(Value::Number(v)) => values.push(((*name).into(), Secret::new(v.to_string()))),
                _ => {}
            }
        }
        let scopes = answer.scopes.unwrap_or(asked);
        values.push(("scope".into(), Secret::new(scopes.join(" "))));
        self.secrets.put(&session.provider, &session.connection, &values).await?;
        let to_ms = |at: Option<u64>| at.and_then(|a| i64::try_from(a).ok()).map(|a| a * 1000);
        let record = ConnectionRecord {
            expires_at_ms: to_ms(answer.expires_at),
            refresh_expires_at_ms: to_ms(refresh_expires_at),
            ..ConnectionRecord::connected(&session.provider, &session.connection, AuthKind::Oauth2, scopes, now_ms)
        };
        self.connected(record).await
    }

    /// Records a connection as connected and tells the app.
    pub(crate) async fn connected(&self, record: ConnectionRecord) -> Result<(), ConnectError> {
        self.store.put_connection(&record).await?;
        info!(provider = %record.provider, connection = %record.connection, auth = ?record.auth, "connected");
        let data = json!({
            "provider": record.provider,
            "connection": record.connection,
            "auth": record.auth,
            "scopes": record.scopes,
        });
        self.notifier.publish("connection.connected", data).await;
        let pulls = piece(&record.provider)?.oauth.is_some_and(|flow| !flow.metadata.is_empty());
        if let (true, Some(queue)) = (pulls, &self.queue) {
            let task = portage_core::Task::Metadata {
                provider: record.provider.clone(),
                connection: record.connection.clone(),
            };
            // The connection stands without it; the next connect or an operator pulls again.
            if let Err(error) = queue.send(&[task]).await {
                warn!(provider = %record.provider, connection = %record.connection, %error, "metadata pull not queued");
            }
        }
        Ok(())
    }
}

/// The app's return URL with the outcome.
pub(crate) fn back(session: &ConnectSession, outcome: Result<(), &str>) -> String {
    let Ok(mut url) = Url::parse(&session.return_url) else { return session.return_url.clone() };
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("provider", &session.provider).append_pair("connection", &session.connection);
        match outcome {
            Ok(()) => query.append_pair("status", "connected"),
            Err(code) => query.append_pair("status", "error").append_pair("error", code),
        };
    }
    url.into()
}
