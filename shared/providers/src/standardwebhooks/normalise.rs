//! The normalised fields of a Standard Webhooks delivery. The event id is
//! the `webhook-id` header (stable across a sender's retries); the type and
//! time come from the payload's `type` and `timestamp` where the sender
//! follows the specification's payload shape, else from the headers.

use portage_core::provider::WebhookRequest;
use portage_core::{NormalizedEvent, RejectReason};
use serde::Deserialize;

use super::verify::{headers, parse_timestamp};
use crate::fields::MAX_LEN;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Payload {
    #[serde(rename = "type")]
    event_type: Option<String>,
    data: Option<DataHead>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DataHead {
    id: Option<String>,
    object: Option<String>,
}

/// Normalises a verified delivery; the body must be JSON.
pub(super) fn normalise(request: &WebhookRequest) -> Result<NormalizedEvent, RejectReason> {
    let headers = headers(request)?;
    let value: serde_json::Value = serde_json::from_slice(&request.body).map_err(|_| RejectReason::MalformedPayload)?;
    let payload: Payload = serde_json::from_value(value).unwrap_or_default();
    let event_type = payload.event_type.filter(|t| !t.is_empty() && t.len() <= MAX_LEN);
    if headers.id.len() > MAX_LEN {
        return Err(RejectReason::MalformedPayload);
    }
    let data = payload.data.unwrap_or_default();
    Ok(NormalizedEvent {
        event_id: headers.id.to_owned(),
        event_type: event_type.unwrap_or_else(|| "message".to_owned()),
        occurred_at: parse_timestamp(headers.timestamp).ok_or(RejectReason::MalformedSignature)?,
        account: None,
        object_kind: data.object.filter(|k| k.len() <= MAX_LEN),
        object_id: data.id.filter(|i| i.len() <= MAX_LEN),
        livemode: None,
    })
}
