//! Twilio's REST API as the shared client sees it: the account SID and auth
//! token (or an API key and secret) over HTTP Basic, form bodies, limits by
//! concurrency answered 429 with error 20429, `next_page_uri` pagination, and
//! `{code, message, more_info, status}` bodies.

use http::HeaderMap;
use portage_client::pagination::Pagination;
use portage_client::{ErrorDetail, Limit, Policy, ProviderError, header, short_message};
use serde_json::Value;

/// Twilio's policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct TwilioApi;

impl Policy for TwilioApi {
    fn provider(&self) -> &'static str {
        "twilio"
    }

    fn base_url(&self) -> &str {
        "https://api.twilio.com"
    }

    fn limit(&self) -> Limit {
        Limit { per_second: 30.0, burst: 30.0 }
    }

    fn pagination(&self, items: &'static str) -> Pagination {
        Pagination::NextUrl { items, pointer: "/next_page_uri" }
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let code = parsed.as_ref().and_then(|b| b.get("code")).and_then(Value::as_i64);
        let detail = ErrorDetail {
            provider: "twilio",
            status: Some(status),
            code: code.map(|c| c.to_string()),
            message: short_message(
                parsed.as_ref().and_then(|b| b.get("message")).and_then(Value::as_str).unwrap_or_default(),
            ),
            request_id: header(headers, "twilio-request-id").map(str::to_owned),
        };
        match code {
            Some(20429) => ProviderError::RateLimited { detail, retry_after: None },
            Some(20404) => ProviderError::NotFound(detail),
            Some(21211 | 21604 | 21602) => ProviderError::Validation { detail, fields: Vec::new() },
            _ => ProviderError::from_status(detail, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_errors_map_to_their_kind() {
        let invalid = br#"{"code": 21211, "message": "The 'To' number +1555 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        assert!(
            matches!(TwilioApi.error(400, &HeaderMap::new(), invalid), ProviderError::Validation { detail, .. } if detail.code.as_deref() == Some("21211"))
        );
        let busy = br#"{"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}"#;
        assert!(matches!(TwilioApi.error(429, &HeaderMap::new(), busy), ProviderError::RateLimited { .. }));
        let missing = br#"{"code": 20404, "message": "The requested resource /2010-04-01/Accounts/AC1/Messages/SM1.json was not found", "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}"#;
        assert!(matches!(TwilioApi.error(404, &HeaderMap::new(), missing), ProviderError::NotFound(_)));
    }
}
