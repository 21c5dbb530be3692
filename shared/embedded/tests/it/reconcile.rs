//! The reconcile flow over the embedded state store: drift repaired through
//! versioned upserts, cursors saved per page, a run cut short resumed, and
//! incremental runs listing from the last completed run minus the overlap.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use portage_core::ports::{Clock, StateStore};
use portage_core::reconcile::{ChangePage, ChangeSource, Mode, Reconciler};
use portage_core::{StateChange, SyncError, Version};
use serde_json::json;

/// A provider's objects, listed by update time in pages of three; it can be
/// told to fail one page request.
struct Listing {
    objects: Mutex<Vec<(String, i64)>>,
    fail_on_call: AtomicUsize,
    calls: AtomicUsize,
    asked_since: Mutex<Vec<Option<i64>>>,
}

impl Listing {
    fn new(objects: &[(&str, i64)]) -> Self {
        Self {
            objects: Mutex::new(objects.iter().map(|(id, at)| ((*id).to_owned(), *at)).collect()),
            fail_on_call: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            asked_since: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl ChangeSource for Listing {
    fn provider(&self) -> &str {
        "test"
    }

    fn connection(&self) -> &str {
        "acme"
    }

    fn kinds(&self) -> Vec<String> {
        vec!["subscription".into()]
    }

    async fn list(&self, kind: &str, since: Option<i64>, page: Option<&str>) -> Result<ChangePage, SyncError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if call == self.fail_on_call.load(Ordering::SeqCst) {
            return Err(SyncError::Transient("provider answered 503".into()));
        }
        if page.is_none() {
            self.asked_since.lock().unwrap().push(since);
        }
        let mut matching: Vec<(String, i64)> =
            self.objects.lock().unwrap().iter().filter(|(_, at)| since.is_none_or(|s| *at >= s)).cloned().collect();
        matching.sort();
        let start: usize = page.map_or(0, |p| p.parse().unwrap());
        let changes = matching
            .iter()
            .skip(start)
            .take(3)
            .map(|(id, at)| StateChange {
                kind: kind.to_owned(),
                id: id.clone(),
                version: Version { primary: *at, secondary: 0 },
                data: json!({ "id": id, "updated": at }),
                deleted: false,
            })
            .collect();
        let next = Some(start + 3).filter(|n| *n < matching.len()).map(|n| n.to_string());
        Ok(ChangePage { changes, next_page: next })
    }
}

struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

const OVERLAP: Duration = Duration::from_secs(600);

#[tokio::test]
async fn drift_is_repaired_and_the_cursor_advances_only_after_the_last_page() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    let clock = Arc::new(TestClock(AtomicI64::new(1_000_000_000)));
    let objects: Vec<(String, i64)> = (0..8).map(|i| (format!("sub_{i}"), 900_000 + i)).collect();
    let refs: Vec<(&str, i64)> = objects.iter().map(|(id, at)| (id.as_str(), *at)).collect();
    let listing = Arc::new(Listing::new(&refs));
    // sub_0 is already up to date locally, sub_1 is older: 7 of 8 need repair.
    for (id, at) in [("sub_0", 900_000), ("sub_1", 1)] {
        let change = StateChange {
            kind: "subscription".into(),
            id: id.into(),
            version: Version { primary: at, secondary: 0 },
            data: json!({ "id": id }),
            deleted: false,
        };
        db.upsert("test", "acme", &change, Some("evt"), 0).await.unwrap();
    }
    let reconciler =
        Reconciler::new(db.clone(), clock.clone(), vec![listing.clone() as Arc<dyn ChangeSource>], OVERLAP);
    let name = Reconciler::cursor_name("test", "acme", "subscription");

    // The second page fails: the first page is applied and its cursor saved.
    listing.fail_on_call.store(2, Ordering::SeqCst);
    let first = reconciler.run(Mode::Full).await;
    let report = &first.kinds[0];
    assert_eq!((report.pages, report.listed, report.repaired, report.unchanged), (1, 3, 2, 1));
    assert!(!report.complete);
    assert!(report.error.as_deref().unwrap().contains("503"));
    let saved: serde_json::Value = serde_json::from_str(&db.cursor(&name).await.unwrap().unwrap()).unwrap();
    assert_eq!(saved["in_progress"]["next_page"], "3");
    assert_eq!(saved["completed_at"], serde_json::Value::Null, "no high-water mark before the last page");

    // The next run resumes from page two and finishes.
    clock.0.store(1_000_900_000, Ordering::SeqCst);
    let second = reconciler.run(Mode::Full).await;
    let report = &second.kinds[0];
    assert!(report.resumed && report.complete, "{report:?}");
    assert_eq!((report.pages, report.listed, report.repaired), (2, 5, 5));
    let records = db.list("test", "acme", "subscription").await.unwrap();
    assert_eq!(records.len(), 8);
    assert!(records.iter().all(|r| r.data["updated"].is_i64() || r.id == "sub_0"));
    let saved: serde_json::Value = serde_json::from_str(&db.cursor(&name).await.unwrap().unwrap()).unwrap();
    assert_eq!(saved["completed_at"], 1_000_000, "the resumed run's start is the high-water mark");

    // An incremental run lists from that mark minus the overlap, and finds nothing to repair.
    let third = reconciler.run(Mode::Incremental).await;
    let report = &third.kinds[0];
    assert_eq!(report.since, Some(1_000_000 - 600));
    assert_eq!((report.listed, report.repaired), (0, 0));
    assert!(report.complete);

    // An object changed at the provider after that is picked up by the next incremental run.
    listing.objects.lock().unwrap().push(("sub_9".into(), 1_000_950));
    clock.0.store(1_001_000_000, Ordering::SeqCst);
    let fourth = reconciler.run(Mode::Incremental).await;
    let report = &fourth.kinds[0];
    assert_eq!((report.listed, report.repaired), (1, 1));
    assert_eq!(report.since, Some(1_000_900 - 600));
    assert_eq!(*listing.asked_since.lock().unwrap(), [None, Some(999_400), Some(1_000_300)]);
    assert!(db.get("test", "acme", "subscription", "sub_9").await.unwrap().is_some());
}

#[tokio::test]
async fn a_full_run_does_not_resume_an_unfinished_incremental_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    let clock = Arc::new(TestClock(AtomicI64::new(2_000_000_000)));
    let listing = Arc::new(Listing::new(&[("a", 1), ("b", 2), ("c", 3), ("d", 4)]));
    let reconciler = Reconciler::new(db.clone(), clock, vec![listing.clone() as Arc<dyn ChangeSource>], OVERLAP);
    listing.fail_on_call.store(2, Ordering::SeqCst);
    assert!(!reconciler.run(Mode::Incremental).await.kinds[0].complete);
    let full = reconciler.run(Mode::Full).await;
    let report = &full.kinds[0];
    assert!(!report.resumed && report.complete);
    assert_eq!((report.since, report.listed), (None, 4));
}
