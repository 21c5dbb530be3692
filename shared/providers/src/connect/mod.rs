//! Linking a tenant's account, the way each provider does it. What differs
//! per provider is data in its folder (`oauth.rs`: an [`OAuthFlow`]; `mod.rs`:
//! a [`KeyCheck`]); this module is the one flow over that data:
//!
//! - [`Connector::create_session`]: the app opens a session (return URL on
//!   the allowlist, Shopify shop checked, no host the user typed is called);
//! - [`Connector::start`]: its URL, followed once, binds a single-use state
//!   (256 random bits) and a PKCE S256 verifier and sends the browser on;
//! - [`Connector::callback`]: the provider's answer, checked (state, then
//!   the provider's extras), its code exchanged, tokens saved as the
//!   connection's secrets, the connection marked `connected`, the app told;
//! - WooCommerce's key delivery ([`Connector::wc_keys`]);
//! - API keys validated by one cheap call before they are saved ([`Connector::put_keys`]);
//! - disconnecting, with revocation where the provider offers it.

mod authorize;
mod callback;
mod errors;
mod keys;
pub mod metadata;
mod refresh;
mod registry;
mod woocommerce;

use std::sync::Arc;
use std::time::Duration;

use portage_client::{Origins, TokenEndpoint};
use portage_core::connect::ConnectStore;
use portage_core::notifications::Notifier;
use portage_core::ports::{Clock, Leases, Secrets};
use url::Url;

pub use authorize::{CreatedSession, SessionRequest};
pub use errors::ConnectError;
pub use keys::{KeyAuth, KeyCheck, KeyInput, KeyProbe};
pub use refresh::{EXPIRING_NOTICE, REFRESH_AHEAD, RefreshReport};
pub use woocommerce::DeliveredKeys;

/// Where a session's account lives, for providers whose hosts depend on it.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The session's `shop` (checked by [`OAuthFlow::check_place`] first).
    pub shop: Option<&'a str>,
    /// The session's `region`.
    pub region: Option<&'a str>,
}

/// Where the browser is sent and where codes are exchanged.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The authorization (or consent) URL, without its query.
    pub authorize: Url,
    /// The token endpoint.
    pub token: TokenEndpoint,
}

/// The parameters a callback brought, and what it is checked against.
pub struct CallbackCheck<'a> {
    /// The callback's query, in order, decoded.
    pub query: &'a [(String, String)],
    /// The session's shop.
    pub shop: Option<&'a str>,
    /// The app's client secret (Shopify signs callbacks with it).
    pub client_secret: &'a str,
    /// Now, Unix seconds.
    pub now_secs: i64,
}

/// How a provider revokes a token at disconnect.
#[derive(Debug, Clone, Copy)]
pub enum Revocation {
    /// `POST url` with a form `token=…` (RFC 7009), with the client's id and
    /// secret in the form when `with_client`.
    Form {
        /// The revocation endpoint, for a place.
        url: fn(&Place<'_>) -> String,
        /// Whether the client's credentials go in the form.
        with_client: bool,
    },
    /// GitHub's `DELETE /applications/{client_id}/token` with HTTP Basic and
    /// `{"access_token": …}`.
    GitHub,
}

/// Makes authorization-URL parameters from the app and the callback URL.
pub type AuthorizeParams = fn(&portage_core::apps::ProviderApp, &str) -> Vec<(&'static str, String)>;

/// A provider's own check of a callback.
pub type CheckCallback = fn(&CallbackCheck<'_>) -> Result<(), ConnectError>;

/// One provider's OAuth 2.0 authorization-code flow, as data.
#[derive(Clone, Copy)]
pub struct OAuthFlow {
    /// Checks a session's shop and region (the only user-given parts of a
    /// host), before anything else happens.
    pub check_place: fn(&Place<'_>) -> Result<(), ConnectError>,
    /// The endpoints for a checked place.
    pub endpoints: fn(&Place<'_>) -> Endpoints,
    /// The client id's parameter in the authorization URL (`client_id`;
    /// Printify `app_id`); `None` where `authorize_params` names the app.
    pub client_id_param: Option<&'static str>,
    /// Parameters of the authorization URL made from the app and the
    /// callback URL (Amazon's `application_id` and `version=beta`, Printify's
    /// `decline_url`).
    pub authorize_params: Option<AuthorizeParams>,
    /// The redirect's parameter in the authorization URL (`redirect_uri`;
    /// Printify `accept_url`).
    pub redirect_param: &'static str,
    /// Whether to send `response_type=code`.
    pub response_type: bool,
    /// Whether the provider takes PKCE (S256).
    pub pkce: bool,
    /// How scopes are joined (a space; Shopify a comma); `None` when the
    /// authorization URL names none (Amazon, Printify).
    pub scope_separator: Option<&'static str>,
    /// Scopes asked for when neither the session nor the app names any.
    pub default_scopes: &'static [&'static str],
    /// Fixed extra parameters of the authorization URL (Google's offline access).
    pub authorize_extra: &'static [(&'static str, &'static str)],
    /// The callback's code parameter (`code`; Amazon `spapi_oauth_code`).
    pub code_param: &'static str,
    /// Callback parameters kept as the connection's secrets, each required
    /// (Amazon `selling_partner_id`).
    pub callback_keep: &'static [&'static str],
    /// The provider's own check of a callback (Shopify's `hmac` and `shop`).
    pub check_callback: Option<CheckCallback>,
    /// Token-answer fields kept as the connection's secrets (Salesforce
    /// `instance_url`, HubSpot `hub_id`).
    pub token_keep: &'static [&'static str],
    /// How long a refresh token lives, where the provider fixes it and does
    /// not say in the answer (Etsy 90 days, Amazon's yearly re-authorisation).
    pub refresh_lifetime: Option<Duration>,
    /// How a token is revoked at disconnect, where the provider offers it.
    pub revocation: Option<Revocation>,
    /// Whether the app's `redirect_uri` replaces Portage's callback URL in
    /// the authorization request (eBay's RuName).
    pub app_redirect: bool,
    /// The post-connect metadata pull's calls.
    pub metadata: &'static [metadata::MetadataCall],
}

impl OAuthFlow {
    /// The common case, which a provider's flow changes where it differs:
    /// fixed hosts, `client_id` and `redirect_uri` in the authorization URL
    /// with `response_type=code`, PKCE, space-separated scopes, `code` in
    /// the callback; nothing kept, revoked or pulled.
    pub const fn standard(endpoints: fn(&Place<'_>) -> Endpoints) -> Self {
        Self {
            check_place: fixed_place,
            endpoints,
            client_id_param: Some("client_id"),
            authorize_params: None,
            redirect_param: "redirect_uri",
            response_type: true,
            pkce: true,
            scope_separator: Some(" "),
            default_scopes: &[],
            authorize_extra: &[],
            code_param: "code",
            callback_keep: &[],
            check_callback: None,
            token_keep: &[],
            refresh_lifetime: None,
            revocation: None,
            app_redirect: false,
            metadata: &[],
        }
    }
}

/// No place: the provider's hosts are fixed.
pub fn fixed_place(place: &Place<'_>) -> Result<(), ConnectError> {
    match (place.shop, place.region) {
        (None, None) => Ok(()),
        (Some(_), _) => Err(ConnectError::InvalidShop),
        (_, Some(_)) => Err(ConnectError::InvalidRegion),
    }
}

/// A URL from a provider's own fixed text.
pub(crate) fn fixed_url(text: &str) -> Url {
    Url::parse(text).unwrap_or_else(|_| unreachable!("a provider's fixed URL parses: {text}"))
}

/// What the flows are built with.
#[derive(Clone)]
pub struct ConnectSettings {
    /// `PORTAGE_PUBLIC_BASE_URL`: callbacks are `{it}/connect/{provider}/callback`.
    pub public_base_url: Option<String>,
    /// Allowed prefixes of return URLs (`[connect] return_urls`, `PORTAGE_CONNECT_RETURN_URLS`).
    pub return_urls: Vec<String>,
}

/// The return URLs `PORTAGE_CONNECT_RETURN_URLS` names (comma-separated),
/// what every deployment reads beside its own configuration.
pub fn return_urls_from_env() -> Vec<String> {
    let text = std::env::var("PORTAGE_CONNECT_RETURN_URLS").unwrap_or_default();
    text.split(',').map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).collect()
}

/// The connect flows over a deployment's ports.
pub struct Connector {
    store: Arc<dyn ConnectStore>,
    secrets: Arc<dyn Secrets>,
    http: reqwest::Client,
    origins: Origins,
    settings: ConnectSettings,
    notifier: Arc<Notifier>,
    clock: Arc<dyn Clock>,
    lease: Option<(Arc<dyn Leases>, String)>,
    queue: Option<Arc<dyn portage_core::ports::Queue>>,
}

impl Connector {
    /// Refreshes tokens under a lease in `leases`, held as `holder` (unique
    /// per process), so concurrent workers refresh a token once.
    pub fn with_leases(mut self, leases: Arc<dyn Leases>, holder: impl Into<String>) -> Self {
        self.lease = Some((leases, holder.into()));
        self
    }

    /// The flows; `http` must not follow redirects.
    pub fn new(
        store: Arc<dyn ConnectStore>,
        secrets: Arc<dyn Secrets>,
        http: reqwest::Client,
        origins: Origins,
        settings: ConnectSettings,
        notifier: Arc<Notifier>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { store, secrets, http, origins, settings, notifier, clock, lease: None, queue: None }
    }

    /// Queues each new connection's metadata pull on `queue`.
    pub fn with_queue(mut self, queue: Arc<dyn portage_core::ports::Queue>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// The registry of connections.
    pub fn store(&self) -> &Arc<dyn ConnectStore> {
        &self.store
    }

    fn public_base(&self) -> Result<&str, ConnectError> {
        self.settings.public_base_url.as_deref().map(|b| b.trim_end_matches('/')).ok_or(ConnectError::NoPublicBaseUrl)
    }

    /// Portage's callback URL for `provider`.
    fn callback_url(&self, provider: &str) -> Result<String, ConnectError> {
        Ok(format!("{}/connect/{provider}/callback", self.public_base()?))
    }
}

/// How a provider's accounts are linked.
fn piece(provider: &str) -> Result<crate::capabilities::ConnectPiece, ConnectError> {
    crate::capabilities()
        .into_iter()
        .find(|c| c.provider == provider)
        .ok_or(ConnectError::UnknownProvider)?
        .connect
        .ok_or(ConnectError::NotConnectable)
}
