//! Shopify's Admin REST API as the shared client sees it: the shop's
//! `X-Shopify-Access-Token`, the leaky bucket (40 calls, leaking 2 a second;
//! Plus 400 and 20) reported in `X-Shopify-Shop-Api-Call-Limit: 32/40`, 429
//! with `Retry-After`, `Link` pagination, and `{"errors": …}` bodies.

use http::HeaderMap;
use portage_client::pagination::Pagination;
use portage_client::{ErrorDetail, FieldError, Limit, Observation, Policy, ProviderError, header, short_message};
use serde_json::Value;

/// Shopify's policy, for one shop (its base URL is the shop's domain).
#[derive(Debug, Clone, Copy, Default)]
pub struct ShopifyApi;

/// Reads `X-Shopify-Shop-Api-Call-Limit: used/size`.
pub fn call_limit(headers: &HeaderMap) -> Option<(f64, f64)> {
    let (used, size) = header(headers, "x-shopify-shop-api-call-limit")?.split_once('/')?;
    Some((used.trim().parse().ok()?, size.trim().parse().ok()?))
}

impl Policy for ShopifyApi {
    fn provider(&self) -> &'static str {
        "shopify"
    }

    fn base_url(&self) -> &str {
        // Every shop has its own host; a connection always names it.
        "https://shop.myshopify.com"
    }

    fn limit(&self) -> Limit {
        Limit { per_second: 2.0, burst: 40.0 }
    }

    fn observe(&self, _status: u16, headers: &HeaderMap) -> Observation {
        let Some((used, size)) = call_limit(headers) else { return Observation::default() };
        Observation { remaining: Some(size - used), limit: Some(size), ..Default::default() }
    }

    /// GraphQL answers carry their cost: `extensions.cost.throttleStatus`
    /// (points available, bucket size, restore rate) and the query's
    /// `actualQueryCost`. The bucket counts calls, so points become calls of
    /// this query's cost.
    fn observe_body(&self, body: &[u8]) -> Option<Observation> {
        let body: Value = serde_json::from_slice(body).ok()?;
        let cost = body.pointer("/extensions/cost")?;
        let per_call = cost.get("actualQueryCost").or_else(|| cost.get("requestedQueryCost"))?.as_f64()?.max(1.0);
        let status = cost.get("throttleStatus")?;
        let points = |key: &str| status.get(key).and_then(Value::as_f64).map(|p| p / per_call);
        Some(Observation {
            remaining: points("currentlyAvailable"),
            limit: points("maximumAvailable"),
            rate: points("restoreRate"),
            wait: None,
        })
    }

    fn pagination(&self, items: &'static str) -> Pagination {
        Pagination::LinkHeader { limit: 250, items }
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let errors = parsed.as_ref().and_then(|b| b.get("errors").or_else(|| b.get("error")));
        let mut fields = Vec::new();
        let message = match errors {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Object(by_field)) => {
                for (field, messages) in by_field {
                    let text = match messages {
                        Value::Array(list) => list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "),
                        other => other.as_str().unwrap_or_default().to_owned(),
                    };
                    fields.push(FieldError { field: field.clone(), message: short_message(&text) });
                }
                fields.iter().map(|f| format!("{} {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
            }
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "),
            _ => String::new(),
        };
        let detail = ErrorDetail {
            provider: "shopify",
            status: Some(status),
            code: None,
            message: short_message(&message),
            request_id: header(headers, "x-request-id").map(str::to_owned),
        };
        match status {
            422 => ProviderError::Validation { detail, fields },
            _ => ProviderError::from_status(detail, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn the_call_limit_header_corrects_the_bucket() {
        let mut headers = HeaderMap::new();
        headers.insert("x-shopify-shop-api-call-limit", HeaderValue::from_static("32/40"));
        assert_eq!(
            ShopifyApi.observe(200, &headers),
            Observation { remaining: Some(8.0), limit: Some(40.0), ..Default::default() }
        );
        headers.insert("x-shopify-shop-api-call-limit", HeaderValue::from_static("garbage"));
        assert_eq!(ShopifyApi.observe(200, &headers), Observation::default());
    }

    #[test]
    fn graphql_cost_becomes_calls_of_the_querys_cost() {
        let body = br#"{"data":{},"extensions":{"cost":{"requestedQueryCost":12,"actualQueryCost":10,"throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":1990,"restoreRate":100.0}}}}"#;
        let seen = ShopifyApi.observe_body(body).unwrap();
        assert_eq!((seen.remaining, seen.limit, seen.rate), (Some(199.0), Some(200.0), Some(10.0)));
        assert_eq!(ShopifyApi.observe_body(br#"{"products": []}"#), None);
    }

    #[test]
    fn documented_errors_map_to_their_kind() {
        let headers = HeaderMap::new();
        let invalid = br#"{"errors": {"title": ["can't be blank"], "price": ["must be a number", "is too low"]}}"#;
        match ShopifyApi.error(422, &headers, invalid) {
            ProviderError::Validation { fields, .. } => {
                let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
                assert_eq!(names, ["price", "title"]);
            }
            other => panic!("{other:?}"),
        }
        let auth = br#"{"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}"#;
        assert!(
            matches!(ShopifyApi.error(401, &headers, auth), ProviderError::Unauthorized(d) if d.message.starts_with("[API]"))
        );
        let limited = br#"{"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}"#;
        assert!(matches!(ShopifyApi.error(429, &headers, limited), ProviderError::RateLimited { .. }));
        assert!(matches!(ShopifyApi.error(404, &headers, br#"{"errors": "Not Found"}"#), ProviderError::NotFound(_)));
    }
}
