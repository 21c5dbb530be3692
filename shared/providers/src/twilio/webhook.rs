//! Twilio's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use portage_core::provider::{Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};

use super::verify;
use crate::fields::MAX_LEN;
use crate::signing::{body_id, optional_header};

/// Twilio's idempotency token: the same on a retry of one callback.
const IDEMPOTENCY_HEADER: &str = "I-Twilio-Idempotency-Token";

/// Event id: Twilio's idempotency token where it sends one; else the
/// resource's Sid and status (each status callback is its own event); else
/// the SHA-256 of the body.
fn normalise(request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
    let params = if verify::is_form(request) { verify::form_params(&request.body) } else { Default::default() };
    let param =
        |name: &str| params.get(name).and_then(|v| v.iter().next()).filter(|v| !v.is_empty() && v.len() <= MAX_LEN);
    let (kind, sid, status) = if let Some(sid) = param("MessageSid").or(param("SmsSid")) {
        ("message", Some(sid), param("MessageStatus").or(param("SmsStatus")).map_or("received", |s| s.as_ref()))
    } else if let Some(sid) = param("CallSid") {
        ("call", Some(sid), param("CallStatus").map_or("received", |s| s.as_ref()))
    } else {
        ("webhook", None, "received")
    };
    let token = optional_header(request, IDEMPOTENCY_HEADER).filter(|t| !t.is_empty() && t.len() <= MAX_LEN);
    let event_id = match (token, sid) {
        (Some(token), _) => token.to_owned(),
        (None, Some(sid)) => format!("{sid}:{status}"),
        (None, None) => body_id(&request.body),
    };
    Ok(NormalizedEvent {
        event_id,
        event_type: format!("{kind}.{status}"),
        occurred_at: received_at_secs,
        account: param("AccountSid").map(|a| a.to_string()),
        object_kind: sid.map(|_| kind.to_owned()),
        object_id: sid.map(|s| s.to_string()),
        livemode: None,
    })
}

/// The Twilio provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct Twilio;

impl Provider for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn verify(
        &self,
        request: &WebhookRequest,
        secrets: &[Secret],
        _options: VerifyOptions,
    ) -> Result<(), RejectReason> {
        verify::verify(request, secrets)
    }

    fn normalise(&self, request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise(request, received_at_secs)
    }

    fn sign(&self, url: &str, body: &[u8], secret: &Secret, _now_secs: i64) -> Vec<(String, String)> {
        let signature =
            verify::compute(url, &verify::form_params(body), secret.expose().as_bytes(), verify::Algorithm::Sha1);
        vec![
            (verify::SIGNATURE_HEADER.to_owned(), signature),
            ("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned()),
        ]
    }

    fn generate_secret(&self) -> Secret {
        Secret::new(crate::signing::random_secret(32).to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;

    #[test]
    fn each_status_callback_is_its_own_event() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        let request = |body: &'static [u8]| WebhookRequest {
            method: "POST".into(),
            url: String::new(),
            headers: headers.clone(),
            body: Bytes::from_static(body),
        };
        let sent = normalise(&request(b"MessageSid=SM1&MessageStatus=sent&AccountSid=AC9"), 3).unwrap();
        let delivered = normalise(&request(b"MessageSid=SM1&MessageStatus=delivered&AccountSid=AC9"), 3).unwrap();
        assert_eq!((sent.event_id.as_str(), sent.event_type.as_str()), ("SM1:sent", "message.sent"));
        assert_ne!(sent.event_id, delivered.event_id);
        assert_eq!(sent.account.as_deref(), Some("AC9"));
        let call = normalise(&request(b"CallSid=CA1&CallStatus=completed"), 3).unwrap();
        assert_eq!(call.event_type, "call.completed");
    }
}
