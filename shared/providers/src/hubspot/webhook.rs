//! HubSpot's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use std::time::Duration;

use portage_core::provider::{Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use serde::Deserialize;

use super::verify;
use crate::fields::{MAX_LEN, batch_id, id_text, shared_type};

/// One element of a webhook batch (HubSpot sends up to 100 per request).
#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "eventId")]
    event_id: serde_json::Value,
    #[serde(rename = "portalId", default)]
    portal_id: Option<serde_json::Value>,
    #[serde(rename = "occurredAt", default)]
    occurred_at_ms: Option<i64>,
    #[serde(rename = "subscriptionType", default)]
    subscription_type: Option<String>,
    #[serde(rename = "objectId", default)]
    object_id: Option<serde_json::Value>,
}

/// One Portage event per request. Its id is the single notification's
/// `eventId`, or for a batch `batch:` and the SHA-256 of its sorted event
/// ids, so HubSpot's retry of the same batch is a duplicate however it is
/// formatted. The sync handler walks the notifications.
fn normalise(request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
    let batch: Vec<Notification> = serde_json::from_slice(&request.body).map_err(|_| RejectReason::MalformedPayload)?;
    let ids = batch
        .iter()
        .map(|n| id_text(Some(&n.event_id), MAX_LEN))
        .collect::<Option<Vec<String>>>()
        .ok_or(RejectReason::MalformedPayload)?;
    let first = batch.first().ok_or(RejectReason::MalformedPayload)?;
    let types: Vec<&str> = batch.iter().filter_map(|n| n.subscription_type.as_deref()).collect();
    let occurred_at =
        batch.iter().filter_map(|n| n.occurred_at_ms).max().map_or(received_at_secs, |ms| ms.div_euclid(1000));
    let single = batch.len() == 1;
    Ok(NormalizedEvent {
        event_id: batch_id(ids).ok_or(RejectReason::MalformedPayload)?,
        event_type: shared_type(&types),
        occurred_at,
        account: id_text(first.portal_id.as_ref(), MAX_LEN),
        object_kind: single
            .then(|| first.subscription_type.as_deref().and_then(|t| t.split('.').next()).map(str::to_owned))
            .flatten(),
        object_id: single.then(|| id_text(first.object_id.as_ref(), MAX_LEN)).flatten(),
        livemode: None,
    })
}

/// The HubSpot provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct HubSpot;

impl Provider for HubSpot {
    fn name(&self) -> &'static str {
        "hubspot"
    }

    fn default_tolerance(&self) -> Duration {
        verify::DEFAULT_TOLERANCE
    }

    fn verify(&self, request: &WebhookRequest, secrets: &[Secret], options: VerifyOptions) -> Result<(), RejectReason> {
        verify::verify(request, secrets, options)
    }

    fn normalise(&self, request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise(request, received_at_secs)
    }

    fn sign(&self, url: &str, body: &[u8], secret: &Secret, now_secs: i64) -> Vec<(String, String)> {
        let timestamp = (now_secs.saturating_mul(1000)).to_string();
        let uri = verify::signed_uri(url);
        vec![
            (verify::V3_HEADER.to_owned(), verify::v3("POST", &uri, body, &timestamp, secret)),
            (verify::TIMESTAMP_HEADER.to_owned(), timestamp),
        ]
    }

    fn generate_secret(&self) -> Secret {
        let hex = |n| crate::signing::random_secret(n).to_ascii_lowercase();
        Secret::new(format!("{}-{}-{}-{}-{}", hex(8), hex(4), hex(4), hex(4), hex(12)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;

    fn request(body: &'static [u8]) -> WebhookRequest {
        WebhookRequest {
            method: "POST".into(),
            url: String::new(),
            headers: HeaderMap::new(),
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn a_batch_is_one_event_whatever_its_order() {
        let a = normalise(&request(br#"[{"eventId":2,"portalId":62515,"occurredAt":1795689000000,"subscriptionType":"contact.creation","objectId":1},{"eventId":1,"portalId":62515,"occurredAt":1795689100000,"subscriptionType":"contact.creation","objectId":2}]"#), 0).unwrap();
        let b = normalise(&request(br#"[ {"eventId":1,"portalId":62515,"occurredAt":1795689100000,"subscriptionType":"contact.creation","objectId":2}, {"eventId":2,"portalId":62515,"occurredAt":1795689000000,"subscriptionType":"contact.creation","objectId":1} ]"#), 0).unwrap();
        assert_eq!(a.event_id, b.event_id);
        assert!(a.event_id.starts_with("batch:"));
        assert_eq!(
            (a.event_type.as_str(), a.occurred_at, a.account.as_deref()),
            ("contact.creation", 1_795_689_100, Some("62515"))
        );
        let one = normalise(&request(br#"[{"eventId":7,"subscriptionType":"deal.propertyChange","objectId":99}]"#), 5)
            .unwrap();
        assert_eq!(
            (one.event_id.as_str(), one.object_kind.as_deref(), one.object_id.as_deref(), one.occurred_at),
            ("7", Some("deal"), Some("99"), 5)
        );
        assert_eq!(normalise(&request(b"[]"), 0), Err(RejectReason::MalformedPayload));
    }
}
