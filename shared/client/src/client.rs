//! The one way Portage calls a provider's API: authentication, the rate
//! limiter, the circuit breaker and retries around reqwest, with one error
//! type out and nothing secret in a log line.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::breaker::{BreakerConfig, BreakerState, CircuitBreaker};
use crate::error::{ErrorDetail, ProviderError};
use crate::metrics::Metrics;
use crate::policy::{Credentials, Policy};
use crate::rate_limit::RateLimiter;
use crate::retry::{RetryPolicy, retry_after};

/// How long a call may take, connection included, and how long connecting may.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A request, relative to the policy's base URL.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// The method.
    pub method: Method,
    /// The path (`/v1/customers`), or an absolute URL the provider handed
    /// out (a `Link` header's next page) on the same host.
    pub path: String,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// The body and its content type.
    pub body: Option<(&'static str, Bytes)>,
    /// The caller's idempotency key (from its command id): sent in the
    /// provider's idempotency header, and what makes a non-idempotent
    /// request safe to retry.
    pub idempotency_key: Option<String>,
}

impl ApiRequest {
    /// A `GET` of `path`.
    pub fn get(path: impl Into<String>) -> Self {
        Self { method: Method::GET, path: path.into(), query: Vec::new(), body: None, idempotency_key: None }
    }

    /// A `DELETE` of `path`.
    pub fn delete(path: impl Into<String>) -> Self {
        Self { method: Method::DELETE, ..Self::get(path) }
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// A `POST` of a form (Stripe's bodies).
    pub fn post_form(path: impl Into<String>, pairs: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        Self {
            method: Method::POST,
            path: path.into(),
            query: Vec::new(),
            body: Some(("application/x-www-form-urlencoded", Bytes::from(body))),
            idempotency_key: None,
        }
    }

    /// A `POST` of JSON.
    pub fn post_json(path: impl Into<String>, value: &serde_json::Value) -> Self {
        Self {
            method: Method::POST,
            path: path.into(),
            query: Vec::new(),
            body: Some(("application/json", Bytes::from(value.to_string()))),
            idempotency_key: None,
        }
    }

    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    fn idempotent(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS)
            || self.idempotency_key.is_some()
    }
}

/// A successful response.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl ApiResponse {
    /// The body as JSON.
    pub fn json(&self, provider: &'static str) -> Result<serde_json::Value, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ProviderError::Permanent(ErrorDetail {
                provider,
                status: Some(self.status),
                message: format!("response is not JSON: {e}"),
                ..Default::default()
            })
        })
    }
}

/// Everything one connection's calls share.
pub struct ApiClient {
    http: reqwest::Client,
    policy: Arc<dyn Policy>,
    base_url: String,
    connection: String,
    credentials: Credentials,
    limiter: RateLimiter,
    breaker: CircuitBreaker,
    retry: RetryPolicy,
    metrics: Arc<Metrics>,
}

/// The HTTP client every call goes through: the user agent every call
/// sends, and a call's timeout of 30 s.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    http_client_with_timeout(CALL_TIMEOUT)
}

/// A client for token endpoints and connect flows: it follows no redirect
/// (their answers carry credentials, which must not travel elsewhere).
pub fn token_http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(crate::USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(CALL_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
}

/// As [`http_client`], with another timeout for a call (sent, and no
/// answer within it: [`crate::ProviderError::Interrupted`]).
pub fn http_client_with_timeout(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(crate::USER_AGENT)
        .timeout(timeout)
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
}

impl ApiClient {
    /// A client for one connection, at the policy's base URL unless
    /// `base_url` says otherwise.
    pub fn new(
        http: reqwest::Client,
        policy: Arc<dyn Policy>,
        connection: &str,
        credentials: Credentials,
        base_url: Option<String>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let name = format!("{}/{connection}", policy.provider());
        Self {
            http,
            base_url: base_url.unwrap_or_else(|| policy.base_url().to_owned()).trim_end_matches('/').to_owned(),
            limiter: RateLimiter::new(policy.limit()),
            breaker: CircuitBreaker::new(name, BreakerConfig::default()),
            connection: connection.to_owned(),
            credentials,
            retry: policy.retry(),
            policy,
            metrics,
        }
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Starts the rate limiter from `limit` instead of the policy's
    /// documented one (a plan with a higher limit; a test).
    pub fn with_limit(mut self, limit: crate::rate_limit::Limit) -> Self {
        self.limiter = RateLimiter::new(limit);
        self
    }

    /// Replaces the breaker's settings.
    pub fn with_breaker(mut self, config: BreakerConfig) -> Self {
        self.breaker = CircuitBreaker::new(format!("{}/{}", self.policy.provider(), self.connection), config);
        self
    }

    /// The provider's name.
    pub fn provider(&self) -> &'static str {
        self.policy.provider()
    }

    /// The breaker, for its state.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The rate limiter, for its rate.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// Sends `request`, retrying what may pass, within the retry deadline.
    pub async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, ProviderError> {
        let provider = self.policy.provider();
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let permit = self.breaker.acquire().map_err(|retry_after| {
                self.metrics.count(provider, "circuit_open");
                ProviderError::CircuitOpen { provider, connection: self.connection.clone(), retry_after }
            })?;
            self.limiter.acquire().await;
            let call_started = Instant::now();
            let outcome = self.attempt(request).await;
            self.limiter.finished();
            self.metrics.call(provider, call_started.elapsed());
            let error = match outcome {
                Ok(response) => {
                    self.breaker.record(permit, false);
                    self.limiter.succeeded();
                    return Ok(response);
                }
                Err(error) => error,
            };
            let unwell = matches!(error, ProviderError::Transient(_) | ProviderError::Interrupted(_));
            let was_open = self.breaker.state() == BreakerState::Open;
            self.breaker.record(permit, unwell);
            if !was_open && self.breaker.state() == BreakerState::Open {
                self.metrics.count(provider, "breaker_opened");
            }
            if matches!(error, ProviderError::RateLimited { .. }) {
                self.metrics.count(provider, "rate_limited");
                self.limiter.pushed_back();
            }
            attempt += 1;
            let wait = match &error {
                // The limiter already holds calls until the provider's time.
                ProviderError::RateLimited { retry_after: Some(_), .. } => Duration::ZERO,
                _ => self.retry.backoff(attempt - 1),
            };
            let out_of_time = started.elapsed() + wait > self.retry.deadline;
            if !self.retry.retries(&error, request.idempotent()) || attempt >= self.retry.max_attempts || out_of_time {
                debug!(provider, connection = %self.connection, attempts = attempt, %error, "call failed");
                return Err(error);
            }
            self.metrics.count(provider, "retries");
            warn!(provider, connection = %self.connection, attempt, wait_ms = wait.as_millis() as u64, %error, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("https://") || path.starts_with("http://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base_url)
        }
    }

    /// One call; with OAuth, a refused access token is refreshed (once per
    /// call) and the call made again.
    async fn attempt(&self, request: &ApiRequest) -> Result<ApiResponse, ProviderError> {
        let Credentials::OAuth(session) = &self.credentials else {
            return self.attempt_with(request, None).await;
        };
        let token = session.access_token().await?;
        match self.attempt_with(request, Some(&token)).await {
            Err(ProviderError::Unauthorized(_)) => {
                let fresh = session.after_refusal(&token).await?;
                self.attempt_with(request, Some(&fresh)).await
            }
            other => other,
        }
    }

    async fn attempt_with(
        &self,
        request: &ApiRequest,
        token: Option<&portage_core::Secret>,
    ) -> Result<ApiResponse, ProviderError> {
        let provider = self.policy.provider();
        let mut builder = self.http.request(request.method.clone(), self.url(&request.path));
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        for (name, value) in self.policy.default_headers() {
            builder = builder.header(name, value);
        }
        builder = match &self.credentials {
            Credentials::Bearer(token) => builder.bearer_auth(token.expose()),
            Credentials::OAuth(_) => match token {
                Some(token) => builder.bearer_auth(token.expose()),
                None => builder,
            },
            Credentials::Header { name, value, bearer } => {
                let mut value = HeaderValue::from_str(value.expose()).map_err(|_| invalid_credentials(provider))?;
                value.set_sensitive(true);
                let builder = builder.header(name, value);
                match bearer {
                    Some(token) => builder.bearer_auth(token.expose()),
                    None => builder,
                }
            }
            Credentials::Basic { user, password } => builder.basic_auth(user.expose(), Some(password.expose())),
        };
        if let (Some(header), Some(key)) = (self.policy.idempotency_header(), &request.idempotency_key) {
            builder = builder.header(header, key);
        }
        if let Some((content_type, body)) = &request.body {
            builder = builder.header(http::header::CONTENT_TYPE, *content_type).body(body.clone());
        }
        let response = builder.send().await.map_err(|e| transport_error(provider, &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| transport_error(provider, &e))?;
        let mut seen = self.policy.observe(status, &headers);
        if seen.wait.is_none() && (status == 429 || status == 503) {
            seen.wait = retry_after(&headers, SystemTime::now());
        }
        self.limiter.observe(seen);
        if (200..300).contains(&status) {
            if let Some(seen) = self.policy.observe_body(&body) {
                self.limiter.observe(seen);
            }
            return Ok(ApiResponse { status, headers, body });
        }
        Err(self.policy.error(status, &headers, &body))
    }
}

fn invalid_credentials(provider: &'static str) -> ProviderError {
    ProviderError::Permanent(ErrorDetail {
        provider,
        message: "the configured credential is not a valid header value".into(),
        ..Default::default()
    })
}

/// A request that got no response: a timeout, a refused or dropped
/// connection. The message leaves out the URL, whose query may be personal.
fn transport_error(provider: &'static str, error: &reqwest::Error) -> ProviderError {
    // A connection never made means nothing was sent; anything else (a
    // timeout, a connection dropped mid-exchange) may follow the request.
    if error.is_connect() {
        return ProviderError::Transient(ErrorDetail {
            provider,
            message: "could not connect".to_owned(),
            ..Default::default()
        });
    }
    let kind = if error.is_timeout() { crate::error::TIMED_OUT } else { "connection failed" };
    ProviderError::Interrupted(ErrorDetail { provider, message: kind.to_owned(), ..Default::default() })
}
