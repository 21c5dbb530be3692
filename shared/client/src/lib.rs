//! Portage's outbound HTTP to providers.
//!
//! - [`ApiClient`]: every call to a provider's API, through its [`Policy`]:
//!   authentication, an adaptive [`RateLimiter`], a [`CircuitBreaker`], retries
//!   ([`RetryPolicy`]), one [`ProviderError`], [`pagination`] as streams, and
//!   [`Metrics`]. Each provider's policy lives in its own module.
//! - [`HttpSigningKeys`]: the adapter of the core's `SigningKeys` port, which
//!   fetches and caches the keys PayPal and eBay deliveries name.
//! - [`Origins`]: the one place a provider's host can be pointed elsewhere (a
//!   sandbox, a test fake).

mod breaker;
mod certificate;
mod client;
mod error;
mod metrics;
mod oauth;
mod origins;
pub mod pagination;
mod policy;
mod pool;
mod rate_limit;
mod retry;
mod signing_keys;
mod token;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use client::{ApiClient, ApiRequest, ApiResponse, http_client, http_client_with_timeout, token_http_client};
pub use error::{ErrorDetail, FieldError, ProviderError, short_message};
pub use metrics::Metrics;
pub use oauth::{INVALID_GRANT, OAuthSession};
pub use origins::{Origins, OriginsError};
pub use policy::{Credentials, Policy, header, header_number};
pub use pool::{ClientPool, CredentialSource};
pub use rate_limit::{Limit, Observation, RateLimiter};
pub use retry::{RetryPolicy, retry_after};
pub use signing_keys::{ConfigError, HttpSigningKeys};
pub use token::{
    ClientAuth, ClientCredentials, Grant, TokenAnswer, TokenEncoding, TokenEndpoint, TokenError, request_token,
};

/// `Portage/<version>`: the user agent of every outbound request.
pub const USER_AGENT: &str = concat!("Portage/", env!("CARGO_PKG_VERSION"));
