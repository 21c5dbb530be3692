//! Verify + normalise of a 4 KB Stripe event: the per-delivery CPU cost of
//! ingest before storage. Target: ≤ 20 µs.

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use portage_core::Secret;
use portage_core::provider::{Provider, VerifyOptions, WebhookRequest};
use portage_providers::stripe::{Stripe, signature_header};

fn four_kb_event() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/stripe/checkout.session.completed.json");
    let text = std::fs::read_to_string(path).expect("fixture");
    // Pad with an extra field to exactly 4096 bytes, keeping a valid event.
    let field = "\"object\": \"event\",";
    let overhead = text.len() + " \"pad\": \"\",".len();
    let pad = "x".repeat(4096usize.saturating_sub(overhead));
    let body = text.replacen(field, &format!("{field} \"pad\": \"{pad}\","), 1);
    assert_eq!(body.len(), 4096, "benchmark body size");
    body.into_bytes()
}

fn bench(c: &mut Criterion) {
    let body = four_kb_event();
    let secret = Secret::new("whsec_benchmarksecretbenchmarksecret");
    let now = 1_750_000_000;
    let mut headers = HeaderMap::new();
    headers.insert("stripe-signature", signature_header(&body, &[&secret], now).parse().expect("header"));
    let request = WebhookRequest {
        method: "POST".into(),
        url: "https://hooks.example/webhooks/stripe".into(),
        headers,
        body: Bytes::from(body),
    };
    let secrets = [secret];
    let options = VerifyOptions { tolerance: Stripe.default_tolerance(), now_secs: now, legacy_schemes: false };
    c.bench_function(&format!("stripe verify+normalise {} B", request.body.len()), |b| {
        b.iter(|| {
            Stripe.verify(&request, &secrets, options).expect("valid");
            Stripe.normalise(&request, now).expect("normalises")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
