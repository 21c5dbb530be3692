//! Verify + normalise of a 4 KB delivery, for every provider: the
//! per-delivery CPU cost of ingest before storage. Target: ≤ 20 µs for the
//! HMAC schemes; the public-key schemes (SendGrid's and eBay's ECDSA, Adobe
//! Commerce's and PayPal's RSA) are reported beside them, each with the
//! development key pair `serve` generates, and PayPal also as production
//! verifies it: with the certificate PayPal serves (the test PKI's), the
//! fetch itself cached and not counted.

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderName, HeaderValue};
use portage_core::Secret;
use portage_core::provider::{VerifyOptions, WebhookRequest};

const SIZE: usize = 4096;
const NOW: i64 = 1_795_689_600;
/// `fixtures/samples.tsv`: one sample delivery per webhook source.
fn samples() -> Vec<(String, String)> {
    let path = format!("{}/../../fixtures/samples.tsv", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("fixtures/samples.tsv");
    let rows = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    rows.filter_map(|l| l.split_once('\t')).map(|(p, f)| (p.to_owned(), f.to_owned())).collect()
}

/// The fixture grown to exactly 4096 bytes and still what the provider
/// sends: JSON gets white space before its last byte, a form a padding field.
fn four_kb(fixture: &str) -> Vec<u8> {
    let path = format!("{}/../../fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let mut body = std::fs::read(&path).expect("fixture");
    while body.last().is_some_and(|b| b.is_ascii_whitespace()) {
        body.pop();
    }
    assert!(body.len() < SIZE - 16, "{fixture} is already larger than the benchmark body");
    if fixture.ends_with(".form") {
        body.extend_from_slice(b"&Pad=");
        body.resize(SIZE, b'x');
    } else {
        let last = body.pop().expect("non-empty");
        body.resize(SIZE - 1, b' ');
        body.push(last);
    }
    assert_eq!(body.len(), SIZE);
    body
}

fn fixture_text(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

fn bench(c: &mut Criterion) {
    let registry = portage_providers::registry();
    let paypal_certificate = {
        let signer = Secret::new(format!("WH-BENCH\n{}", fixture_text("paypal/certs/live.key.pem")));
        let verifiers = vec![Secret::new("WH-BENCH"), Secret::new(fixture_text("paypal/certs/chain-live.pem"))];
        (
            "paypal (certificate)".to_owned(),
            "paypal",
            "paypal/payment.capture.completed.json".to_owned(),
            signer,
            verifiers,
        )
    };
    let cases = samples().into_iter().map(|(name, fixture)| {
        let secret = registry.get(&name).expect("registered").generate_secret();
        let label = name.clone();
        (label, registry.get(&name).expect("registered").name(), fixture, secret.clone(), vec![secret])
    });
    for (label, name, fixture, secret, secrets) in cases.chain([paypal_certificate]) {
        let provider = registry.get(name).expect("registered");
        let body = four_kb(&fixture);
        let url = format!("https://hooks.example.com/webhooks/{name}");
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (header, value) in provider.sign(&url, &body, &secret, NOW) {
            headers.insert(
                HeaderName::from_bytes(header.as_bytes()).expect("header name"),
                HeaderValue::from_str(&value).expect("header value"),
            );
        }
        let request = WebhookRequest { method: "POST".into(), url, headers, body: Bytes::from(body) };
        let options = VerifyOptions { tolerance: provider.default_tolerance(), now_secs: NOW, legacy_schemes: false };
        provider.verify(&request, &secrets, options).expect("valid");
        c.bench_function(&format!("{label} verify+normalise {SIZE} B"), |b| {
            b.iter(|| {
                provider.verify(&request, &secrets, options).expect("valid");
                provider.normalise(&request, NOW).expect("normalises")
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
