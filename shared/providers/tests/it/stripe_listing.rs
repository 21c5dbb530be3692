//! Stripe's reconcile listing through the reconcile flow, against the
//! Stripe fake: a run cut mid-listing (the provider goes down) resumes from
//! the page it reached; an incremental run whose cursor is older than the
//! 30 days Stripe keeps events lists everything and says so.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use portage_client::{ClientPool, CredentialSource, Origins};
use portage_core::ports::{Clock, Secrets, StateStore, SystemClock};
use portage_core::reconcile::{ChangePage, ChangeSource, Mode, Reconciler};
use portage_core::{Secret, SyncError};
use portage_embedded::MapSecrets;
use portage_fakes::faults::Faults;
use portage_fakes::stripe::Stripe;
use portage_providers::stripe::api::StripeApi;
use portage_providers::stripe::reconcile::StripeListing;

const KEY: &str = "sk_test_listing_4242";

/// The Stripe listing, with the provider going down after `pages` pages.
struct DownAfter {
    inner: StripeListing,
    fake: Arc<Stripe>,
    pages: usize,
    seen: AtomicUsize,
}

#[async_trait]
impl ChangeSource for DownAfter {
    fn provider(&self) -> &str {
        self.inner.provider()
    }
    fn connection(&self) -> &str {
        self.inner.connection()
    }
    fn kinds(&self) -> Vec<String> {
        vec!["customer".into()]
    }
    fn history(&self) -> Option<Duration> {
        self.inner.history()
    }
    async fn list(&self, kind: &str, since: Option<i64>, page: Option<&str>) -> Result<ChangePage, SyncError> {
        if self.seen.fetch_add(1, Ordering::SeqCst) == self.pages {
            self.fake.switches.set(Faults { outage: true, ..Faults::default() });
        }
        self.inner.list(kind, since, page).await
    }
}

async fn listing(base: &str) -> StripeListing {
    let mut secrets = MapSecrets::new();
    secrets.insert("stripe", "default", "api_key", Secret::new(KEY));
    let pool = ClientPool::new(
        Arc::new(secrets) as Arc<dyn Secrets>,
        Origins::parse(&format!("api.stripe.com={base}")).unwrap(),
    )
    .unwrap();
    let client =
        pool.client(Arc::new(StripeApi), "default", CredentialSource::Bearer("api_key")).await.unwrap().unwrap();
    StripeListing::new(client, "default", Arc::new(SystemClock))
}

#[tokio::test]
async fn a_run_cut_mid_listing_resumes_from_its_page() {
    let fake = Stripe::new(KEY, 450, 1000);
    let running = portage_fakes::serve(fake.router()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    let source = Arc::new(DownAfter {
        inner: listing(&running.base).await,
        fake: fake.clone(),
        pages: 2,
        seen: AtomicUsize::new(0),
    });
    let reconciler = Reconciler::new(db.clone(), Arc::new(SystemClock), vec![source.clone()], Duration::from_secs(600));
    let cut = reconciler.run(Mode::Full).await;
    let customers = &cut.kinds[0];
    assert!(!customers.complete && customers.error.is_some(), "{customers:?}");
    assert_eq!((customers.pages, customers.listed), (2, 200), "two pages landed before the outage");

    fake.switches.set(Faults::default());
    let before = fake.switches.requests();
    let resumed = reconciler.run(Mode::Full).await;
    let customers = &resumed.kinds[0];
    assert!(customers.resumed && customers.complete, "{customers:?}");
    assert_eq!((customers.pages, customers.listed, customers.repaired), (3, 250, 250), "the rest, from page three");
    assert_eq!(fake.switches.requests() - before, 3, "no page was asked for twice");
    assert_eq!(StateStore::list(db.as_ref(), "stripe", "default", "customer").await.unwrap().len(), 450);
}

#[tokio::test]
async fn a_cursor_older_than_stripes_event_retention_runs_full() {
    let fake = Stripe::new(KEY, 5, 1000);
    let running = portage_fakes::serve(fake.router()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    let forty_days_ago = SystemClock.now_secs() - 40 * 86_400;
    let cursor = format!("{{\"completed_at\":{forty_days_ago},\"in_progress\":null}}");
    db.set_cursor(&Reconciler::cursor_name("stripe", "default", "customer"), &cursor).await.unwrap();
    let source = Arc::new(listing(&running.base).await);
    let reconciler = Reconciler::new(db.clone(), Arc::new(SystemClock), vec![source], Duration::from_secs(600));
    let report = reconciler.run(Mode::Incremental).await;
    let customers = report.kinds.iter().find(|k| k.kind == "customer").unwrap();
    assert_eq!(customers.since, None, "listed everything");
    assert!(customers.ran_full.as_deref().is_some_and(|why| why.contains("30 days")), "{customers:?}");
    assert_eq!(customers.repaired, 5);
}
