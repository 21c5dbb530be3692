//! Etsy's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use std::time::Duration;

use portage_core::provider::{Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use serde::Deserialize;

use crate::fields::{MAX_LEN, id_text};
use crate::standardwebhooks::{self, verify as standard};

/// What Etsy's payload carries: the event's type, the shop, and the URL of
/// the resource to fetch (the body has no order details).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Payload {
    event_type: Option<String>,
    shop_id: Option<serde_json::Value>,
    resource_url: Option<String>,
}

/// The resource's id: the last path segment of `resource_url`
/// (`…/shops/{shop_id}/receipts/{receipt_id}`), and its kind the segment before.
fn resource(url: &str) -> (Option<String>, Option<String>) {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let mut segments = path.rsplit('/').filter(|s| !s.is_empty());
    let id = segments.next().filter(|s| s.len() <= 64).map(str::to_owned);
    let kind = segments.next().filter(|s| s.len() <= 64).map(str::to_owned);
    (kind, id)
}

fn normalise(request: &WebhookRequest) -> Result<NormalizedEvent, RejectReason> {
    let headers = standard::headers(request)?;
    if headers.id.len() > MAX_LEN {
        return Err(RejectReason::MalformedPayload);
    }
    let payload: Payload = serde_json::from_slice(&request.body).map_err(|_| RejectReason::MalformedPayload)?;
    let event_type =
        payload.event_type.filter(|t| !t.is_empty() && t.len() <= MAX_LEN).ok_or(RejectReason::MalformedPayload)?;
    let (object_kind, object_id) = payload.resource_url.as_deref().map(resource).unwrap_or_default();
    let account = id_text(payload.shop_id.as_ref(), MAX_LEN);
    Ok(NormalizedEvent {
        event_id: headers.id.to_owned(),
        event_type,
        occurred_at: standard::parse_timestamp(headers.timestamp).ok_or(RejectReason::MalformedSignature)?,
        account,
        object_kind,
        object_id,
        livemode: None,
    })
}

/// The Etsy provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct Etsy;

impl Provider for Etsy {
    fn name(&self) -> &'static str {
        "etsy"
    }

    fn default_tolerance(&self) -> Duration {
        standard::DEFAULT_TOLERANCE
    }

    fn verify(&self, request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
        standard::verify(request, secrets, options)
    }

    fn normalise(&self, request: &WebhookRequest, _received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise(request)
    }

    fn sign(&self, _url: &str, body: &[u8], secret: &Secret, now_secs: i64) -> Vec<(String, String)> {
        standardwebhooks::signed_headers(body, secret, now_secs)
    }

    fn generate_secret(&self) -> Secret {
        standardwebhooks::generate_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;

    #[test]
    fn the_receipt_to_fetch_is_the_object() {
        let body = br#"{"event_type":"ORDER_PAID","shop_id":12345678,"resource_url":"https://openapi.etsy.com/v3/application/shops/12345678/receipts/3321954221"}"#;
        let mut headers = HeaderMap::new();
        for (name, value) in
            [("webhook-id", "msg_1"), ("webhook-timestamp", "1795689600"), ("webhook-signature", "v1,AA==")]
        {
            headers.insert(name, value.parse().unwrap());
        }
        let request =
            WebhookRequest { method: "POST".into(), url: String::new(), headers, body: Bytes::from_static(body) };
        let event = normalise(&request).unwrap();
        assert_eq!(event.event_type, "ORDER_PAID");
        assert_eq!((event.object_kind.as_deref(), event.object_id.as_deref()), (Some("receipts"), Some("3321954221")));
        assert_eq!((event.account.as_deref(), event.occurred_at), (Some("12345678"), 1_795_689_600));
    }
}
