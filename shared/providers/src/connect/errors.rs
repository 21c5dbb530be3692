//! Why a connect step was refused, each with the stable code the API and
//! the log carry.

use portage_core::StoreError;

/// Why a connect step was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No such provider.
    #[error("unknown provider")]
    UnknownProvider,
    /// The provider's accounts are not linked this way.
    #[error("this provider is not connected this way")]
    NotConnectable,
    /// The return URL is not on the allowlist.
    #[error("return_url is not one of the configured return URLs")]
    ReturnUrlNotAllowed,
    /// A shop that is not the provider's shop domain (or store URL).
    #[error("invalid shop")]
    InvalidShop,
    /// A region the provider does not have.
    #[error("invalid region")]
    InvalidRegion,
    /// A connection name that is not `[A-Za-z0-9_.-]{1,64}`.
    #[error("invalid connection name")]
    InvalidConnection,
    /// Scopes that are not plain tokens.
    #[error("invalid scopes")]
    InvalidScopes,
    /// The operator has registered no app at this provider (`portage apps set`).
    #[error("no provider app is registered for this provider")]
    NoProviderApp,
    /// `PORTAGE_PUBLIC_BASE_URL` is not set: no callback URL can be named.
    #[error("PORTAGE_PUBLIC_BASE_URL is not configured")]
    NoPublicBaseUrl,
    /// No session with this id.
    #[error("no such connect session")]
    SessionNotFound,
    /// The session's URL was already followed, or it expired.
    #[error("the connect session was already used or has expired")]
    SessionUsed,
    /// A callback whose state is unknown, used, expired or another provider's.
    #[error("invalid state")]
    InvalidState,
    /// A Shopify callback whose `hmac` does not verify, or is too old.
    #[error("invalid hmac")]
    InvalidHmac,
    /// A callback for another shop than the session's.
    #[error("the callback's shop is not the session's")]
    ShopMismatch,
    /// Credentials the provider refused (or that lack a field).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A `base_url` that is not a public https URL.
    #[error("invalid base_url")]
    InvalidBaseUrl,
    /// The provider could not be asked (unreachable, 5xx).
    #[error("the provider could not be reached")]
    ProviderUnavailable,
    /// No such connection.
    #[error("no such connection")]
    ConnectionNotFound,
    /// The store could not be reached.
    #[error("store unavailable: {0}")]
    Store(#[from] StoreError),
}

impl ConnectError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownProvider => "unknown_provider",
            Self::NotConnectable => "connect_not_supported",
            Self::ReturnUrlNotAllowed => "return_url_not_allowed",
            Self::InvalidShop => "invalid_shop",
            Self::InvalidRegion => "invalid_region",
            Self::InvalidConnection => "invalid_connection",
            Self::InvalidScopes => "invalid_scopes",
            Self::NoProviderApp => "no_provider_app",
            Self::NoPublicBaseUrl => "public_base_url_not_configured",
            Self::SessionNotFound => "session_not_found",
            Self::SessionUsed => "session_used",
            Self::InvalidState => "invalid_state",
            Self::InvalidHmac => "invalid_hmac",
            Self::ShopMismatch => "shop_mismatch",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidBaseUrl => "invalid_base_url",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::ConnectionNotFound => "connection_not_found",
            Self::Store(_) => "store_unavailable",
        }
    }
}
