//! WooCommerce's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portage_core::provider::{HandshakeReply, Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};
use serde::Deserialize;
use serde_json::json;

use crate::fields::{MAX_LEN, id_text, rfc3339_secs};
use crate::signing::{ct_eq, hmac_sha256, optional_header, required_header};

const SIGNATURE_HEADER: &str = "X-WC-Webhook-Signature";
const TOPIC_HEADER: &str = "X-WC-Webhook-Topic";
const DELIVERY_HEADER: &str = "X-WC-Webhook-Delivery-ID";
const SOURCE_HEADER: &str = "X-WC-Webhook-Source";

/// The secret as WooCommerce keys its HMAC: `wp_specialchars_decode($secret,
/// ENT_QUOTES)`, which turns `&amp;`, `&lt;`, `&gt;`, `&quot;` and `&#039;`
/// (and their numeric forms) back into characters.
pub fn signing_key(secret: &Secret) -> String {
    const ENTITIES: [(&str, &str); 9] = [
        ("&lt;", "<"),
        ("&#060;", "<"),
        ("&gt;", ">"),
        ("&#062;", ">"),
        ("&quot;", "\""),
        ("&#034;", "\""),
        ("&#039;", "'"),
        ("&#x27;", "'"),
        ("&#038;", "&"),
    ];
    let mut key = secret.expose().to_owned();
    for (entity, character) in ENTITIES {
        key = key.replace(entity, character);
    }
    // `&amp;` last, so `&amp;lt;` becomes `&lt;` and not `<`.
    key.replace("&amp;", "&")
}

/// Base64 HMAC-SHA256 of the body, as `WC_Webhook::generate_signature` makes it.
pub fn signature(body: &[u8], secret: &Secret) -> String {
    STANDARD.encode(hmac_sha256(signing_key(secret).as_bytes(), &[body]))
}

fn verify(request: &WebhookRequest, secrets: &[Secret]) -> Result<(), RejectReason> {
    if secrets.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    let given = required_header(request, SIGNATURE_HEADER)?;
    let matched = secrets
        .iter()
        .fold(false, |found, secret| found | ct_eq(signature(&request.body, secret).as_bytes(), given.as_bytes()));
    if matched { Ok(()) } else { Err(RejectReason::SignatureMismatch) }
}

/// The ping: `webhook_id=<digits>`, form-encoded, unsigned.
fn is_ping(request: &WebhookRequest) -> bool {
    let body = request.body.strip_prefix(b"webhook_id=");
    optional_header(request, SIGNATURE_HEADER).is_none()
        && body.is_some_and(|id| !id.is_empty() && id.len() <= 20 && id.iter().all(u8::is_ascii_digit))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Resource {
    id: Option<serde_json::Value>,
    date_modified_gmt: Option<String>,
    date_created_gmt: Option<String>,
}

/// The event id is `{topic}:{resource id}:{date_modified_gmt}` where the
/// payload has them, so the same change fired twice (WooCommerce often
/// saves an object twice) is one event; else the delivery id.
fn normalise(request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
    let header = |name| optional_header(request, name).filter(|v| !v.is_empty() && v.len() <= MAX_LEN);
    let (Some(topic), Some(delivery)) = (header(TOPIC_HEADER), header(DELIVERY_HEADER)) else {
        return Err(RejectReason::MalformedPayload);
    };
    let value: serde_json::Value = serde_json::from_slice(&request.body).map_err(|_| RejectReason::MalformedPayload)?;
    let resource: Resource = serde_json::from_value(value).unwrap_or_default();
    let id = id_text(resource.id.as_ref(), 64);
    let modified = resource.date_modified_gmt.or(resource.date_created_gmt).filter(|m| m.len() <= 40);
    let event_id = match (&id, &modified) {
        (Some(id), Some(modified)) => format!("{topic}:{id}:{modified}"),
        _ => delivery.to_owned(),
    };
    let occurred_at = modified.as_deref().and_then(rfc3339_secs).unwrap_or(received_at_secs);
    Ok(NormalizedEvent {
        event_id,
        event_type: topic.to_owned(),
        occurred_at,
        account: header(SOURCE_HEADER).map(str::to_owned),
        object_kind: topic.split('.').next().map(str::to_owned),
        object_id: id,
        livemode: None,
    })
}

/// The WooCommerce provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct WooCommerce;

impl Provider for WooCommerce {
    fn name(&self) -> &'static str {
        "woocommerce"
    }

    fn unsigned_handshake(&self, request: &WebhookRequest, _secrets: &[Secret]) -> Option<HandshakeReply> {
        // Sent unsigned when a webhook is saved; WooCommerce keeps the webhook
        // active only if this is answered 200.
        is_ping(request).then(|| HandshakeReply { status: 200, body: json!({ "received": true, "ping": true }) })
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

    fn sign(&self, _url: &str, body: &[u8], secret: &Secret, _now_secs: i64) -> Vec<(String, String)> {
        let delivery = crate::signing::sha256_hex(body);
        vec![
            (SIGNATURE_HEADER.to_owned(), signature(body, secret)),
            (TOPIC_HEADER.to_owned(), "order.updated".to_owned()),
            ("X-WC-Webhook-Resource".to_owned(), "order".to_owned()),
            ("X-WC-Webhook-Event".to_owned(), "updated".to_owned()),
            ("X-WC-Webhook-ID".to_owned(), "1".to_owned()),
            (DELIVERY_HEADER.to_owned(), delivery[..32].to_owned()),
            (SOURCE_HEADER.to_owned(), "https://shop.example.com/".to_owned()),
        ]
    }

    fn generate_secret(&self) -> Secret {
        Secret::new(crate::signing::random_secret(50))
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
    fn secrets_are_entity_decoded_as_wordpress_does() {
        assert_eq!(signing_key(&Secret::new("a&amp;b&lt;c&#039;d&amp;lt;")), "a&b<c'd&lt;");
        assert_eq!(signature(b"{}", &Secret::new("a&amp;b")), signature(b"{}", &Secret::new("a&b")));
    }

    #[test]
    fn the_ping_is_answered_unsigned_and_nothing_else_is() {
        assert!(WooCommerce.unsigned_handshake(&request(&[], b"webhook_id=17"), &[]).is_some());
        assert!(WooCommerce.unsigned_handshake(&request(&[], b"webhook_id=17&x=1"), &[]).is_none());
        assert!(WooCommerce.unsigned_handshake(&request(&[(SIGNATURE_HEADER, "x")], b"webhook_id=17"), &[]).is_none());
    }

    #[test]
    fn the_same_change_fired_twice_is_one_event() {
        let body = br#"{"id": 727, "date_modified_gmt": "2026-11-20T10:00:00"}"#;
        let first = request(&[(TOPIC_HEADER, "order.updated"), (DELIVERY_HEADER, "d1")], body);
        let second = request(&[(TOPIC_HEADER, "order.updated"), (DELIVERY_HEADER, "d2")], body);
        let (a, b) = (normalise(&first, 0).unwrap(), normalise(&second, 0).unwrap());
        assert_eq!(a.event_id, "order.updated:727:2026-11-20T10:00:00");
        assert_eq!(a.event_id, b.event_id);
        assert_eq!(a.occurred_at, 1_795_168_800);
    }

    proptest! {
        #[test]
        fn never_panics(sig in ".{0,100}", body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = http::HeaderValue::from_str(&sig) {
                headers.insert(SIGNATURE_HEADER, value);
            }
            headers.insert(TOPIC_HEADER, "order.updated".parse().unwrap());
            headers.insert(DELIVERY_HEADER, "d".parse().unwrap());
            let req = WebhookRequest { method: "POST".into(), url: String::new(), headers, body: Bytes::from(body) };
            let _ = verify(&req, &[Secret::new("s")]);
            let _ = normalise(&req, 0);
            let _ = WooCommerce.unsigned_handshake(&req, &[]);
        }
    }
}
