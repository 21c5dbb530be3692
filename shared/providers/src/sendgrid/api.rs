//! SendGrid's v3 API as the shared client sees it: an API key as a bearer,
//! per-endpoint limits reported in `X-RateLimit-Limit`, `-Remaining` and
//! `-Reset` (Unix seconds), mail send answered 202, and `{"errors":
//! [{message, field, help}]}` bodies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use portage_client::pagination::Pagination;
use portage_client::{
    ErrorDetail, FieldError, Limit, Observation, Policy, ProviderError, header, header_number, short_message,
};
use serde_json::Value;

/// SendGrid's policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendGridApi;

impl Policy for SendGridApi {
    fn provider(&self) -> &'static str {
        "sendgrid"
    }

    fn base_url(&self) -> &str {
        "https://api.sendgrid.com"
    }

    fn limit(&self) -> Limit {
        Limit { per_second: 10.0, burst: 50.0 }
    }

    fn observe(&self, _status: u16, headers: &HeaderMap) -> Observation {
        let remaining = header_number(headers, "x-ratelimit-remaining");
        let wait = remaining.filter(|left| *left <= 0.0).and_then(|_| {
            let reset = header_number(headers, "x-ratelimit-reset")?;
            let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
            Some(Duration::from_secs_f64((reset - now).clamp(0.0, 3600.0)))
        });
        Observation { remaining, limit: header_number(headers, "x-ratelimit-limit"), wait, rate: None }
    }

    fn pagination(&self, items: &'static str) -> Pagination {
        Pagination::Offset { limit: 500, items, size_param: "limit", offset_param: "offset" }
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let errors =
            parsed.as_ref().and_then(|b| b.get("errors")).and_then(Value::as_array).cloned().unwrap_or_default();
        let text = |e: &Value, key: &str| e.get(key).and_then(Value::as_str).map(str::to_owned);
        let detail = ErrorDetail {
            provider: "sendgrid",
            status: Some(status),
            code: None,
            message: short_message(&errors.first().and_then(|e| text(e, "message")).unwrap_or_default()),
            request_id: header(headers, "x-message-id").map(str::to_owned),
        };
        let fields: Vec<FieldError> = errors
            .iter()
            .filter_map(|e| {
                Some(FieldError {
                    field: text(e, "field")?,
                    message: short_message(&text(e, "message").unwrap_or_default()),
                })
            })
            .collect();
        match status {
            400 | 413 => ProviderError::Validation { detail, fields },
            _ => ProviderError::from_status(detail, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_errors_map_to_their_kind() {
        let invalid = br#"{"errors":[{"message":"The from email does not contain a valid address.","field":"from.email","help":"http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.from"}]}"#;
        assert!(
            matches!(SendGridApi.error(400, &HeaderMap::new(), invalid), ProviderError::Validation { fields, .. } if fields[0].field == "from.email")
        );
        let auth = br#"{"errors":[{"field":null,"message":"The provided authorization grant is invalid, expired, or revoked"}]}"#;
        assert!(
            matches!(SendGridApi.error(401, &HeaderMap::new(), auth), ProviderError::Unauthorized(d) if d.message.starts_with("The provided"))
        );
    }
}
