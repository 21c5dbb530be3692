//! Shopify's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portage_core::provider::{Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use serde::Deserialize;

use crate::fields::{MAX_LEN, id_text, rfc3339_secs};
use crate::signing::{ct_eq, hmac_sha256, optional_header};

/// The privacy topics every public app must handle (GDPR compliance webhooks).
pub const PRIVACY_TOPICS: [&str; 3] = ["customers/data_request", "customers/redact", "shop/redact"];

/// The headers of one delivery style: classic webhooks (`X-Shopify-*`) or
/// Events deliveries (`shopify-*`).
struct Names {
    hmac: &'static str,
    topic: &'static str,
    domain: &'static str,
    api_version: &'static str,
    webhook_id: &'static str,
    triggered_at: &'static str,
}

const WEBHOOKS: Names = Names {
    hmac: "X-Shopify-Hmac-Sha256",
    topic: "X-Shopify-Topic",
    domain: "X-Shopify-Shop-Domain",
    api_version: "X-Shopify-API-Version",
    webhook_id: "X-Shopify-Webhook-Id",
    triggered_at: "X-Shopify-Triggered-At",
};

const EVENTS: Names = Names {
    hmac: "shopify-hmac-sha256",
    topic: "shopify-topic",
    domain: "shopify-shop-domain",
    api_version: "shopify-api-version",
    webhook_id: "shopify-webhook-id",
    triggered_at: "shopify-triggered-at",
};

/// Which style a delivery is, as the official library decides: an Events
/// HMAC header makes it an Events delivery.
fn names(request: &WebhookRequest) -> &'static Names {
    if optional_header(request, EVENTS.hmac).is_some_and(|v| !v.is_empty()) { &EVENTS } else { &WEBHOOKS }
}

/// Base64 HMAC-SHA256 of the body keyed with the app's client secret.
pub fn signature(body: &[u8], secret: &Secret) -> String {
    STANDARD.encode(hmac_sha256(secret.expose().as_bytes(), &[body]))
}

/// Checks a delivery as `@shopify/shopify-api`'s `webhooks.validate` does:
/// a non-empty body, the HMAC header equal to the base64 HMAC exactly, then
/// the topic, shop domain, API version and webhook id headers present.
fn verify(request: &WebhookRequest, secrets: &[Secret]) -> Result<(), RejectReason> {
    if secrets.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    if request.body.is_empty() || std::str::from_utf8(&request.body).is_err() {
        return Err(RejectReason::MalformedPayload);
    }
    let names = names(request);
    let given = optional_header(request, names.hmac).filter(|v| !v.is_empty()).ok_or(RejectReason::MissingSignature)?;
    let matched = secrets
        .iter()
        .fold(false, |found, secret| found | ct_eq(signature(&request.body, secret).as_bytes(), given.as_bytes()));
    if !matched {
        return Err(RejectReason::SignatureMismatch);
    }
    let required = [names.topic, names.domain, names.api_version, names.webhook_id];
    if required.iter().any(|name| optional_header(request, name).is_none_or(str::is_empty)) {
        return Err(RejectReason::MalformedPayload);
    }
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Head {
    id: Option<serde_json::Value>,
    admin_graphql_api_id: Option<String>,
}

/// The event id: `{topic}:{X-Shopify-Event-Id}` where Shopify sends an event
/// id (its documented duplicate key: the same across retries and across
/// several subscriptions to one topic), else the delivery's webhook id.
fn normalise(request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
    let names = names(request);
    let header = |name| optional_header(request, name).filter(|v| !v.is_empty() && v.len() <= MAX_LEN);
    let (Some(topic), Some(webhook_id)) = (header(names.topic), header(names.webhook_id)) else {
        return Err(RejectReason::MalformedPayload);
    };
    let event_id = match header("X-Shopify-Event-Id") {
        Some(event) => format!("{topic}:{event}"),
        None => webhook_id.to_owned(),
    };
    let value: serde_json::Value = serde_json::from_slice(&request.body).map_err(|_| RejectReason::MalformedPayload)?;
    let head: Head = serde_json::from_value(value).unwrap_or_default();
    let object_id =
        id_text(head.id.as_ref(), MAX_LEN).or_else(|| head.admin_graphql_api_id.filter(|g| g.len() <= MAX_LEN));
    let occurred_at = header(names.triggered_at).and_then(rfc3339_secs).unwrap_or(received_at_secs);
    Ok(NormalizedEvent {
        event_id,
        event_type: topic.to_owned(),
        occurred_at,
        account: header(names.domain).map(str::to_owned),
        object_kind: topic.split('/').next().map(str::to_owned),
        object_id,
        livemode: None,
    })
}

/// The Shopify provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shopify;

impl Provider for Shopify {
    fn name(&self) -> &'static str {
        "shopify"
    }

    fn verify(
        &self,
        request: &WebhookRequest,
        secrets: &[Secret],
        _options: VerifyOptions,
    ) -> Result<(), RejectReason> {
        verify(request, secrets)
    }

    fn normalise(&self, request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise(request, received_at_secs)
    }

    fn sign(&self, _url: &str, body: &[u8], secret: &Secret, now_secs: i64) -> Vec<(String, String)> {
        let id = crate::signing::sha256_hex(body);
        vec![
            (WEBHOOKS.hmac.to_owned(), signature(body, secret)),
            (WEBHOOKS.topic.to_owned(), "orders/create".to_owned()),
            (WEBHOOKS.domain.to_owned(), "portage-dev.myshopify.com".to_owned()),
            (WEBHOOKS.api_version.to_owned(), "2025-10".to_owned()),
            (WEBHOOKS.webhook_id.to_owned(), id[..32].to_owned()),
            (
                WEBHOOKS.triggered_at.to_owned(),
                humantime::format_rfc3339(
                    std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(now_secs).unwrap_or(0)),
                )
                .to_string(),
            ),
        ]
    }

    fn generate_secret(&self) -> Secret {
        Secret::new(format!("shpss_{}", crate::signing::random_secret(32)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;
    use proptest::prelude::*;

    use crate::signing::test_request as request;

    #[test]
    fn event_id_prefers_the_topic_and_event_id() {
        let base = [
            ("X-Shopify-Topic", "orders/create"),
            ("X-Shopify-Webhook-Id", "w-1"),
            ("X-Shopify-Shop-Domain", "a.myshopify.com"),
            ("X-Shopify-Triggered-At", "2026-11-20T10:00:00.123456789Z"),
        ];
        let event = normalise(&request(&base, br#"{"id": 820982911946154500}"#), 5).unwrap();
        assert_eq!((event.event_id.as_str(), event.occurred_at), ("w-1", 1_795_168_800));
        assert_eq!(event.object_id.as_deref(), Some("820982911946154500"));
        assert_eq!(event.object_kind.as_deref(), Some("orders"));
        let mut with_event = base.to_vec();
        with_event.push(("X-Shopify-Event-Id", "e-9"));
        assert_eq!(normalise(&request(&with_event, b"{}"), 5).unwrap().event_id, "orders/create:e-9");
    }

    #[test]
    fn signs_and_verifies() {
        let secret = Secret::new("hush");
        let sig = signature(b"{}", &secret);
        let headers = [
            ("X-Shopify-Hmac-Sha256", sig.as_str()),
            ("X-Shopify-Topic", "t"),
            ("X-Shopify-Shop-Domain", "d"),
            ("X-Shopify-API-Version", "v"),
            ("X-Shopify-Webhook-Id", "w"),
        ];
        assert_eq!(verify(&request(&headers, b"{}"), std::slice::from_ref(&secret)), Ok(()));
        assert_eq!(
            verify(&request(&headers[..4], b"{}"), std::slice::from_ref(&secret)),
            Err(RejectReason::MalformedPayload)
        );
        assert_eq!(verify(&request(&headers, b"{ }"), &[secret]), Err(RejectReason::SignatureMismatch));
    }

    proptest! {
        #[test]
        fn never_panics(sig in ".{0,100}", triggered in ".{0,40}", body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut headers = HeaderMap::new();
            for (name, value) in [("X-Shopify-Hmac-Sha256", &sig), ("X-Shopify-Triggered-At", &triggered)] {
                if let Ok(value) = http::HeaderValue::from_str(value) {
                    headers.insert(name, value);
                }
            }
            headers.insert("X-Shopify-Topic", "orders/create".parse().unwrap());
            headers.insert("X-Shopify-Webhook-Id", "w".parse().unwrap());
            let req = WebhookRequest { method: "POST".into(), url: String::new(), headers, body: Bytes::from(body) };
            let _ = verify(&req, &[Secret::new("s")]);
            let _ = normalise(&req, 0);
        }
    }
}
