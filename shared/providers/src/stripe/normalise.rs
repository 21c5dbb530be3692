//! Extracts the normalised fields from a Stripe event body (a snapshot event:
//! `{"id": "evt_…", "type", "created", "livemode", "account"?, "data": {"object"}}`).

use portage_core::{NormalizedEvent, RejectReason};
use serde::Deserialize;

/// Longest event id we record; Stripe's are about 30 characters.
const MAX_ID_LEN: usize = 255;

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    #[serde(default)]
    livemode: Option<bool>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(default)]
    object: Option<ObjectHead>,
}

#[derive(Deserialize)]
struct ObjectHead {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    object: Option<String>,
}

/// Normalises a verified Stripe event body.
pub(super) fn normalise(body: &[u8]) -> Result<NormalizedEvent, RejectReason> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|_| RejectReason::MalformedPayload)?;
    let valid_id = !envelope.id.is_empty() && envelope.id.len() <= MAX_ID_LEN;
    if !valid_id || envelope.event_type.is_empty() || envelope.event_type.len() > MAX_ID_LEN {
        return Err(RejectReason::MalformedPayload);
    }
    let object = envelope.data.and_then(|d| d.object);
    Ok(NormalizedEvent {
        event_id: envelope.id,
        event_type: envelope.event_type,
        occurred_at: envelope.created,
        account: envelope.account,
        object_kind: object.as_ref().and_then(|o| o.object.clone()),
        object_id: object.and_then(|o| o.id),
        livemode: envelope.livemode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_envelope() {
        let body = br#"{"id":"evt_1","object":"event","type":"customer.created","created":1700000000,
            "livemode":false,"account":"acct_9","data":{"object":{"id":"cus_1","object":"customer"}}}"#;
        let e = normalise(body).unwrap();
        assert_eq!(e.event_id, "evt_1");
        assert_eq!(e.event_type, "customer.created");
        assert_eq!(e.occurred_at, 1_700_000_000);
        assert_eq!(e.account.as_deref(), Some("acct_9"));
        assert_eq!(e.object_kind.as_deref(), Some("customer"));
        assert_eq!(e.object_id.as_deref(), Some("cus_1"));
        assert_eq!(e.livemode, Some(false));
    }

    #[test]
    fn refuses_what_is_not_an_event() {
        for body in [
            &b"not json"[..],
            b"{}",
            br#"{"id":"","type":"x","created":1}"#,
            br#"{"id":"e","type":"x","created":"soon"}"#,
            b"\xff\xfe",
        ] {
            assert_eq!(normalise(body), Err(RejectReason::MalformedPayload));
        }
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = normalise(&body);
        }

        #[test]
        fn never_panics_on_near_json(id in ".*", kind in ".*", created in any::<i64>()) {
            let body = serde_json::json!({"id": id, "type": kind, "created": created, "data": {"object": {"id": 5}}});
            let _ = normalise(body.to_string().as_bytes());
        }
    }
}
