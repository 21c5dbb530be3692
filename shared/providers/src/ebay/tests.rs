use bytes::Bytes;
use http::HeaderMap;
use proptest::prelude::*;

use super::*;

fn options() -> VerifyOptions {
    VerifyOptions { tolerance: Duration::ZERO, now_secs: 1_795_689_600, legacy_schemes: false }
}

fn request(method: &str, url: &str, headers: &[(String, String)], body: &[u8]) -> WebhookRequest {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    WebhookRequest { method: method.into(), url: url.into(), headers: map, body: Bytes::copy_from_slice(body) }
}

const BODY: &[u8] = br#"{"metadata":{"topic":"MARKETPLACE_ACCOUNT_DELETION","schemaVersion":"1.0","deprecated":false},"notification":{"notificationId":"n-1","eventDate":"2026-11-26T10:35:12.041Z","publishDate":"2026-11-26T10:35:12.388Z","publishAttemptCount":1,"data":{"username":"u","userId":"ma8vp1jySJC","eiasToken":"t"}}}"#;

#[test]
fn a_development_connection_signs_and_verifies_without_fetching() {
    let secret = Ebay.generate_secret();
    let delivery = request("POST", "https://hooks.example.com/webhooks/ebay", &Ebay.sign("", BODY, &secret, 0), BODY);
    let secrets = std::slice::from_ref(&secret);
    assert_eq!(Ebay.key_location(&delivery, secrets), Ok(None), "a pinned key is not fetched");
    assert_eq!(verify(&delivery, secrets, options()), Ok(()));
    let mut tampered = delivery.clone();
    tampered.body = Bytes::from(BODY.to_vec().into_iter().rev().collect::<Vec<u8>>());
    assert_eq!(verify(&tampered, secrets, options()), Err(RejectReason::SignatureMismatch));
    let event = normalise(&delivery, 0).unwrap();
    assert_eq!(
        (event.event_id.as_str(), event.event_type.as_str(), event.object_kind.as_deref(), event.object_id.as_deref()),
        ("n-1", "MARKETPLACE_ACCOUNT_DELETION", Some("user"), Some("ma8vp1jySJC"))
    );
    assert_eq!(event.occurred_at, 1_795_689_312);
}

#[test]
fn keys_are_fetched_by_their_id_with_the_application_token() {
    let header = STANDARD
        .encode(r#"{"alg":"ecdsa","kid":"9936261a-7d7b-4621-a0f1-96ccb428af49","signature":"MEY=","digest":"SHA1"}"#);
    let delivery = request("POST", "", &[(SIGNATURE_HEADER.to_owned(), header)], BODY);
    let location = Ebay.key_location(&delivery, &[Secret::new("verification-token")]).unwrap().unwrap();
    assert_eq!(
        location.url,
        "https://api.ebay.com/commerce/notification/v1/public_key/9936261a-7d7b-4621-a0f1-96ccb428af49"
    );
    assert_eq!(location.token.unwrap().scope, APPLICATION_SCOPE);
    let sneaky = STANDARD.encode(r#"{"alg":"ecdsa","kid":"../../identity/v1/oauth2/token","signature":"MEY="}"#);
    let delivery = request("POST", "", &[(SIGNATURE_HEADER.to_owned(), sneaky)], BODY);
    assert_eq!(Ebay.key_location(&delivery, &[]), Err(RejectReason::MalformedSignature));
}

#[test]
fn a_key_with_line_breaks_verifies_too() {
    let secret = Ebay.generate_secret();
    let key = development_key(secret.expose()).unwrap();
    let pem =
        p256::pkcs8::EncodePublicKey::to_public_key_pem(key.verifying_key(), p256::pkcs8::LineEnding::LF).unwrap();
    let delivery = request("POST", "", &Ebay.sign("", BODY, &secret, 0), BODY);
    assert_eq!(verify(&delivery, &[Secret::new(pem)], options()), Ok(()));
}

#[test]
fn the_challenge_is_answered_as_ebays_sdk_computes_it() {
    // The expected value is the SDK's generateChallengeResponse for these
    // inputs: hex(SHA-256(code + token + endpoint)).
    let token = Secret::new("Pt4-verification_token-0123456789abcdef");
    let url = "https://hooks.example.com/webhooks/ebay?challenge_code=a8628072-3d33-45ee-9004-bee86830a22d";
    let reply = Ebay.unsigned_handshake(&request("GET", url, &[], b""), &[token]).unwrap();
    let expected = sha256_hex(
        b"a8628072-3d33-45ee-9004-bee86830a22dPt4-verification_token-0123456789abcdefhttps://hooks.example.com/webhooks/ebay",
    );
    assert_eq!((reply.status, reply.body), (200, json!({ "challengeResponse": expected })));
    assert!(Ebay.unsigned_handshake(&request("POST", url, &[], b""), &[Secret::new("t")]).is_none());
    assert!(Ebay.unsigned_handshake(&request("GET", url, &[], b""), &[]).is_none(), "no token, no answer");
}

proptest! {
    #[test]
    fn never_panics(header in ".{0,400}", secret in ".{0,300}", url in ".{0,120}", body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut headers = HeaderMap::new();
        if let Ok(value) = http::HeaderValue::from_str(&header) {
            headers.insert(SIGNATURE_HEADER, value);
        }
        for method in ["GET", "POST"] {
            let req = WebhookRequest { method: method.into(), url: url.clone(), headers: headers.clone(), body: Bytes::from(body.clone()) };
            let secrets = [Secret::new(secret.clone())];
            let _ = verify(&req, &secrets, options());
            let _ = Ebay.key_location(&req, &secrets);
            let _ = Ebay.unsigned_handshake(&req, &secrets);
            let _ = normalise(&req, 0);
        }
    }
}
