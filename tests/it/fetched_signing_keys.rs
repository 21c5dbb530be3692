//! PayPal and eBay deliveries through `portage serve`, their signing keys
//! fetched from a fake of the providers' hosts (tests/it/key_server.rs): a
//! certificate is trusted only from PayPal's hosts and only when it chains to
//! a trusted root, eBay's keys come through its Notification API with an
//! application token that is obtained once and renewed after a 401, both are
//! cached, and neither the application's secret nor its token is logged.

use crate::common;
use crate::key_server;

use std::sync::atomic::Ordering::SeqCst;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::Server;
use key_server::{CLIENT_ID, CLIENT_SECRET, KeyServer};
use portage_core::Secret;
use portage_core::provider::Provider;
use portage_providers::ebay::Ebay;
use portage_providers::paypal::PayPal;
use serde_json::{Value, json};
use sha2::Digest;

const WEBHOOK_ID: &str = "8PT597110X687430LKGECATA";
const VERIFICATION_TOKEN: &str = "Pt4-verification_token-0123456789abcdef";

fn fixture(path: &str) -> String {
    std::fs::read_to_string(common::repo_root().join("fixtures").join(path)).unwrap()
}

fn config() -> String {
    format!(
        "[connections.paypal.default]\nwebhook_secret = \"{WEBHOOK_ID}\"\n\n\
         [connections.ebay.default]\nwebhook_secret = \"{VERIFICATION_TOKEN}\"\n\
         client_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n"
    )
}

/// Posts `body` with `headers`; returns the status and the JSON body.
async fn post(url: &str, headers: &[(String, String)], body: &[u8]) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(url).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.body(body.to_vec()).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// A PayPal delivery signed with a test certificate's key, naming `cert_url`.
fn paypal_delivery(key: &str, cert_url: &str, body: &[u8]) -> Vec<(String, String)> {
    let signer = Secret::new(format!("{WEBHOOK_ID}\n{}", fixture(&format!("paypal/certs/{key}"))));
    let mut headers = PayPal.sign("", body, &signer, common::now());
    for (name, value) in &mut headers {
        if name == "PAYPAL-CERT-URL" {
            *value = cert_url.to_owned();
        }
    }
    headers
}

/// An eBay notification signed with the test key, naming key id `kid`.
fn ebay_delivery(kid: &str, body: &[u8]) -> Vec<(String, String)> {
    let signer = Secret::new(format!("token\n{}", fixture("ebay/vectors/test-key.pem")));
    let (name, header) = Ebay.sign("", body, &signer, 0).pop().unwrap();
    let mut decoded: Value = serde_json::from_slice(&STANDARD.decode(header).unwrap()).unwrap();
    decoded["kid"] = json!(kid);
    vec![(name, STANDARD.encode(decoded.to_string()))]
}

fn ebay_body(id: &str) -> Vec<u8> {
    fixture("ebay/marketplace_account_deletion.json").replace("49feeaeb-4982-42d9-a377-9645b8479411", id).into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_keys_are_fetched_from_the_providers_checked_and_cached() {
    let inputs: Value = serde_json::from_str(&fixture("ebay/vectors/inputs.json")).unwrap();
    let fake = KeyServer::start(
        &[
            ("CERT-live", fixture("paypal/certs/chain-live.pem")),
            ("CERT-sandbox", fixture("paypal/certs/chain-sandbox.pem")),
            ("CERT-impostor", fixture("paypal/certs/impostor.pem")),
        ],
        &[("kid-1", inputs["keys"]["test"].clone()), ("kid-2", inputs["keys"]["test"].clone())],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let roots = common::repo_root().join("fixtures/paypal/certs/root.pem");
    let origins = fake.origins();
    let env = [("PORTAGE_PROVIDER_ORIGINS", origins.as_str()), ("PORTAGE_EXTRA_ROOTS_FILE", roots.to_str().unwrap())];
    let server = Server::start_with_env(dir.path(), Some(&config()), &env);
    let paypal = server.url("/webhooks/paypal");
    let body = fixture("paypal/payment.capture.completed.json").into_bytes();
    let certs = "https://api.paypal.com/v1/notifications/certs";

    // PayPal: fetched once from its host, its chain checked, then cached.
    let delivery = paypal_delivery("live.key.pem", &format!("{certs}/CERT-live"), &body);
    let (status, first) = post(&paypal, &delivery, &body).await;
    assert_eq!((status, &first["duplicate"]), (200, &json!(false)), "{first} {}", server.logs());
    let (status, again) =
        post(&paypal, &paypal_delivery("live.key.pem", &format!("{certs}/CERT-live"), &body), &body).await;
    assert_eq!((status, &again["duplicate"]), (200, &json!(true)));
    assert_eq!(fake.counters.certificates.load(SeqCst), 1, "the certificate is cached");
    let sandbox_body = fixture("paypal/billing.subscription.activated.json").into_bytes();
    let sandbox_url = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-sandbox";
    let sandbox = paypal_delivery("sandbox.key.pem", sandbox_url, &sandbox_body);
    assert_eq!(post(&paypal, &sandbox, &sandbox_body).await.0, 200, "{}", server.logs());

    // Refused: a certificate URL off PayPal's hosts (never fetched), a
    // certificate that chains to no trusted root, one PayPal does not have.
    let fetched = fake.counters.certificates.load(SeqCst);
    let forged =
        paypal_delivery("impostor.key.pem", "https://certs.example.com/v1/notifications/certs/CERT-live", &body);
    assert_eq!(post(&paypal, &forged, &body).await, (401, json!({"error": "untrusted_signing_key"})));
    assert_eq!(fake.counters.certificates.load(SeqCst), fetched, "nothing fetched off PayPal's hosts");
    let impostor = paypal_delivery("impostor.key.pem", &format!("{certs}/CERT-impostor"), &body);
    assert_eq!(post(&paypal, &impostor, &body).await, (401, json!({"error": "untrusted_signing_key"})));
    let missing = paypal_delivery("live.key.pem", &format!("{certs}/CERT-gone"), &body);
    assert_eq!(post(&paypal, &missing, &body).await, (503, json!({"error": "signing_key_unavailable"})));

    // eBay: one application token, one key fetch per key id.
    let ebay = server.url("/webhooks/ebay");
    for id in ["n-1", "n-2"] {
        let body = ebay_body(id);
        let (status, answer) = post(&ebay, &ebay_delivery("kid-1", &body), &body).await;
        assert_eq!((status, &answer["duplicate"]), (200, &json!(false)), "{answer} {}", server.logs());
    }
    assert_eq!((fake.counters.tokens.load(SeqCst), fake.counters.public_keys.load(SeqCst)), (1, 1));
    // An expired token is renewed once, on the 401 it gets.
    fake.expire_tokens();
    let body = ebay_body("n-3");
    assert_eq!(post(&ebay, &ebay_delivery("kid-2", &body), &body).await.0, 200, "{}", server.logs());
    assert_eq!((fake.counters.tokens.load(SeqCst), fake.counters.public_keys.load(SeqCst)), (2, 2));
    let tampered = ebay_body("n-4");
    let signed_for_other = ebay_delivery("kid-1", &ebay_body("n-5"));
    assert_eq!(post(&ebay, &signed_for_other, &tampered).await, (401, json!({"error": "signature_mismatch"})));
    assert_eq!(post(&ebay, &ebay_delivery("kid-unknown", &tampered), &tampered).await.0, 503);

    // eBay's endpoint challenge: answered, nothing recorded.
    let challenge = reqwest::get(format!("{ebay}?challenge_code=a8628072-3d33-45ee")).await.unwrap();
    assert_eq!(challenge.status(), 200);
    let expected = hex::encode(sha2::Sha256::digest(format!("a8628072-3d33-45ee{VERIFICATION_TOKEN}{ebay}")));
    assert_eq!(challenge.json::<Value>().await.unwrap(), json!({"challengeResponse": expected}));

    let listed = common::cli(&server.data, &["events", "list", "--format", "json", "--limit", "100"]);
    let events: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let mut recorded: Vec<&str> = events.iter().map(|e| e["provider"].as_str().unwrap()).collect();
    recorded.sort();
    assert_eq!(recorded, ["ebay", "ebay", "ebay", "paypal", "paypal"], "only accepted deliveries are recorded");
    let logs = server.logs();
    assert!(logs.contains("untrusted_signing_key") && logs.contains("signing_key_unavailable"), "reasons logged");
    assert!(!logs.contains(CLIENT_SECRET) && !logs.contains("do-not-leak"), "no credential or token is logged");
}
