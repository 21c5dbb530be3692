//! Provider apps: Portage's own registration at a provider (its OAuth
//! client), made once by the operator and used by every tenant's connect
//! flow. An app is kept through the secrets port under the reserved
//! namespace [`APPS`]: on AWS the Secrets Manager secret
//! `{prefix}apps/{provider}`, locally `[connections.apps.{provider}]` of the
//! secrets file. No provider is named `apps`, so no connection's secrets
//! meet an app's.

use thiserror::Error;

use crate::ports::Secrets;
use crate::{Secret, StoreError};

/// The secrets namespace apps are kept under, in the provider's place.
pub const APPS: &str = "apps";

/// The keys an app has: the first two are required. Amazon's consent URL
/// names the app by its `application_id` (not its LWA client id), and a
/// draft app's by `draft=true` (`version=beta`).
pub const APP_KEYS: [&str; 6] = ["client_id", "client_secret", "redirect_uri", "scopes", "application_id", "draft"];

/// Why an app's settings were refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AppError {
    /// A key that is not one of [`APP_KEYS`].
    #[error("unknown app setting '{0}' (client_id, client_secret, redirect_uri, scopes, application_id, draft)")]
    UnknownKey(String),
    /// `client_id` or `client_secret` is missing or empty.
    #[error("an app needs a non-empty {0}")]
    Missing(&'static str),
    /// A `redirect_uri` that is not an https URL (eBay's RuName excepted).
    #[error("redirect_uri must be an https URL (for eBay: the RuName)")]
    BadRedirect,
}

/// Portage's app at one provider, as its connect flows read it.
#[derive(Debug, Clone)]
pub struct ProviderApp {
    /// The OAuth client id (Etsy: the keystring).
    pub client_id: String,
    /// The OAuth client secret (Etsy: the shared secret).
    pub client_secret: Secret,
    /// Where the provider sends the browser back, when not Portage's own
    /// route (eBay: the RuName).
    pub redirect_uri: Option<String>,
    /// Scopes asked for when a session names none.
    pub scopes: Vec<String>,
    /// Amazon: the SP-API application id the consent URL names.
    pub application_id: Option<String>,
    /// Amazon: a draft app, authorised with `version=beta`.
    pub draft: bool,
}

/// Checks an app's settings for `provider` (a full set: an app is replaced
/// whole, so a stale `redirect_uri` never lingers).
pub fn validate(provider: &str, values: &[(String, Secret)]) -> Result<(), AppError> {
    if let Some((key, _)) = values.iter().find(|(key, _)| !APP_KEYS.contains(&key.as_str())) {
        return Err(AppError::UnknownKey(key.clone()));
    }
    let value = |name: &str| values.iter().rev().find(|(key, _)| key == name).map(|(_, v)| v.expose());
    for required in ["client_id", "client_secret"] {
        if value(required).is_none_or(|v| v.trim().is_empty()) {
            return Err(AppError::Missing(required));
        }
    }
    match value("redirect_uri") {
        // eBay's redirect_uri is a RuName, a name rather than a URL.
        Some(_) if provider == "ebay" => Ok(()),
        Some(uri) if !uri.starts_with("https://") || uri.len() <= "https://".len() => Err(AppError::BadRedirect),
        _ => Ok(()),
    }
}

impl ProviderApp {
    /// The app registered for `provider`, if there is one.
    pub async fn load(secrets: &dyn Secrets, provider: &str) -> Result<Option<Self>, StoreError> {
        // A setting cleared when the app was replaced is stored empty.
        let setting = async |key: &str| -> Result<Option<Secret>, StoreError> {
            Ok(secrets.get(APPS, provider, key).await?.filter(|value| !value.expose().is_empty()))
        };
        let (Some(client_id), Some(client_secret)) = (setting("client_id").await?, setting("client_secret").await?)
        else {
            return Ok(None);
        };
        let redirect_uri = setting("redirect_uri").await?.map(|s| s.expose().to_owned());
        let scopes = setting("scopes").await?;
        let scopes = scopes
            .map(|s| s.expose().split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        let application_id = setting("application_id").await?.map(|s| s.expose().to_owned());
        let draft = setting("draft").await?.is_some_and(|s| s.expose() == "true");
        Ok(Some(Self {
            client_id: client_id.expose().to_owned(),
            client_secret,
            redirect_uri,
            scopes,
            application_id,
            draft,
        }))
    }

    /// Etsy's `x-api-key` header: `keystring:shared_secret`.
    pub fn etsy_api_key(&self) -> Secret {
        Secret::new(format!("{}:{}", self.client_id, self.client_secret.expose()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, Secret)> {
        items.iter().map(|(k, v)| ((*k).to_owned(), Secret::new(*v))).collect()
    }

    #[test]
    fn settings_are_checked() {
        assert_eq!(validate("etsy", &pairs(&[("client_id", "k"), ("client_secret", "s")])), Ok(()));
        assert_eq!(validate("etsy", &pairs(&[("client_id", "k")])), Err(AppError::Missing("client_secret")));
        assert_eq!(validate("etsy", &pairs(&[("client_secret", "s")])), Err(AppError::Missing("client_id")));
        assert_eq!(
            validate("etsy", &pairs(&[("client_id", "k"), ("client_secret", "s"), ("token", "t")])),
            Err(AppError::UnknownKey("token".into()))
        );
        let app = |uri: &str| pairs(&[("client_id", "k"), ("client_secret", "s"), ("redirect_uri", uri)]);
        assert_eq!(validate("hubspot", &app("http://x.example/cb")), Err(AppError::BadRedirect));
        assert_eq!(validate("hubspot", &app("https://x.example/cb")), Ok(()));
        assert_eq!(validate("ebay", &app("Portage-Portage-PRD-1a2b3c")), Ok(()), "eBay's RuName");
    }
}
