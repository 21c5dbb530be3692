//! When a failed call is tried again, and after how long: exponential
//! backoff with full jitter (a random wait between zero and the capped
//! exponential, which spreads a crowd of retries best), capped attempts and
//! a total deadline; a provider's own wait (`Retry-After`, a reset) wins.

use std::time::Duration;

use http::HeaderMap;
use rand::Rng;

use crate::error::ProviderError;

/// How hard to try.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff's upper bound.
    pub base: Duration,
    /// No backoff is longer.
    pub cap: Duration,
    /// No retry starts after this long from the first attempt.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(20),
            deadline: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (0 for the first retry): a
    /// uniformly random duration in `[0, min(cap, base · 2^attempt)]`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.base.saturating_mul(2u32.saturating_pow(attempt.min(30))).min(self.cap);
        rand::rng().random_range(Duration::ZERO..=ceiling)
    }

    /// Whether a call that failed with `error` may be tried again: only
    /// failures that may pass (rate limits, 5xx, 408, 425, timeouts, dropped
    /// connections), and for a request that is not idempotent only when it
    /// carries an idempotency key.
    pub fn retries(&self, error: &ProviderError, idempotent: bool) -> bool {
        idempotent
            && matches!(
                error,
                ProviderError::RateLimited { .. } | ProviderError::Transient(_) | ProviderError::Interrupted(_)
            )
    }
}

/// `Retry-After`: delay-seconds (fractions accepted, as Shopify sends
/// `2.0`) or an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: std::time::SystemTime) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorDetail;

    #[test]
    fn backoff_is_full_jitter_under_the_capped_exponential() {
        let policy =
            RetryPolicy { base: Duration::from_millis(100), cap: Duration::from_secs(1), ..Default::default() };
        for attempt in 0..10 {
            let ceiling = Duration::from_millis(100 * 2u64.pow(attempt)).min(Duration::from_secs(1));
            let waits: Vec<Duration> = (0..200).map(|_| policy.backoff(attempt)).collect();
            assert!(waits.iter().all(|w| *w <= ceiling));
            assert!(waits.iter().any(|w| *w < ceiling / 4), "spread from zero");
        }
    }

    #[test]
    fn only_passing_failures_of_idempotent_requests_are_retried() {
        let policy = RetryPolicy::default();
        let detail = ErrorDetail { provider: "stripe", status: Some(503), ..Default::default() };
        let transient = ProviderError::Transient(detail.clone());
        assert!(policy.retries(&transient, true));
        assert!(!policy.retries(&transient, false), "a POST without an idempotency key");
        assert!(!policy.retries(&ProviderError::NotFound(detail), true));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_795_689_600);
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "2.0".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(2)));
        headers
            .insert(http::header::RETRY_AFTER, httpdate::fmt_http_date(now + Duration::from_secs(7)).parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers, now), None);
    }
}
