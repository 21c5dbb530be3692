//! OAuth 2.0 refresh through the client, against the fake authorisation
//! server (tests/fakes): concurrent calls that find the token expired or
//! refused cause exactly one refresh, the rotated tokens are saved together,
//! and a crash between the provider's refresh and the save is survived.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use http::HeaderMap;
use portage_client::{
    ApiClient, ApiRequest, Credentials, ErrorDetail, Limit, Metrics, OAuthSession, Policy, ProviderError,
};
use portage_core::ports::Secrets;
use portage_core::{Secret, StoreError};
use portage_embedded::MapSecrets;

const CLIENT_ID: &str = "portage-test-client";
const CLIENT_SECRET: &str = "client-secret-do-not-leak";

/// The fake's API: bearer tokens, errors by status.
struct ThingApi;

impl Policy for ThingApi {
    fn provider(&self) -> &'static str {
        "thing"
    }
    fn base_url(&self) -> &str {
        "https://thing.example"
    }
    fn limit(&self) -> Limit {
        Limit { per_second: 1000.0, burst: 1000.0 }
    }
    fn pagination(&self, items: &'static str) -> portage_client::pagination::Pagination {
        portage_client::pagination::Pagination::Offset {
            limit: 100,
            items,
            size_param: "limit",
            offset_param: "offset",
        }
    }
    fn error(&self, status: u16, _: &HeaderMap, _: &[u8]) -> ProviderError {
        ProviderError::from_status(ErrorDetail { provider: "thing", status: Some(status), ..Default::default() }, None)
    }
}

/// Secrets whose next `put` fails, as a process killed before its save.
struct CrashingPut {
    inner: MapSecrets,
    crash_next_put: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Secrets for CrashingPut {
    async fn signing_secrets(&self, p: &str, c: &str) -> Result<Vec<Secret>, StoreError> {
        self.inner.signing_secrets(p, c).await
    }
    async fn refreshed_signing_secrets(&self, p: &str, c: &str) -> Result<Option<Vec<Secret>>, StoreError> {
        self.inner.refreshed_signing_secrets(p, c).await
    }
    async fn get(&self, p: &str, c: &str, k: &str) -> Result<Option<Secret>, StoreError> {
        self.inner.get(p, c, k).await
    }
    async fn put(&self, p: &str, c: &str, v: &[(String, Secret)]) -> Result<(), StoreError> {
        if self.crash_next_put.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Backend("killed before the save".into()));
        }
        self.inner.put(p, c, v).await
    }
    async fn delete(&self, p: &str, c: &str) -> Result<(), StoreError> {
        self.inner.delete(p, c).await
    }
}

async fn setup(expires_at: u64) -> (Arc<portage_fakes::oauth::OAuth>, String, Arc<CrashingPut>) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let fake = portage_fakes::oauth::OAuth::new(&basic, "at-0", "rt-0");
    let running = portage_fakes::serve(fake.router()).await;
    let mut secrets = MapSecrets::new();
    for (k, v) in [
        ("client_id", CLIENT_ID.to_owned()),
        ("client_secret", CLIENT_SECRET.to_owned()),
        ("access_token", "at-0".to_owned()),
        ("refresh_token", "rt-0".to_owned()),
        ("access_token_expires_at", expires_at.to_string()),
    ] {
        secrets.insert("thing", "default", k, Secret::new(v));
    }
    let secrets = Arc::new(CrashingPut { inner: secrets, crash_next_put: false.into() });
    (fake, running.base, secrets)
}

fn client(base: &str, secrets: Arc<CrashingPut>) -> Arc<ApiClient> {
    worker(base, secrets, None)
}

/// One worker's client; with `leases`, its refreshes take the shared lease.
fn worker(
    base: &str,
    secrets: Arc<CrashingPut>,
    leases: Option<(Arc<portage_embedded::Database>, &str)>,
) -> Arc<ApiClient> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut session = OAuthSession::new(
        "thing",
        "default",
        portage_client::TokenEndpoint::standard(format!("{base}/oauth/token")),
        secrets,
        http.clone(),
    );
    if let Some((store, holder)) = leases {
        session = session.with_lease(store, holder);
    }
    let credentials = Credentials::OAuth(Arc::new(session));
    Arc::new(ApiClient::new(
        http,
        Arc::new(ThingApi),
        "default",
        credentials,
        Some(base.to_owned()),
        Arc::new(Metrics::new()),
    ))
}

async fn twenty_calls(client: &Arc<ApiClient>) {
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.send(&ApiRequest::get("/v1/thing")).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
}

async fn stored(secrets: &CrashingPut, key: &str) -> String {
    secrets.get("thing", "default", key).await.unwrap().unwrap().expose().to_owned()
}

#[tokio::test]
async fn concurrent_calls_with_an_expired_or_refused_token_refresh_once() {
    let (fake, base, secrets) = setup(1).await;
    let client = client(&base, secrets.clone());
    twenty_calls(&client).await;
    assert_eq!(fake.refreshes.load(Ordering::SeqCst), 1, "an expired token: one refresh for 20 calls");
    assert_eq!(
        (stored(&secrets, "access_token").await, stored(&secrets, "refresh_token").await),
        ("at-1".into(), "rt-1".into())
    );

    fake.revoke_access();
    twenty_calls(&client).await;
    assert_eq!(fake.refreshes.load(Ordering::SeqCst), 2, "a refused token: one refresh for 20 calls");
    assert_eq!(stored(&secrets, "refresh_token").await, "rt-2", "the rotated refresh token is saved");
    let expires: u64 = stored(&secrets, "access_token_expires_at").await.parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!((now + 3500..=now + 3600).contains(&expires));
}

#[tokio::test]
async fn a_crash_between_refresh_and_save_is_survived() {
    let (fake, base, secrets) = setup(1).await;
    secrets.crash_next_put.store(true, Ordering::SeqCst);
    // One attempt: the process dies with the failed save.
    let first = client(&base, secrets.clone());
    let first = Arc::new(
        Arc::try_unwrap(first)
            .ok()
            .unwrap()
            .with_retry(portage_client::RetryPolicy { max_attempts: 1, ..Default::default() }),
    );
    let lost = first.send(&ApiRequest::get("/v1/thing")).await.unwrap_err();
    assert!(lost.to_string().contains("not saved"), "{lost}");
    assert_eq!(stored(&secrets, "refresh_token").await, "rt-0", "the rotated token never reached the store");

    // The process restarts: the stored refresh token is the one the provider
    // rotated away, still accepted until the new tokens are first used.
    let restarted = client(&base, secrets.clone());
    restarted.send(&ApiRequest::get("/v1/thing")).await.unwrap();
    assert_eq!(fake.refreshes.load(Ordering::SeqCst), 2);
    assert_eq!(stored(&secrets, "refresh_token").await, "rt-2");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let logs_free_of_secrets = !format!("{lost:?}").contains(CLIENT_SECRET);
    assert!(logs_free_of_secrets);
}

#[tokio::test]
async fn workers_sharing_a_lease_refresh_once_between_them() {
    let (fake, base, secrets) = setup(1).await;
    let dir = tempfile::tempdir().unwrap();
    let store = portage_embedded::open(dir.path()).unwrap();
    let workers = [
        worker(&base, secrets.clone(), Some((store.clone(), "worker-a"))),
        worker(&base, secrets.clone(), Some((store, "worker-b"))),
    ];
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let client = workers[i % 2].clone();
            tokio::spawn(async move { client.send(&ApiRequest::get("/v1/thing")).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(fake.refreshes.load(Ordering::SeqCst), 1, "two workers, twenty calls, one refresh");
    assert_eq!(stored(&secrets, "refresh_token").await, "rt-1");
}

#[tokio::test]
async fn the_pool_builds_oauth_clients_that_refresh_on_a_401() {
    let (fake, base, secrets) = setup(u64::MAX / 2).await;
    let origins = portage_client::Origins::parse(&format!("thing.example={base},auth.thing.example={base}")).unwrap();
    let store = tempfile::tempdir().unwrap();
    let leases = portage_embedded::open(store.path()).unwrap();
    let pool = portage_client::ClientPool::new(secrets.clone(), origins).unwrap().with_leases(leases);
    let source = portage_client::CredentialSource::OAuth(|_, _| {
        portage_client::TokenEndpoint::standard("https://auth.thing.example/oauth/token")
    });
    let client = pool.client(Arc::new(ThingApi), "default", source).await.unwrap().expect("the connection has a token");
    client.send(&ApiRequest::get("/v1/thing")).await.unwrap();
    assert_eq!(fake.refreshes.load(Ordering::SeqCst), 0, "a live token is used as it is");
    fake.revoke_access();
    twenty_calls(&client).await;
    assert_eq!(fake.refreshes.load(Ordering::SeqCst), 1, "refused: refreshed once, and the calls made again");
    assert_eq!(stored(&secrets, "refresh_token").await, "rt-1");
    let none = pool.client(Arc::new(ThingApi), "other", source).await.unwrap();
    assert!(none.is_none(), "no access token, no client");
}

#[tokio::test]
async fn an_expired_token_without_a_refresh_token_needs_authorising_again() {
    let mut secrets = MapSecrets::new();
    for (k, v) in [
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("access_token", "at-0"),
        ("access_token_expires_at", "1"),
    ] {
        secrets.insert("thing", "default", k, Secret::new(v));
    }
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let endpoint = portage_client::TokenEndpoint::standard("http://127.0.0.1:9/oauth/token");
    let session = OAuthSession::new("thing", "default", endpoint, Arc::new(secrets), http);
    match session.refresh_ahead(std::time::Duration::from_secs(60)).await {
        Err(ProviderError::Unauthorized(detail)) => {
            assert_eq!(detail.code.as_deref(), Some(portage_client::INVALID_GRANT))
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
