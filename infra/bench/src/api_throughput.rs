//! Benchmark (not a test): the shared API client syncing 2,000 objects, one
//! call each, from the Shopify fake (its REST leaky bucket) and the Etsy
//! fake (its per-second window), with eight concurrent workers. Reports the
//! throughput achieved as a fraction of what the provider's limit allows, and
//! the share of calls answered 429.
//!
//! Both fakes run their provider's algorithm at a rate scaled up 25-fold
//! (Shopify: bucket 40 leaking 50 a second instead of 2; Etsy: 250 a second
//! instead of 10), and the client is told that plan's limit, so a run takes
//! about a minute instead of an hour; what is measured, the fraction, does
//! not depend on the scale.
//!
//!     cargo run --release -p portage-loadgen --bin api-throughput

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::HeaderName;
use portage_client::{ApiClient, ApiRequest, Credentials, Limit, Metrics};
use portage_core::Secret;
use portage_providers::etsy::api::EtsyApi;
use portage_providers::shopify::api::ShopifyApi;

const OBJECTS: usize = 2000;
const WORKERS: usize = 8;

struct Outcome {
    elapsed: Duration,
    ideal: Duration,
    throttled: u64,
    calls: u64,
    failed: usize,
}

async fn run(client: Arc<ApiClient>, path: impl Fn(usize) -> String + Send + Sync + 'static) -> (Duration, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let path = Arc::new(path);
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (client, next, failed, path) = (client.clone(), next.clone(), failed.clone(), path.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= OBJECTS {
                        return;
                    }
                    if client.send(&ApiRequest::get(path(i))).await.is_err() {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    (started.elapsed(), failed.load(Ordering::SeqCst))
}

async fn shopify() -> Outcome {
    let (size, leak) = (40.0, 50.0);
    let fake = portage_fakes::shopify::Shopify::new("shpat_bench", OBJECTS, size, leak);
    let running = portage_fakes::serve(fake.router()).await;
    let credentials = Credentials::Header {
        name: HeaderName::from_static("x-shopify-access-token"),
        value: Secret::new("shpat_bench"),
        bearer: None,
    };
    let http = portage_client::http_client().expect("HTTP client");
    let client =
        ApiClient::new(http, Arc::new(ShopifyApi), "bench", credentials, Some(running.base), Arc::new(Metrics::new()))
            .with_limit(Limit { per_second: leak, burst: size });
    let version = portage_fakes::shopify::VERSION;
    let (elapsed, failed) =
        run(Arc::new(client), move |i| format!("/admin/api/{version}/products/{}.json", 7_000_000_001u64 + i as u64))
            .await;
    // From an empty bucket: the first `size` calls at once, the rest at the leak rate.
    let ideal = Duration::from_secs_f64((OBJECTS as f64 - size) / leak);
    Outcome { elapsed, ideal, throttled: fake.switches.throttled(), calls: fake.switches.requests(), failed }
}

async fn etsy() -> Outcome {
    let per_second = 250;
    let fake = portage_fakes::etsy::Etsy::new("bench-key", "1.bench-token", 10, per_second, 1_000_000);
    let running = portage_fakes::serve(fake.router()).await;
    let credentials = Credentials::Header {
        name: HeaderName::from_static("x-api-key"),
        value: Secret::new("bench-key"),
        bearer: Some(Secret::new("1.bench-token")),
    };
    let http = portage_client::http_client().expect("HTTP client");
    let client =
        ApiClient::new(http, Arc::new(EtsyApi), "bench", credentials, Some(running.base), Arc::new(Metrics::new()))
            .with_limit(Limit { per_second: f64::from(per_second), burst: f64::from(per_second) });
    let (elapsed, failed) =
        run(Arc::new(client), |i| format!("/v3/application/shops/1/listings/active?limit=1&offset={}", i % 10)).await;
    // Whole seconds of `per_second` calls each; the first window starts full.
    let ideal = Duration::from_secs_f64((OBJECTS as f64 / f64::from(per_second)).ceil() - 1.0);
    Outcome { elapsed, ideal, throttled: fake.switches.throttled(), calls: fake.switches.requests(), failed }
}

fn report(name: &str, o: &Outcome) {
    let fraction = o.ideal.as_secs_f64() / o.elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let share = o.throttled as f64 / o.calls as f64;
    println!(
        "{name}: {OBJECTS} objects in {:.1} s (limit allows {:.1} s): {:.1} % of the limit; {} of {} calls answered 429 ({:.2} %); {} failed",
        o.elapsed.as_secs_f64(),
        o.ideal.as_secs_f64(),
        fraction * 100.0,
        o.throttled,
        o.calls,
        share * 100.0,
        o.failed,
    );
}

#[tokio::main]
async fn main() {
    report("shopify (leaky bucket 40, 50/s)", &shopify().await);
    report("etsy (250/s window)", &etsy().await);
}
