//! HubSpot's CRM API v3 as the shared client sees it: a private app's token
//! or an OAuth access token as a bearer, a rolling ten-second window (100
//! calls by default, more on higher tiers) reported in
//! `X-HubSpot-RateLimit-Max`, `-Remaining` and `-Interval-Milliseconds` with a
//! daily quota in `-Daily` and `-Daily-Remaining`, `after` cursors at
//! `paging.next.after`, and `{status, message, correlationId, category,
//! errors}` bodies.

use std::time::Duration;

use http::HeaderMap;
use portage_client::pagination::Pagination;
use portage_client::{
    ErrorDetail, FieldError, Limit, Observation, Policy, ProviderError, header_number, short_message,
};
use serde::Deserialize;

/// HubSpot's policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct HubSpotApi;

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "correlationId")]
    correlation_id: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    errors: Vec<Detail>,
}

#[derive(Deserialize)]
struct Detail {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    context: Option<serde_json::Value>,
}

impl Policy for HubSpotApi {
    fn provider(&self) -> &'static str {
        "hubspot"
    }

    fn base_url(&self) -> &str {
        "https://api.hubapi.com"
    }

    /// 100 calls per ten seconds, the lowest tier's.
    fn limit(&self) -> Limit {
        Limit { per_second: 10.0, burst: 100.0 }
    }

    fn observe(&self, _status: u16, headers: &HeaderMap) -> Observation {
        let daily_left = header_number(headers, "x-hubspot-ratelimit-daily-remaining");
        let interval = header_number(headers, "x-hubspot-ratelimit-interval-milliseconds").unwrap_or(10_000.0);
        let remaining = header_number(headers, "x-hubspot-ratelimit-remaining");
        let wait = if daily_left.is_some_and(|left| left <= 0.0) {
            Some(Duration::from_secs(3600))
        } else if remaining.is_some_and(|left| left <= 0.0) {
            Some(Duration::from_secs_f64(interval / 1000.0))
        } else {
            None
        };
        Observation { remaining, limit: header_number(headers, "x-hubspot-ratelimit-max"), wait, rate: None }
    }

    fn pagination(&self, items: &'static str) -> Pagination {
        Pagination::NextCursor { limit: 100, items, param: "after", pointer: "/paging/next/after" }
    }

    fn error(&self, status: u16, _headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let parsed = serde_json::from_slice::<Body>(body).ok();
        let detail = ErrorDetail {
            provider: "hubspot",
            status: Some(status),
            code: parsed.as_ref().and_then(|b| b.category.clone()),
            message: short_message(parsed.as_ref().and_then(|b| b.message.as_deref()).unwrap_or_default()),
            request_id: parsed.as_ref().and_then(|b| b.correlation_id.clone()),
        };
        match parsed.as_ref().and_then(|b| b.category.as_deref()) {
            Some("VALIDATION_ERROR") => {
                let fields = parsed
                    .map(|b| b.errors)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| FieldError {
                        field: e
                            .context
                            .as_ref()
                            .and_then(|c| c.get("propertyName"))
                            .and_then(|p| p.get(0).or(Some(p)))
                            .and_then(|p| p.as_str())
                            .unwrap_or_default()
                            .to_owned(),
                        message: short_message(e.message.as_deref().unwrap_or_default()),
                    })
                    .collect();
                ProviderError::Validation { detail, fields }
            }
            Some("OBJECT_NOT_FOUND") => ProviderError::NotFound(detail),
            Some("CONFLICT") => ProviderError::Conflict(detail),
            Some("RATE_LIMITS") => ProviderError::RateLimited { detail, retry_after: None },
            _ => ProviderError::from_status(detail, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn window_headers_and_documented_errors() {
        let mut headers = HeaderMap::new();
        for (k, v) in [
            ("x-hubspot-ratelimit-max", "100"),
            ("x-hubspot-ratelimit-remaining", "0"),
            ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
        ] {
            headers.insert(k, HeaderValue::from_static(v));
        }
        assert_eq!(
            HubSpotApi.observe(200, &headers),
            Observation { remaining: Some(0.0), limit: Some(100.0), wait: Some(Duration::from_secs(10)), rate: None }
        );
        let invalid = br#"{"status":"error","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"Email address x is invalid\",\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}]","correlationId":"3a7c4f0e-6b8f-4d9a-8f5e-2c1b0a9d8e7f","category":"VALIDATION_ERROR","errors":[{"message":"Email address x is invalid","code":"INVALID_EMAIL","context":{"propertyName":["email"]}}]}"#;
        match HubSpotApi.error(400, &HeaderMap::new(), invalid) {
            ProviderError::Validation { detail, fields } => {
                assert_eq!(detail.request_id.as_deref(), Some("3a7c4f0e-6b8f-4d9a-8f5e-2c1b0a9d8e7f"));
                assert_eq!(fields[0].field, "email");
            }
            other => panic!("{other:?}"),
        }
        let limited = br#"{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","correlationId":"c1","policyName":"TEN_SECONDLY_ROLLING","category":"RATE_LIMITS"}"#;
        assert!(matches!(HubSpotApi.error(429, &HeaderMap::new(), limited), ProviderError::RateLimited { .. }));
        let missing =
            br#"{"status":"error","message":"resource not found","correlationId":"c2","category":"OBJECT_NOT_FOUND"}"#;
        assert!(matches!(HubSpotApi.error(404, &HeaderMap::new(), missing), ProviderError::NotFound(_)));
        let expired = br#"{"status":"error","message":"The OAuth token used to make this call expired 2 hour(s) ago.","correlationId":"c3","category":"EXPIRED_AUTHENTICATION"}"#;
        assert!(
            matches!(HubSpotApi.error(401, &HeaderMap::new(), expired), ProviderError::Unauthorized(d) if d.code.as_deref() == Some("EXPIRED_AUTHENTICATION"))
        );
    }
}
