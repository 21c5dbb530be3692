//! The shared API client through each provider's policy, against fakes that
//! enforce the provider's documented behaviour (tests/fakes): authentication,
//! pagination across many pages, errors mapped, limits respected; and under
//! injected faults: 20 % failures, a full outage, a 429 storm.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use http::HeaderName;
use portage_client::pagination::{Pagination, pages};
use portage_client::{
    ApiClient, ApiRequest, BreakerConfig, BreakerState, Credentials, Limit, Metrics, Policy, ProviderError, RetryPolicy,
};
use portage_core::Secret;
use portage_fakes::Faults;
use portage_providers::etsy::api::EtsyApi;
use portage_providers::hubspot::api::HubSpotApi;
use portage_providers::printify::api::PrintifyApi;
use portage_providers::shopify::api::ShopifyApi;
use portage_providers::stripe::api::StripeApi;
use tokio::time::Instant;

const STRIPE_KEY: &str = "sk_test_51PortageFakeKeyDoNotLeak0123456789";
const SHOPIFY_TOKEN: &str = "shpat_portage_fake_token_do_not_leak_0123";
const ETSY_KEY: &str = "etsy-keystring-do-not-leak-01234";
const ETSY_TOKEN: &str = "12345678.etsy-oauth-token-do-not-leak";

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        base: Duration::from_millis(5),
        cap: Duration::from_millis(100),
        deadline: Duration::from_secs(20),
    }
}

/// A client of `policy`'s API at a fake's `base`, with a five-second timeout.
fn api(policy: impl Policy + 'static, connection: &str, credentials: Credentials, base: &str) -> ApiClient {
    ApiClient::new(
        http(Duration::from_secs(5)),
        Arc::new(policy),
        connection,
        credentials,
        Some(base.to_owned()),
        Arc::new(Metrics::new()),
    )
}

fn http(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

/// A Stripe fake with `customers`, and its address.
async fn stripe_fake(customers: usize, per_second: u32) -> (Arc<portage_fakes::stripe::Stripe>, String) {
    let fake = portage_fakes::stripe::Stripe::new(STRIPE_KEY, customers, per_second);
    let running = portage_fakes::serve(fake.router()).await;
    (fake, running.base)
}

fn stripe_client(base: &str, key: &str, timeout: Duration) -> ApiClient {
    ApiClient::new(
        http(timeout),
        Arc::new(StripeApi),
        "default",
        Credentials::Bearer(Secret::new(key)),
        Some(base.to_owned()),
        Arc::new(Metrics::new()),
    )
    .with_retry(fast_retries())
}

async fn stripe(customers: usize, per_second: u32, key: &str) -> (Arc<portage_fakes::stripe::Stripe>, ApiClient) {
    let (fake, base) = stripe_fake(customers, per_second).await;
    (fake, stripe_client(&base, key, Duration::from_secs(5)))
}

#[tokio::test]
async fn stripe_authenticates_pages_maps_errors_and_replays_idempotent_creates() {
    let (_, wrong) = stripe(0, 1000, "sk_test_wrong").await;
    let refused = wrong.send(&ApiRequest::get("/v1/customers")).await.unwrap_err();
    assert!(matches!(refused, ProviderError::Unauthorized(_)), "{refused}");

    let (fake, client) = stripe(250, 1000, STRIPE_KEY).await;
    let listed: Vec<Vec<serde_json::Value>> =
        pages(&client, ApiRequest::get("/v1/customers"), Pagination::StripeCursor { limit: 100 })
            .try_collect()
            .await
            .unwrap();
    assert_eq!(listed.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
    let mut ids: Vec<&str> = listed.iter().flatten().map(|c| c["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 250, "every customer once");

    match client.send(&ApiRequest::get("/v1/customers/cus_missing")).await.unwrap_err() {
        ProviderError::NotFound(d) => {
            assert_eq!(d.code.as_deref(), Some("resource_missing"));
            assert!(d.request_id.is_some_and(|id| id.starts_with("req_")));
        }
        other => panic!("{other}"),
    }
    let invalid = client.send(&ApiRequest::post_form("/v1/customers", &[("email", "not-an-email")])).await.unwrap_err();
    assert!(matches!(&invalid, ProviderError::Validation { fields, .. } if fields[0].field == "email"), "{invalid}");

    // The first three attempts fail: the create is retried with its key, and
    // Stripe's replay makes it happen once however often it is sent.
    fake.switches.set(Faults { fail_next: 3, ..Default::default() });
    let before = fake.customer_count();
    let create = ApiRequest::post_form("/v1/customers", &[("email", "once@example.com")]).idempotency_key("cmd-42");
    let requests = fake.switches.requests();
    for _ in 0..5 {
        client.send(&create).await.unwrap();
    }
    assert_eq!(fake.switches.requests(), requests + 4 + 4, "three retries, then four replays");
    assert_eq!(fake.customer_count(), before + 1, "one customer for one command");
    // Without a key a POST is not retried.
    fake.switches.set(Faults { outage: true, ..Default::default() });
    let requests = fake.switches.requests();
    let unkeyed = ApiRequest::post_form("/v1/customers", &[("email", "x@example.com")]);
    assert!(client.send(&unkeyed).await.is_err());
    assert_eq!(fake.switches.requests(), requests + 1, "sent once");
    // A connection dropped half-way through the answer: the request went
    // out, so it may have been processed (retried only when safe to).
    fake.switches.set(Faults { drop_rate: 1.0, ..Default::default() });
    let dropped = client.send(&ApiRequest::get("/v1/customers")).await.unwrap_err();
    assert!(matches!(&dropped, ProviderError::Interrupted(d) if d.message == "connection failed"), "{dropped}");
    assert!(dropped.is_retryable());
}

#[tokio::test]
async fn with_a_fifth_of_calls_failing_hanging_or_dropped_at_least_99_percent_succeed() {
    let (fake, base) = stripe_fake(20, 1_000_000).await;
    let client = stripe_client(&base, STRIPE_KEY, Duration::from_millis(300));
    let client = Arc::new(client.with_limit(Limit { per_second: 5000.0, burst: 200.0 }));
    fake.switches.set(Faults {
        error_rate: 0.1,
        drop_rate: 0.05,
        hang_rate: 0.05,
        hang: Duration::from_secs(1),
        ..Default::default()
    });
    // Fifty operations at a time, as a worker pool makes them.
    let slots = Arc::new(tokio::sync::Semaphore::new(50));
    let ops: Vec<_> = (0..1000)
        .map(|i| {
            let (client, slots) = (client.clone(), slots.clone());
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await;
                let request = if i % 2 == 0 {
                    ApiRequest::get("/v1/customers").query("limit", "3")
                } else {
                    ApiRequest::post_form("/v1/customers", &[("email", "f@example.com")])
                        .idempotency_key(format!("op-{i}"))
                };
                client.send(&request).await
            })
        })
        .collect();
    let mut succeeded = 0;
    let mut failures = Vec::new();
    for op in ops {
        match op.await.unwrap() {
            Ok(_) => succeeded += 1,
            Err(e) => failures.push(e.to_string()),
        }
    }
    assert!(succeeded >= 990, "{succeeded} of 1000 succeeded; failures: {:?}", &failures[..failures.len().min(5)]);
    assert_eq!(fake.customer_count(), 20 + 500, "each create happened once, however often it was retried");
}

#[tokio::test]
async fn under_a_full_outage_the_breaker_opens_fails_fast_and_closes_after_recovery() {
    let (fake, base) = stripe_fake(3, 1_000_000).await;
    let breaker = BreakerConfig {
        min_calls: 10,
        failure_rate: 0.5,
        open_for: Duration::from_millis(500),
        probes: 1,
        ..Default::default()
    };
    let metrics = Arc::new(Metrics::new());
    let client = ApiClient::new(
        http(Duration::from_secs(2)),
        Arc::new(StripeApi),
        "default",
        Credentials::Bearer(Secret::new(STRIPE_KEY)),
        Some(base.clone()),
        metrics.clone(),
    )
    .with_retry(RetryPolicy { max_attempts: 1, ..fast_retries() })
    .with_breaker(breaker);
    fake.switches.set(Faults { outage: true, ..Default::default() });
    let list = ApiRequest::get("/v1/customers");
    for _ in 0..10 {
        assert!(matches!(client.send(&list).await, Err(ProviderError::Transient(_))));
    }
    assert_eq!(client.breaker().state(), BreakerState::Open, "open after its threshold of 10 failed calls");
    assert_eq!(metrics.get("stripe", "breaker_opened"), 1, "the change is counted");
    let sent = fake.switches.requests();
    let started = Instant::now();
    for _ in 0..100 {
        assert!(matches!(client.send(&list).await, Err(ProviderError::CircuitOpen { .. })));
    }
    assert!(started.elapsed() < Duration::from_millis(500), "fails fast: no call waits on the network");
    assert_eq!(fake.switches.requests(), sent, "nothing sent while open");
    fake.switches.set(Faults::default());
    tokio::time::sleep(Duration::from_millis(550)).await;
    client.send(&list).await.unwrap();
    assert_eq!(client.breaker().state(), BreakerState::Closed, "a good probe closes it");
}

#[tokio::test]
async fn a_429_storm_is_waited_out_as_retry_after_says() {
    let (fake, base) = stripe_fake(3, 1_000_000).await;
    let client = stripe_client(&base, STRIPE_KEY, Duration::from_secs(5));
    fake.switches.set(Faults { storm_until: Some(Instant::now() + Duration::from_secs(2)), ..Default::default() });
    let started = Instant::now();
    client.send(&ApiRequest::get("/v1/customers")).await.unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2) && took < Duration::from_millis(3500), "waited {took:?}");
    assert_eq!(
        (fake.switches.requests(), fake.switches.throttled()),
        (2, 1),
        "one 429, then nothing until Retry-After"
    );
}

#[tokio::test]
async fn shopify_pages_by_link_header_within_its_leaky_bucket() {
    let fake = portage_fakes::shopify::Shopify::new(SHOPIFY_TOKEN, 1000, 40.0, 2.0);
    let running = portage_fakes::serve(fake.router()).await;
    let token = Credentials::Header {
        name: HeaderName::from_static("x-shopify-access-token"),
        value: Secret::new(SHOPIFY_TOKEN),
        bearer: None,
    };
    let wrong = Credentials::Header {
        name: HeaderName::from_static("x-shopify-access-token"),
        value: Secret::new("shpat_wrong"),
        bearer: None,
    };
    let refused = api(ShopifyApi, "acme", wrong, &running.base);
    let first = format!("/admin/api/{}/products.json", portage_fakes::shopify::VERSION);
    assert!(matches!(refused.send(&ApiRequest::get(first)).await, Err(ProviderError::Unauthorized(_))));
    let client = api(ShopifyApi, "acme", token, &running.base);
    let path = format!("/admin/api/{}/products.json", portage_fakes::shopify::VERSION);
    let style = Pagination::LinkHeader { limit: 50, items: "products" };
    assert!(matches!(ShopifyApi.pagination("products"), Pagination::LinkHeader { limit: 250, .. }));
    let listed: Vec<Vec<serde_json::Value>> = pages(&client, ApiRequest::get(path), style).try_collect().await.unwrap();
    assert_eq!(listed.len(), 20);
    assert_eq!(listed.iter().map(Vec::len).sum::<usize>(), 1000);
    assert_eq!(fake.switches.throttled(), 0, "20 calls fit the bucket of 40");
}

#[tokio::test]
async fn etsy_pages_by_offset_and_keeps_to_its_per_second_limit() {
    let fake = portage_fakes::etsy::Etsy::new(ETSY_KEY, ETSY_TOKEN, 450, 10, 10_000);
    let running = portage_fakes::serve(fake.router()).await;
    let credentials = Credentials::Header {
        name: HeaderName::from_static("x-api-key"),
        value: Secret::new(ETSY_KEY),
        bearer: Some(Secret::new(ETSY_TOKEN)),
    };
    let client = api(EtsyApi, "shop", credentials, &running.base);
    let style = Pagination::Offset { limit: 25, items: "results", size_param: "limit", offset_param: "offset" };
    let request = ApiRequest::get("/v3/application/shops/123/listings/active");
    let keyless = Credentials::Header {
        name: HeaderName::from_static("x-api-key"),
        value: Secret::new("wrong"),
        bearer: Some(Secret::new(ETSY_TOKEN)),
    };
    let refused = api(EtsyApi, "shop", keyless, &running.base);
    assert!(matches!(refused.send(&request).await, Err(ProviderError::Forbidden(d)) if d.message == "Invalid API key"));
    let started = Instant::now();
    let listed: Vec<Vec<serde_json::Value>> = pages(&client, request, style).try_collect().await.unwrap();
    assert_eq!(listed.iter().map(Vec::len).sum::<usize>(), 450);
    assert_eq!(listed.len(), 18);
    assert_eq!(fake.switches.throttled(), 0, "never over 10 a second");
    assert!(started.elapsed() >= Duration::from_millis(700), "18 calls at 10 a second take most of a second");
}

#[tokio::test]
async fn no_credential_reaches_a_log_line_or_an_error() {
    use std::io::Write;
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (fake, base) = stripe_fake(5, 1_000_000).await;
    let mut errors = Vec::new();
    let wrong_key = "sk_test_51WrongKeyAlsoSecret987654321";
    errors.push(
        stripe_client(&base, wrong_key, Duration::from_secs(2))
            .send(&ApiRequest::get("/v1/customers"))
            .await
            .unwrap_err(),
    );
    let client = stripe_client(&base, STRIPE_KEY, Duration::from_secs(2));
    fake.switches.set(Faults { error_rate: 1.0, ..Default::default() });
    errors.push(client.send(&ApiRequest::get("/v1/customers")).await.unwrap_err());
    fake.switches.set(Faults::default());
    client
        .send(&ApiRequest::post_form("/v1/customers", &[("email", "person@example.com")]).idempotency_key("k"))
        .await
        .unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying"), "the test saw the client's logs: {logs}");
    let texts = errors.iter().map(|e| format!("{e} {e:?}")).collect::<String>();
    for secret in [STRIPE_KEY, wrong_key, "person@example.com"] {
        assert!(!logs.contains(secret), "a log line holds {secret}");
        assert!(!texts.contains(secret), "an error holds {secret}");
    }
}

#[tokio::test]
async fn hubspot_pages_by_cursor_and_keeps_to_its_rolling_window() {
    let fake = portage_fakes::hubspot::HubSpot::new("pat-na1-fake-do-not-leak", 230, 5);
    let running = portage_fakes::serve(fake.router()).await;
    let expired = api(HubSpotApi, "portal", Credentials::Bearer(Secret::new("pat-na1-expired")), &running.base);
    let refused = expired.send(&ApiRequest::get("/crm/v3/objects/contacts")).await.unwrap_err();
    assert!(
        matches!(&refused, ProviderError::Unauthorized(d) if d.code.as_deref() == Some("EXPIRED_AUTHENTICATION")),
        "{refused}"
    );
    // A five-call window the client is not told of in advance: it learns it
    // from the headers, then waits the window out instead of being refused.
    let client = api(HubSpotApi, "portal", Credentials::Bearer(Secret::new("pat-na1-fake-do-not-leak")), &running.base);
    let Pagination::NextCursor { param, pointer, .. } = HubSpotApi.pagination("results") else {
        panic!("HubSpot pages by cursor")
    };
    let style = Pagination::NextCursor { limit: 30, items: "results", param, pointer };
    let started = Instant::now();
    let listed: Vec<Vec<serde_json::Value>> =
        pages(&client, ApiRequest::get("/crm/v3/objects/contacts"), style).try_collect().await.unwrap();
    assert_eq!(listed.len(), 8);
    assert_eq!(listed.iter().map(Vec::len).sum::<usize>(), 230);
    assert_eq!(fake.switches.throttled(), 0, "the sixth call waited for the window instead of being refused");
    assert!(started.elapsed() >= Duration::from_secs(10));
}

#[tokio::test]
async fn printify_pages_to_its_last_page() {
    let fake = portage_fakes::printify::Printify::new("printify-token-do-not-leak", 120, 600);
    let running = portage_fakes::serve(fake.router()).await;
    let client =
        api(PrintifyApi, "shop", Credentials::Bearer(Secret::new("printify-token-do-not-leak")), &running.base);
    let wrong = Credentials::Bearer(Secret::new("printify-wrong"));
    let refused = api(PrintifyApi, "shop", wrong, &running.base);
    assert!(matches!(
        refused.send(&ApiRequest::get("/v1/shops/42/products.json")).await,
        Err(ProviderError::Unauthorized(_))
    ));
    let style = PrintifyApi.pagination("data");
    let listed: Vec<Vec<serde_json::Value>> =
        pages(&client, ApiRequest::get("/v1/shops/42/products.json"), style).try_collect().await.unwrap();
    assert_eq!(listed.iter().map(Vec::len).collect::<Vec<_>>(), [50, 50, 20]);
    let invalid = client.send(&ApiRequest::get("/v1/shops/42/products.json").query("limit", "500")).await.unwrap_err();
    assert!(
        matches!(&invalid, ProviderError::Validation { detail, .. } if detail.code.as_deref() == Some("10100")),
        "{invalid}"
    );
}
