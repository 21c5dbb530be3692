//! Stripe's API as the shared client sees it: bearer secret key, a pinned
//! `Stripe-Version`, `Idempotency-Key`, about 100 calls a second live (25 in
//! test mode), `Stripe-Should-Retry` on failures, and its error body
//! `{"error": {"type", "code", "message", "param", "decline_code"}}`.

use http::{HeaderMap, HeaderName, HeaderValue};
use portage_client::pagination::Pagination;
use portage_client::{ErrorDetail, FieldError, Limit, Policy, ProviderError, header, short_message};
use serde::Deserialize;

/// The API version Portage's Stripe code reads (webhook payloads follow the
/// account's version; API responses follow this).
pub const API_VERSION: &str = "2025-03-31.basil";

/// Stripe's policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct StripeApi;

#[derive(Deserialize)]
struct Body {
    error: StripeError,
}

#[derive(Deserialize)]
struct StripeError {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    param: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
}

impl Policy for StripeApi {
    fn provider(&self) -> &'static str {
        "stripe"
    }

    fn base_url(&self) -> &str {
        "https://api.stripe.com"
    }

    /// Stripe documents 100 read and 100 write operations a second in live
    /// mode and 25 in test mode, enforced by a token bucket; the bucket
    /// starts at test mode's, the safe side, and 429s slow it further. Its
    /// burst is five short of Stripe's: requests reach Stripe later than
    /// they leave, unevenly, and sends no budget headers to correct by, so
    /// five tokens of headroom absorb that jitter instead of a 429.
    fn limit(&self) -> Limit {
        Limit { per_second: 25.0, burst: 20.0 }
    }

    fn pagination(&self, _items: &'static str) -> Pagination {
        Pagination::StripeCursor { limit: 100 }
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let parsed = serde_json::from_slice::<Body>(body).ok().map(|b| b.error);
        let detail = ErrorDetail {
            provider: "stripe",
            status: Some(status),
            code: parsed
                .as_ref()
                .and_then(|e| e.decline_code.clone().or_else(|| e.code.clone()).or_else(|| e.kind.clone())),
            message: short_message(parsed.as_ref().and_then(|e| e.message.as_deref()).unwrap_or_default()),
            request_id: header(headers, "request-id").map(str::to_owned),
        };
        match header(headers, "stripe-should-retry") {
            Some("true") if status != 429 => return ProviderError::Transient(detail),
            Some("false") if status >= 500 => return ProviderError::Permanent(detail),
            _ => {}
        }
        let kind = parsed.as_ref().and_then(|e| e.kind.as_deref());
        let param = parsed.as_ref().and_then(|e| e.param.clone());
        match (status, kind) {
            (400, Some("invalid_request_error")) | (402, _) => ProviderError::Validation {
                fields: param
                    .map(|field| vec![FieldError { field, message: detail.message.clone() }])
                    .unwrap_or_default(),
                detail,
            },
            (400, Some("idempotency_error")) => ProviderError::Conflict(detail),
            _ => ProviderError::from_status(detail, None),
        }
    }

    fn idempotency_header(&self) -> Option<HeaderName> {
        Some(HeaderName::from_static("idempotency-key"))
    }

    fn default_headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        vec![(HeaderName::from_static("stripe-version"), HeaderValue::from_static(API_VERSION))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, body: &str, headers: &[(&'static str, &'static str)]) -> ProviderError {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        StripeApi.error(status, &map, body.as_bytes())
    }

    #[test]
    fn documented_errors_map_to_their_kind() {
        let missing = r#"{"error": {"code": "resource_missing", "doc_url": "https://stripe.com/docs/error-codes/resource-missing", "message": "No such customer: 'cus_x'", "param": "id", "type": "invalid_request_error"}}"#;
        match error(404, missing, &[("request-id", "req_123")]) {
            ProviderError::NotFound(d) => {
                assert_eq!((d.code.as_deref(), d.request_id.as_deref()), (Some("resource_missing"), Some("req_123")));
            }
            other => panic!("{other:?}"),
        }
        let invalid = r#"{"error": {"code": "parameter_invalid_integer", "message": "Invalid integer: abc", "param": "amount", "type": "invalid_request_error"}}"#;
        match error(400, invalid, &[]) {
            ProviderError::Validation { fields, .. } => assert_eq!(fields[0].field, "amount"),
            other => panic!("{other:?}"),
        }
        let declined = r#"{"error": {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds.", "type": "card_error"}}"#;
        assert!(
            matches!(error(402, declined, &[]), ProviderError::Validation { detail, .. } if detail.code.as_deref() == Some("insufficient_funds"))
        );
        let reused = r#"{"error": {"message": "Keys for idempotent requests can only be used with the same parameters they were first used with.", "type": "idempotency_error"}}"#;
        assert!(matches!(error(400, reused, &[]), ProviderError::Conflict(_)));
        let limited = r#"{"error": {"code": "rate_limit", "message": "Request rate limit exceeded.", "type": "invalid_request_error"}}"#;
        assert!(matches!(error(429, limited, &[]), ProviderError::RateLimited { .. }));
        let api = r#"{"error": {"message": "An unknown error occurred", "type": "api_error"}}"#;
        assert!(matches!(error(500, api, &[]), ProviderError::Transient(_)));
        assert!(matches!(error(500, api, &[("stripe-should-retry", "false")]), ProviderError::Permanent(_)));
        assert!(matches!(error(409, "{}", &[("stripe-should-retry", "true")]), ProviderError::Transient(_)));
        assert!(matches!(error(401, "not json", &[]), ProviderError::Unauthorized(_)));
    }
}
