//! Hostile input against every provider in the registry: arbitrary bodies
//! (non-UTF-8, truncated, huge), arbitrary and oversized header values under
//! every name any provider reads, arbitrary URLs and methods. Verification,
//! the handshakes, normalisation and the acknowledgement must answer, never
//! panic.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use portage_core::Secret;
use portage_core::provider::{VerifyOptions, WebhookRequest};
use proptest::prelude::*;

/// Every header name a provider module reads.
const HEADERS: [&str; 38] = [
    "stripe-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "x-hub-signature-256",
    "x-github-delivery",
    "x-github-event",
    "x-shopify-hmac-sha256",
    "x-shopify-topic",
    "x-shopify-shop-domain",
    "x-shopify-api-version",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    "x-shopify-triggered-at",
    "shopify-hmac-sha256",
    "shopify-topic",
    "x-wc-webhook-signature",
    "x-wc-webhook-topic",
    "x-wc-webhook-delivery-id",
    "x-pfy-signature",
    "x-adobe-commerce-webhook-signature",
    "x-hubspot-signature-v3",
    "x-hubspot-request-timestamp",
    "x-hubspot-signature",
    "x-hubspot-signature-version",
    "x-twilio-signature",
    "x-twilio-webhooks-signature-settings",
    "i-twilio-idempotency-token",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "x-twilio-email-event-webhook-signature",
    "x-twilio-email-event-webhook-timestamp",
    "x-portage-token",
    "x-portage-event-id",
    "content-type",
];

fn request(values: &[Vec<u8>], body: Vec<u8>, url: String, method: String) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    for (name, value) in HEADERS.iter().zip(values) {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    WebhookRequest { method, url, headers, body: Bytes::from(body) }
}

fn exercise(request: &WebhookRequest, secret: &str, now: i64) {
    let secrets = [Secret::new(secret)];
    for provider in portage_providers::registry().iter() {
        for legacy_schemes in [false, true] {
            let options = VerifyOptions { tolerance: provider.default_tolerance(), now_secs: now, legacy_schemes };
            let _ = provider.verify(request, &secrets, options);
        }
        let _ = provider.unsigned_handshake(request, &secrets);
        let _ = provider.signed_handshake(request);
        let _ = provider.normalise(request, now);
        let _ = provider.acknowledgement(request);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_input_makes_a_provider_panic(
        values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), HEADERS.len()),
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        url in ".{0,200}",
        method in "[A-Z]{0,8}",
        secret in ".{0,64}",
        now in any::<i64>(),
    ) {
        exercise(&request(&values, body, url, method), &secret, now);
    }

    #[test]
    fn plausible_but_wrong_json_makes_no_provider_panic(
        json in r#"\[?\{("[a-zA-Z_]{1,20}": ?("[^"\\]{0,30}"|[0-9]{1,20}|null|\[\]|\{\}),? ?){0,8}\}\]?"#,
        now in any::<i64>(),
    ) {
        let values = vec![b"v1,AAAA".to_vec(); HEADERS.len()];
        exercise(&request(&values, json.into_bytes(), "https://h/webhooks/x?a=b".into(), "POST".into()), "s", now);
    }
}

#[test]
fn huge_headers_and_bodies_are_answered() {
    let values = vec![vec![b'a'; 16 * 1024]; HEADERS.len()];
    let body = vec![0xff; 1024 * 1024];
    exercise(&request(&values, body, "https://h/".repeat(1000), "POST".into()), "secret", 1_795_689_600);
    let truncated = br#"{"id":"evt_1","type":"customer.created","created":17"#.to_vec();
    exercise(&request(&vec![Vec::new(); HEADERS.len()], truncated, String::new(), "POST".into()), "s", 0);
}
