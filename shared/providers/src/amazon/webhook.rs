//! Amazon SP-API's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use portage_core::provider::{Provider, Transport, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use serde::Deserialize;

use crate::fields::{MAX_LEN, rfc3339_secs};

/// An SP-API notification (`NotificationVersion` 1.0).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Notification {
    notification_type: String,
    #[serde(default)]
    event_time: Option<String>,
    notification_metadata: Metadata,
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    notification_id: String,
    #[serde(default)]
    publish_time: Option<String>,
    #[serde(default)]
    application_id: Option<String>,
}

/// An EventBridge event carrying a notification in its `detail`.
#[derive(Deserialize)]
struct BridgeEvent {
    detail: Notification,
}

/// The seller the payload names, where it names one.
fn seller(payload: Option<&serde_json::Value>) -> Option<String> {
    let payload = payload?.as_object()?;
    payload.values().find_map(|inner| {
        let inner = inner.as_object()?;
        ["SellerId", "MerchantId", "SellingPartnerId"].iter().find_map(|k| inner.get(*k)?.as_str().map(str::to_owned))
    })
}

fn normalise(body: &[u8], received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
    let notification = serde_json::from_slice::<Notification>(body)
        .or_else(|_| serde_json::from_slice::<BridgeEvent>(body).map(|e| e.detail))
        .map_err(|_| RejectReason::MalformedPayload)?;
    let valid = |s: &str| !s.is_empty() && s.len() <= MAX_LEN;
    let id = notification.notification_metadata.notification_id;
    if !valid(&id) || !valid(&notification.notification_type) {
        return Err(RejectReason::MalformedPayload);
    }
    let occurred_at = notification
        .event_time
        .as_deref()
        .and_then(rfc3339_secs)
        .or_else(|| notification.notification_metadata.publish_time.as_deref().and_then(rfc3339_secs))
        .unwrap_or(received_at_secs);
    Ok(NormalizedEvent {
        event_id: id,
        event_type: notification.notification_type,
        occurred_at,
        account: seller(notification.payload.as_ref())
            .or(notification.notification_metadata.application_id)
            .filter(|a| a.len() <= MAX_LEN),
        object_kind: None,
        object_id: None,
        livemode: None,
    })
}

/// The Amazon SP-API provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct Amazon;

impl Provider for Amazon {
    fn name(&self) -> &'static str {
        "amazon"
    }

    fn transport(&self) -> Transport {
        Transport::Queue
    }

    /// Nothing is signed: an HTTP delivery claiming to be Amazon's is refused.
    fn verify(
        &self,
        _request: &WebhookRequest,
        _secrets: &[Secret],
        _options: VerifyOptions,
    ) -> Result<(), RejectReason> {
        Err(RejectReason::NoSupportedSignature)
    }

    fn normalise(&self, request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise(&request.body, received_at_secs)
    }

    /// No signature exists; nothing to add.
    fn sign(&self, _url: &str, _body: &[u8], _secret: &Secret, _now_secs: i64) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Connections need no signing secret; this one is never checked.
    fn generate_secret(&self) -> Secret {
        Secret::new("amazon-notifications-are-authenticated-by-their-queue")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ORDER_CHANGE: &[u8] = br#"{"NotificationVersion":"1.0","NotificationType":"ORDER_CHANGE","PayloadVersion":"1.0","EventTime":"2026-11-20T10:00:00.000Z","Payload":{"OrderChangeNotification":{"NotificationLevel":"OrderLevel","SellerId":"A3TH9S8BH6GOGM","AmazonOrderId":"903-1671087-0812628"}},"NotificationMetadata":{"ApplicationId":"amzn1.sellerapps.app.f1234566-aaec-55a6-b123-bcb752069ec5","SubscriptionId":"93b098e1-c42-4f6c-9b6f-cbd4a06bc9ba","PublishTime":"2026-11-20T10:00:01.000Z","NotificationId":"0e999936-da2c-4f9c-9fc2-02b67bae5f4a"}}"#;

    #[test]
    fn reads_a_notification_and_its_eventbridge_wrapping() {
        let event = normalise(ORDER_CHANGE, 0).unwrap();
        assert_eq!(
            (event.event_id.as_str(), event.event_type.as_str()),
            ("0e999936-da2c-4f9c-9fc2-02b67bae5f4a", "ORDER_CHANGE")
        );
        assert_eq!((event.occurred_at, event.account.as_deref()), (1_795_168_800, Some("A3TH9S8BH6GOGM")));
        let wrapped = format!(
            r#"{{"version":"0","id":"e1","detail-type":"ORDER_CHANGE","source":"aws.partner/sellingpartnerapi.amazon/amzn1.sellerapps.app.f1","detail":{}}}"#,
            std::str::from_utf8(ORDER_CHANGE).unwrap()
        );
        assert_eq!(normalise(wrapped.as_bytes(), 0).unwrap(), event);
        assert_eq!(normalise(b"{}", 0), Err(RejectReason::MalformedPayload));
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = normalise(&body, 0);
        }
    }
}
