//! Salesforce's REST API as the shared client sees it: an OAuth access token
//! as a bearer, at the token response's `instance_url`; the org's daily
//! limit reported in `Sforce-Limit-Info: api-usage=used/max`;
//! `nextRecordsUrl` pagination; and `[{message, errorCode, fields}]` bodies
//! (`INVALID_SESSION_ID` is an expired token, refreshed by the client).

use std::time::Duration;

use http::HeaderMap;
use portage_client::pagination::Pagination;
use portage_client::{ErrorDetail, FieldError, Limit, Observation, Policy, ProviderError, header, short_message};
use serde::Deserialize;

/// Salesforce's policy, for one org.
#[derive(Debug, Clone, Copy, Default)]
pub struct SalesforceApi;

#[derive(Deserialize)]
struct SalesforceError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "errorCode")]
    error_code: Option<String>,
    #[serde(default)]
    fields: Vec<String>,
}

/// Reads `Sforce-Limit-Info: api-usage=18/15000`.
pub fn api_usage(headers: &HeaderMap) -> Option<(f64, f64)> {
    let value = header(headers, "sforce-limit-info")?;
    let usage = value.split(',').find_map(|part| part.trim().strip_prefix("api-usage="))?;
    let (used, max) = usage.split_once('/')?;
    Some((used.trim().parse().ok()?, max.trim().parse().ok()?))
}

impl Policy for SalesforceApi {
    fn provider(&self) -> &'static str {
        "salesforce"
    }

    fn base_url(&self) -> &str {
        "https://login.salesforce.com"
    }

    /// Concurrency and a daily count, no per-second rate: a steady pace.
    fn limit(&self) -> Limit {
        Limit { per_second: 10.0, burst: 25.0 }
    }

    fn observe(&self, _status: u16, headers: &HeaderMap) -> Observation {
        // The day's calls spent: wait an hour at a time rather than fail
        // every call with REQUEST_LIMIT_EXCEEDED.
        let spent = api_usage(headers).is_some_and(|(used, max)| used >= max);
        Observation { wait: spent.then_some(Duration::from_secs(3600)), ..Default::default() }
    }

    fn pagination(&self, items: &'static str) -> Pagination {
        Pagination::NextUrl { items, pointer: "/nextRecordsUrl" }
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let errors: Vec<SalesforceError> = serde_json::from_slice(body).unwrap_or_default();
        let first = errors.first();
        let detail = ErrorDetail {
            provider: "salesforce",
            status: Some(status),
            code: first.and_then(|e| e.error_code.clone()),
            message: short_message(first.and_then(|e| e.message.as_deref()).unwrap_or_default()),
            request_id: header(headers, "sforce-call-id").map(str::to_owned),
        };
        let fields = errors
            .iter()
            .flat_map(|e| {
                e.fields.iter().map(|f| FieldError {
                    field: f.clone(),
                    message: short_message(e.message.as_deref().unwrap_or_default()),
                })
            })
            .collect();
        match detail.code.as_deref() {
            Some("INVALID_SESSION_ID") => ProviderError::Unauthorized(detail),
            Some("REQUEST_LIMIT_EXCEEDED") => {
                ProviderError::RateLimited { detail, retry_after: Some(Duration::from_secs(3600)) }
            }
            Some("NOT_FOUND") => ProviderError::NotFound(detail),
            Some("DUPLICATE_VALUE") => ProviderError::Conflict(detail),
            Some(
                "REQUIRED_FIELD_MISSING"
                | "INVALID_FIELD"
                | "FIELD_CUSTOM_VALIDATION_EXCEPTION"
                | "STRING_TOO_LONG"
                | "MALFORMED_QUERY",
            ) => ProviderError::Validation { detail, fields },
            _ => ProviderError::from_status(detail, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn usage_header_and_documented_errors() {
        let mut headers = HeaderMap::new();
        headers.insert("sforce-limit-info", HeaderValue::from_static("api-usage=15000/15000"));
        assert_eq!(api_usage(&headers), Some((15000.0, 15000.0)));
        assert_eq!(SalesforceApi.observe(200, &headers).wait, Some(Duration::from_secs(3600)));
        let session = br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;
        assert!(matches!(SalesforceApi.error(401, &HeaderMap::new(), session), ProviderError::Unauthorized(_)));
        let missing = br#"[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]"#;
        assert!(
            matches!(SalesforceApi.error(400, &HeaderMap::new(), missing), ProviderError::Validation { fields, .. } if fields[0].field == "LastName")
        );
        let duplicate = br#"[{"message":"duplicate value found: External_Id__c duplicates value on record with id: 0015g00000XyZab","errorCode":"DUPLICATE_VALUE","fields":[]}]"#;
        assert!(matches!(SalesforceApi.error(400, &HeaderMap::new(), duplicate), ProviderError::Conflict(_)));
    }
}
