//! One client per (provider, connection) for the process: concurrent events
//! of a connection share its rate limiter, so together they keep to
//! Stripe's limit, where a client per event would not.

use std::sync::Arc;

use portage_client::{ApiRequest, ClientPool, CredentialSource, Origins};
use portage_core::Secret;
use portage_core::ports::Secrets;
use portage_embedded::MapSecrets;
use portage_providers::stripe::api::StripeApi;

const KEY: &str = "sk_test_pool_4242";

fn pool_for(base: &str) -> ClientPool {
    let mut secrets = MapSecrets::new();
    secrets.insert("stripe", "default", "api_key", Secret::new(KEY));
    let origins = Origins::parse(&format!("api.stripe.com={base}")).unwrap();
    ClientPool::new(Arc::new(secrets) as Arc<dyn Secrets>, origins).unwrap()
}

/// 60 concurrent "events", each fetching one customer through the
/// process's pool (`shared`) or a client of its own; returns how many calls
/// the fake refused with 429.
async fn burst(fake: &Arc<portage_fakes::stripe::Stripe>, base: &str, shared: bool) -> u64 {
    let pool = Arc::new(pool_for(base));
    let tasks: Vec<_> = (0..60)
        .map(|_| {
            // What a handler building its own client would get: a pool of its own.
            let pool = if shared { pool.clone() } else { Arc::new(pool_for(base)) };
            tokio::spawn(async move {
                let client = pool.client(Arc::new(StripeApi), "default", CredentialSource::Bearer("api_key")).await;
                let client = client.unwrap().expect("the connection has an api_key");
                client.send(&ApiRequest::get("/v1/customers").query("limit", "1")).await.map(|_| ())
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await.unwrap();
    }
    fake.switches.throttled()
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_events_share_one_client_and_its_limit() {
    let fake = portage_fakes::stripe::Stripe::new(KEY, 3, 25);
    let running = portage_fakes::serve(fake.router()).await;
    let pool = pool_for(&running.base);
    let a = pool.client(Arc::new(StripeApi), "default", CredentialSource::Bearer("api_key")).await.unwrap().unwrap();
    let b = pool.client(Arc::new(StripeApi), "default", CredentialSource::Bearer("api_key")).await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&a, &b), "one client per connection");
    assert!(
        pool.client(Arc::new(StripeApi), "other", CredentialSource::Bearer("api_key")).await.unwrap().is_none(),
        "a connection without the credential has no client"
    );
    assert_eq!(burst(&fake, &running.base, true).await, 0, "one shared limiter keeps 60 calls within 25 a second");
}

#[tokio::test(flavor = "current_thread")]
async fn a_client_per_event_would_exceed_the_limit() {
    let fake = portage_fakes::stripe::Stripe::new(KEY, 3, 25);
    let running = portage_fakes::serve(fake.router()).await;
    assert!(burst(&fake, &running.base, false).await > 0, "60 clients with a full bucket each are refused");
}
