//! Salesforce's webhook source: verification, handshakes, acknowledgement
//! and normalisation of its deliveries (the only piece its webhook function
//! links).

use portage_core::provider::{Acknowledgement, Provider, VerifyOptions, WebhookRequest};
use portage_core::{NormalizedEvent, RejectReason, Secret};

use super::outbound;
use crate::fields::{MAX_LEN, batch_id};
use crate::signing::{body_id, ct_eq, optional_header, sha256_hex};

/// The header a Flow callout's Named Credential adds.
const TOKEN_HEADER: &str = "X-Portage-Token";
/// The query parameter an outbound message's endpoint URL carries.
const TOKEN_PARAM: &str = "token";
const ACK: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>"#,
    r#"<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>"#,
    r#"</soapenv:Body></soapenv:Envelope>"#
);

/// The token the request presents: the `X-Portage-Token` header, else the
/// endpoint URL's `token` query parameter.
fn token(request: &WebhookRequest) -> Option<String> {
    if let Some(header) = optional_header(request, TOKEN_HEADER) {
        return Some(header.to_owned());
    }
    let query = request.url.split_once('?')?.1.split('#').next()?;
    form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == TOKEN_PARAM).map(|(_, v)| v.into_owned())
}

fn verify(request: &WebhookRequest, secrets: &[Secret]) -> Result<(), RejectReason> {
    if secrets.is_empty() {
        return Err(RejectReason::NoSecretConfigured);
    }
    let given = token(request).filter(|t| !t.is_empty()).ok_or(RejectReason::MissingSignature)?;
    // Compared as digests: equal lengths, so the time says nothing of the token's.
    let given = sha256_hex(given.as_bytes());
    let matched = secrets
        .iter()
        .fold(false, |found, s| found | ct_eq(sha256_hex(s.expose().as_bytes()).as_bytes(), given.as_bytes()));
    if matched { Ok(()) } else { Err(RejectReason::SignatureMismatch) }
}

fn is_soap(request: &WebhookRequest) -> bool {
    request.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

/// An outbound message is one event: id its single notification's `Id`, or
/// `batch:` and the SHA-256 of the sorted ids (a redelivery is a duplicate).
/// A Flow callout's JSON: id its `X-Portage-Event-Id` header, else the body's SHA-256.
fn normalise(request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
    if !is_soap(request) {
        serde_json::from_slice::<serde_json::Value>(&request.body).map_err(|_| RejectReason::MalformedPayload)?;
        let id = optional_header(request, "X-Portage-Event-Id").filter(|i| !i.is_empty() && i.len() <= MAX_LEN);
        return Ok(NormalizedEvent {
            event_id: id.map_or_else(|| body_id(&request.body), str::to_owned),
            event_type: "flow.callout".to_owned(),
            occurred_at: received_at_secs,
            account: None,
            object_kind: None,
            object_id: None,
            livemode: None,
        });
    }
    let message = outbound::parse(&request.body).ok_or(RejectReason::MalformedPayload)?;
    let ids: Vec<String> =
        message.notification_ids.into_iter().filter(|i| !i.is_empty() && i.len() <= MAX_LEN).collect();
    let single = ids.len() == 1;
    let object_type = message.object_type.filter(|t| !t.is_empty() && t.len() <= MAX_LEN);
    Ok(NormalizedEvent {
        event_id: batch_id(ids).ok_or(RejectReason::MalformedPayload)?,
        event_type: format!("outbound_message.{}", object_type.as_deref().unwrap_or("object")),
        occurred_at: received_at_secs,
        account: message.organization.filter(|o| o.len() <= MAX_LEN),
        object_kind: object_type,
        object_id: if single { message.object_id.filter(|i| i.len() <= MAX_LEN) } else { None },
        livemode: None,
    })
}

/// The Salesforce provider module.
#[derive(Debug, Clone, Copy, Default)]
pub struct Salesforce;

impl Provider for Salesforce {
    fn name(&self) -> &'static str {
        "salesforce"
    }

    fn verify(
        &self,
        request: &WebhookRequest,
        secrets: &[Secret],
        _options: VerifyOptions,
    ) -> Result<(), RejectReason> {
        verify(request, secrets)
    }

    fn acknowledgement(&self, request: &WebhookRequest) -> Option<Acknowledgement> {
        // Outbound messaging redelivers for 24 hours until it reads this.
        is_soap(request).then(|| Acknowledgement { content_type: "text/xml; charset=utf-8", body: ACK.to_owned() })
    }

    fn normalise(&self, request: &WebhookRequest, received_at_secs: i64) -> Result<NormalizedEvent, RejectReason> {
        normalise(request, received_at_secs)
    }

    fn sign(&self, _url: &str, body: &[u8], secret: &Secret, _now_secs: i64) -> Vec<(String, String)> {
        let content_type = if body.first() == Some(&b'<') { "text/xml; charset=utf-8" } else { "application/json" };
        vec![
            (TOKEN_HEADER.to_owned(), secret.expose().to_owned()),
            ("Content-Type".to_owned(), content_type.to_owned()),
        ]
    }

    fn generate_secret(&self) -> Secret {
        Secret::new(crate::signing::random_secret(40))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;
    use proptest::prelude::*;

    fn request(url: &str, header: Option<&str>, body: &'static [u8]) -> WebhookRequest {
        let mut headers = HeaderMap::new();
        if let Some(token) = header {
            headers.insert(TOKEN_HEADER, token.parse().unwrap());
        }
        WebhookRequest { method: "POST".into(), url: url.into(), headers, body: Bytes::from_static(body) }
    }

    #[test]
    fn the_token_comes_from_the_url_or_the_header() {
        let secret = [Secret::new("t0ken")];
        assert_eq!(verify(&request("https://h/webhooks/salesforce?token=t0ken", None, b"<x/>"), &secret), Ok(()));
        assert_eq!(verify(&request("https://h/webhooks/salesforce", Some("t0ken"), b"{}"), &secret), Ok(()));
        assert_eq!(
            verify(&request("https://h/webhooks/salesforce?token=nope", None, b"<x/>"), &secret),
            Err(RejectReason::SignatureMismatch)
        );
        assert_eq!(
            verify(&request("https://h/webhooks/salesforce", None, b"<x/>"), &secret),
            Err(RejectReason::MissingSignature)
        );
        assert!(
            Salesforce
                .acknowledgement(&request("", None, b" <x/>"))
                .is_some_and(|a| a.body.contains("<Ack>true</Ack>"))
        );
        assert!(Salesforce.acknowledgement(&request("", None, b"{}")).is_none());
    }

    proptest! {
        #[test]
        fn never_panics(url in ".{0,100}", body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let req = WebhookRequest { method: "POST".into(), url, headers: HeaderMap::new(), body: Bytes::from(body) };
            let _ = verify(&req, &[Secret::new("s")]);
            let _ = normalise(&req, 0);
        }
    }
}
