//! What differs from one provider's API to the next, as data and a little
//! code: its base URL, its documented rate limit and the headers that
//! correct it, the shape of its error bodies, its idempotency header. Each
//! provider's policy lives beside its other code (`policies/`).

use http::{HeaderMap, HeaderName, HeaderValue};
use portage_core::Secret;

use crate::error::ProviderError;
use crate::pagination::Pagination;
use crate::rate_limit::{Limit, Observation};
use crate::retry::RetryPolicy;

/// How a request proves who sends it.
#[derive(Clone)]
pub enum Credentials {
    /// `Authorization: Bearer <token>` (Stripe secret keys, HubSpot private
    /// apps, Printify personal tokens, OAuth access tokens).
    Bearer(Secret),
    /// A key in a header of the provider's (`X-Shopify-Access-Token`, Etsy's
    /// `x-api-key` beside a bearer token).
    Header {
        /// The header.
        name: HeaderName,
        /// Its value.
        value: Secret,
        /// A bearer token sent with it, where the provider wants both.
        bearer: Option<Secret>,
    },
    /// An OAuth 2.0 access token, refreshed when it expires or is refused.
    OAuth(std::sync::Arc<crate::oauth::OAuthSession>),
    /// HTTP Basic (WooCommerce's consumer key and secret, Twilio's SID and token).
    Basic {
        /// The user.
        user: Secret,
        /// The password.
        password: Secret,
    },
}

/// One provider's API, described.
pub trait Policy: Send + Sync {
    /// The provider's name.
    fn provider(&self) -> &'static str;

    /// The production base URL (a connection may override it: a shop's own
    /// domain, a sandbox, a test fake).
    fn base_url(&self) -> &str;

    /// The documented limit the bucket starts from.
    fn limit(&self) -> Limit;

    /// What a response's headers say about the budget (a 429's wait among
    /// them); nothing for providers that send no budget headers.
    fn observe(&self, status: u16, headers: &HeaderMap) -> Observation {
        let _ = (status, headers);
        Observation::default()
    }

    /// What a successful response's body says about the budget, where the
    /// provider reports it there (Shopify GraphQL's `extensions.cost`).
    fn observe_body(&self, body: &[u8]) -> Option<Observation> {
        let _ = body;
        None
    }

    /// A failed response as a [`ProviderError`], its body read as the
    /// provider documents it.
    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError;

    /// How the provider pages a listing whose items are under `items` (the
    /// key of the array; providers with one fixed key ignore it), at its
    /// largest page size.
    fn pagination(&self, items: &'static str) -> Pagination;

    /// How hard to retry (the default suits providers with per-second limits).
    fn retry(&self) -> RetryPolicy {
        RetryPolicy::default()
    }

    /// The header that carries an idempotency key, where the provider has one.
    fn idempotency_header(&self) -> Option<HeaderName> {
        None
    }

    /// Headers every request carries (an API version).
    fn default_headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        Vec::new()
    }
}

/// A header's text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A header's number.
pub fn header_number(headers: &HeaderMap, name: &str) -> Option<f64> {
    header(headers, name).and_then(|v| v.trim().parse::<f64>().ok()).filter(|n| n.is_finite())
}
