//! One error type for every provider call: what a caller decides on
//! (retry, re-authenticate, fix the request, give up) and what an operator
//! reads (the provider's own code, message and request id), never the
//! credentials or the full body.

use std::fmt;
use std::time::Duration;

use thiserror::Error;

/// What the provider said about a failed call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetail {
    /// The provider's name (`stripe`, `shopify`, …).
    pub provider: &'static str,
    /// The HTTP status, when a response came back.
    pub status: Option<u16>,
    /// The provider's own error code (`resource_missing`, `INVALID_SESSION_ID`).
    pub code: Option<String>,
    /// The provider's message, cut to a line.
    pub message: String,
    /// The provider's request id (`Request-Id`, `X-Request-Id`, a correlation id).
    pub request_id: Option<String>,
}

impl fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.provider)?;
        if let Some(status) = self.status {
            write!(f, " {status}")?;
        }
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request {id})")?;
        }
        Ok(())
    }
}

/// A field the provider refused, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name as the provider gives it (`email`, `line_items[0].price`).
    pub field: String,
    /// Why.
    pub message: String,
}

/// The message of an [`ProviderError::Interrupted`] call that timed out
/// (rather than one whose connection dropped mid-answer).
pub(crate) const TIMED_OUT: &str = "timed out";

/// A provider call that failed, classified.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ProviderError {
    /// Too many requests; `retry_after` is when the provider says to come back.
    #[error("rate limited by {detail}")]
    RateLimited {
        /// What the provider said.
        detail: ErrorDetail,
        /// The provider's `Retry-After` or reset, if it gave one.
        retry_after: Option<Duration>,
    },
    /// The credentials were refused (expired token, revoked key).
    #[error("unauthorized by {0}")]
    Unauthorized(ErrorDetail),
    /// The credentials are valid but lack the permission.
    #[error("forbidden by {0}")]
    Forbidden(ErrorDetail),
    /// The object does not exist.
    #[error("not found at {0}")]
    NotFound(ErrorDetail),
    /// The request conflicts with the object's state, or an idempotency key
    /// was reused with other parameters.
    #[error("conflict at {0}")]
    Conflict(ErrorDetail),
    /// The request was refused as invalid.
    #[error("validation failed at {detail}{}", fields_suffix(.fields))]
    Validation {
        /// What the provider said.
        detail: ErrorDetail,
        /// The fields it named.
        fields: Vec<FieldError>,
    },
    /// May succeed later: 5xx, 408, 425, a connection that could not be made.
    #[error("transient failure at {0}")]
    Transient(ErrorDetail),
    /// The request went out and no answer came back (a timeout, a dropped
    /// connection): it may have been processed. Retried only when the
    /// request is idempotent or carries an idempotency key.
    #[error("no answer from {0}")]
    Interrupted(ErrorDetail),
    /// Will not succeed as it is.
    #[error("permanent failure at {0}")]
    Permanent(ErrorDetail),
    /// The circuit breaker for this provider and connection is open: the
    /// call was not made.
    #[error("circuit open for {provider}/{connection}: retry after {retry_after:?}")]
    CircuitOpen {
        /// The provider.
        provider: &'static str,
        /// The connection.
        connection: String,
        /// When the breaker lets a probe through.
        retry_after: Duration,
    },
}

fn fields_suffix(fields: &[FieldError]) -> String {
    if fields.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    format!(" (fields: {})", names.join(", "))
}

impl ProviderError {
    /// Whether trying again, later, may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient(_) | Self::Interrupted(_) | Self::CircuitOpen { .. })
    }

    /// A call that got no answer in time: the provider did not respond (as
    /// opposed to a connection dropped part-way through an answer).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Interrupted(d) if d.message == TIMED_OUT)
    }

    /// The provider's detail, where there is one.
    pub fn detail(&self) -> Option<&ErrorDetail> {
        match self {
            Self::RateLimited { detail, .. } | Self::Validation { detail, .. } => Some(detail),
            Self::Unauthorized(d)
            | Self::Forbidden(d)
            | Self::NotFound(d)
            | Self::Conflict(d)
            | Self::Transient(d)
            | Self::Interrupted(d)
            | Self::Permanent(d) => Some(d),
            Self::CircuitOpen { .. } => None,
        }
    }

    /// The error for a status whose body told nothing more: the
    /// classification every provider shares.
    pub fn from_status(detail: ErrorDetail, retry_after: Option<Duration>) -> Self {
        match detail.status.unwrap_or(0) {
            401 => Self::Unauthorized(detail),
            403 => Self::Forbidden(detail),
            404 | 410 => Self::NotFound(detail),
            409 => Self::Conflict(detail),
            429 => Self::RateLimited { detail, retry_after },
            400 | 422 => Self::Validation { detail, fields: Vec::new() },
            408 | 425 | 500..=599 | 0 => Self::Transient(detail),
            _ => Self::Permanent(detail),
        }
    }
}

/// The first line of a provider's message, at most 300 characters: enough
/// to act on, too little to carry a whole echoed payload.
pub fn short_message(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    line.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(status: u16) -> ErrorDetail {
        ErrorDetail { provider: "stripe", status: Some(status), ..Default::default() }
    }

    #[test]
    fn statuses_classify_as_every_provider_documents() {
        assert!(matches!(ProviderError::from_status(detail(401), None), ProviderError::Unauthorized(_)));
        assert!(matches!(ProviderError::from_status(detail(404), None), ProviderError::NotFound(_)));
        assert!(matches!(ProviderError::from_status(detail(422), None), ProviderError::Validation { .. }));
        for status in [408, 425, 500, 502, 503, 504] {
            assert!(ProviderError::from_status(detail(status), None).is_retryable(), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 418] {
            assert!(!ProviderError::from_status(detail(status), None).is_retryable(), "{status}");
        }
        let limited = ProviderError::from_status(detail(429), Some(Duration::from_secs(2)));
        assert_eq!(
            limited,
            ProviderError::RateLimited { detail: detail(429), retry_after: Some(Duration::from_secs(2)) }
        );
    }

    #[test]
    fn messages_name_the_provider_code_and_request() {
        let d = ErrorDetail {
            provider: "stripe",
            status: Some(404),
            code: Some("resource_missing".into()),
            message: "No such customer: 'cus_1'".into(),
            request_id: Some("req_1".into()),
        };
        let text = ProviderError::NotFound(d).to_string();
        assert_eq!(text, "not found at stripe 404 resource_missing: No such customer: 'cus_1' (request req_1)");
        assert_eq!(short_message("first\nsecond"), "first");
    }
}
