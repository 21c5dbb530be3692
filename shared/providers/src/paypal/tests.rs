use bytes::Bytes;
use http::HeaderMap;
use proptest::prelude::*;

use super::*;

const NOW: i64 = 1_795_689_600;

fn options(now: i64) -> VerifyOptions {
    VerifyOptions { tolerance: DEFAULT_TOLERANCE, now_secs: now, legacy_schemes: false }
}

fn request(headers: &[(String, String)], body: &[u8]) -> WebhookRequest {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    WebhookRequest { method: "POST".into(), url: String::new(), headers: map, body: Bytes::copy_from_slice(body) }
}

fn fixture_cert(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/paypal/certs/");
    std::fs::read_to_string(format!("{path}{name}")).unwrap()
}

#[test]
fn a_development_connection_signs_and_verifies_without_fetching() {
    let secret = PayPal.generate_secret();
    let body = br#"{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource_type":"capture","resource":{"id":"C1"},"create_time":"2026-11-26T10:39:00Z"}"#;
    let headers = PayPal.sign("", body, &secret, NOW);
    let delivery = request(&headers, body);
    let secrets = std::slice::from_ref(&secret);
    assert_eq!(PayPal.key_location(&delivery, secrets), Ok(None), "a pinned key is not fetched");
    assert_eq!(verify(&delivery, secrets, options(NOW)), Ok(()));
    let other_id = Secret::new(secret.expose().replacen("WH-DEV-", "WH-OTHER-", 1));
    assert_eq!(verify(&delivery, &[other_id], options(NOW)), Err(RejectReason::SignatureMismatch));
    let late = NOW + DEFAULT_TOLERANCE.as_secs() as i64 + 1;
    assert_eq!(verify(&delivery, secrets, options(late)), Err(RejectReason::TimestampOutsideTolerance));
    let event = normalise(&delivery, 0).unwrap();
    assert_eq!(
        (event.event_id.as_str(), event.event_type.as_str(), event.object_id.as_deref(), event.livemode),
        ("WH-1", "PAYMENT.CAPTURE.COMPLETED", Some("C1"), Some(false))
    );
}

#[test]
fn certificates_are_fetched_only_from_paypals_hosts() {
    let at = |url: &str| {
        let headers = [(CERT_URL.to_owned(), url.to_owned())];
        PayPal.key_location(&request(&headers, b"{}"), &[Secret::new("WH-1")])
    };
    let live = at("https://api.paypal.com/v1/notifications/certs/CERT-1").unwrap().unwrap();
    assert_eq!(live.format, KeyFormat::CertificateFor(LIVE_CERT_NAME));
    let sandbox = at("https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-1").unwrap().unwrap();
    assert_eq!(sandbox.format, KeyFormat::CertificateFor(SANDBOX_CERT_NAME));
    for forged in [
        "https://evil.example.com/v1/notifications/certs/CERT-1",
        "http://api.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
        "https://user@api.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com.evil.example.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com/v1/oauth2/token",
        "https://api.paypal.com/v1/notifications/certs/../../oauth2/token",
        "not a url",
    ] {
        assert_eq!(at(forged), Err(RejectReason::UntrustedSigningKey), "{forged}");
    }
    let missing = PayPal.key_location(&request(&[], b"{}"), &[Secret::new("WH-1")]);
    assert_eq!(missing, Err(RejectReason::MissingSignature));
}

#[test]
fn a_certificate_is_used_only_while_valid_and_issued_to_paypal() {
    let usable = |name: &str| materials(&fixture_cert(name)).iter().any(|m| m.key_at(NOW).is_some());
    assert!(usable("live.pem") && usable("sandbox.pem") && usable("chain-live.pem"));
    assert!(!usable("expired.pem"), "expired");
    assert!(!usable("other-name.pem"), "not a .paypal.com name");
}

proptest! {
    #[test]
    fn never_panics(
        id in ".{0,60}", time in ".{0,40}", sig in ".{0,400}", url in ".{0,120}", algo in ".{0,20}",
        secret in ".{0,300}", body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in [(TRANSMISSION_ID, &id), (TRANSMISSION_TIME, &time), (TRANSMISSION_SIG, &sig), (CERT_URL, &url), (AUTH_ALGO, &algo)] {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
        let req = WebhookRequest { method: "POST".into(), url: String::new(), headers, body: Bytes::from(body) };
        let secrets = [Secret::new(secret), Secret::new(fixture_cert("live.pem"))];
        let _ = verify(&req, &secrets, options(NOW));
        let _ = PayPal.key_location(&req, &secrets[..1]);
        let _ = normalise(&req, 0);
    }
}
