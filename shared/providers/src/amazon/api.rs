//! Amazon Selling Partner API as the shared client sees it: an LWA access
//! token in `x-amz-access-token`, per-operation token buckets whose rate
//! comes back in `x-amzn-RateLimit-Limit` (requests per second), 429
//! `QuotaExceeded`, `nextToken` pagination, `{"errors": [{code, message,
//! details}]}` and `x-amzn-RequestId`.

use http::HeaderMap;
use portage_client::pagination::Pagination;
use portage_client::{ErrorDetail, Limit, Observation, Policy, ProviderError, header, header_number, short_message};
use serde_json::Value;

/// SP-API's policy (North America's endpoint; a connection names its region's).
#[derive(Debug, Clone, Copy, Default)]
pub struct AmazonApi;

impl Policy for AmazonApi {
    fn provider(&self) -> &'static str {
        "amazon"
    }

    fn base_url(&self) -> &str {
        "https://sellingpartnerapi-na.amazon.com"
    }

    /// getOrders' documented bucket: 0.0167 a second, burst 20; each
    /// answer's `x-amzn-RateLimit-Limit` then tells the operation's own rate.
    fn limit(&self) -> Limit {
        Limit { per_second: 0.0167, burst: 20.0 }
    }

    fn observe(&self, _status: u16, headers: &HeaderMap) -> Observation {
        // A rate, not a remaining count: it becomes the bucket's refill.
        Observation { rate: header_number(headers, "x-amzn-ratelimit-limit"), ..Default::default() }
    }

    fn pagination(&self, items: &'static str) -> Pagination {
        Pagination::NextCursor { limit: 100, items, param: "NextToken", pointer: "/payload/NextToken" }
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let first = parsed.as_ref().and_then(|b| b.pointer("/errors/0"));
        let text = |key: &str| first.and_then(|e| e.get(key)).and_then(Value::as_str).map(str::to_owned);
        let detail = ErrorDetail {
            provider: "amazon",
            status: Some(status),
            code: text("code"),
            message: short_message(&text("message").unwrap_or_default()),
            request_id: header(headers, "x-amzn-requestid").map(str::to_owned),
        };
        match detail.code.as_deref() {
            Some("QuotaExceeded") => ProviderError::RateLimited { detail, retry_after: None },
            Some("InvalidInput") => ProviderError::Validation { detail, fields: Vec::new() },
            Some("Unauthorized") if status == 403 => ProviderError::Forbidden(detail),
            _ => ProviderError::from_status(detail, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn documented_errors_map_to_their_kind() {
        let mut rate = HeaderMap::new();
        rate.insert("x-amzn-ratelimit-limit", HeaderValue::from_static("0.0055"));
        assert_eq!(AmazonApi.observe(200, &rate).rate, Some(0.0055));
        let mut headers = HeaderMap::new();
        headers.insert("x-amzn-requestid", HeaderValue::from_static("a1b2c3"));
        let quota = br#"{"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource.","details":""}]}"#;
        assert!(
            matches!(AmazonApi.error(429, &headers, quota), ProviderError::RateLimited { detail, .. } if detail.request_id.as_deref() == Some("a1b2c3"))
        );
        let invalid =
            br#"{"errors":[{"code":"InvalidInput","message":"Invalid Input","details":"CreatedAfter is required"}]}"#;
        assert!(matches!(AmazonApi.error(400, &headers, invalid), ProviderError::Validation { .. }));
        let denied =
            br#"{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":""}]}"#;
        assert!(matches!(AmazonApi.error(403, &headers, denied), ProviderError::Forbidden(_)));
    }
}
