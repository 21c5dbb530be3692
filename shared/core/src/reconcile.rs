//! Reconcile: list what changed at each provider since a stored cursor and
//! repair local state through the same versioned upsert the sync flow uses,
//! so a lost webhook is made good within one schedule period.
//!
//! One cursor per (provider, connection, kind), saved after every page: a run
//! cut short (a Lambda timeout, a crash) resumes from the page it had reached.
//! An incremental run lists from the last completed run's start minus an
//! overlap window (clocks drift, providers index late); a full run lists
//! everything. The cursor's high-water mark advances only when a run has
//! walked every page.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tracing::{Instrument, info, info_span, warn};

use crate::domain::StateChange;
use crate::error::SyncError;
use crate::ports::{Clock, StateStore, UpsertOutcome};

/// Which objects a run asks the provider for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Objects changed since the last completed run (minus the overlap).
    Incremental,
    /// Every object: the daily sweep that also catches what an incremental
    /// listing cannot see (objects whose change time the provider does not index).
    Full,
}

impl Mode {
    /// Reads `incremental` or `full`, as the schedules send them.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "incremental" => Some(Self::Incremental),
            "full" => Some(Self::Full),
            _ => None,
        }
    }
}

/// One page of a provider's listing.
#[derive(Debug, Clone, Default)]
pub struct ChangePage {
    /// The objects on this page, as the state changes sync would make.
    pub changes: Vec<StateChange>,
    /// The token of the next page; `None` on the last one.
    pub next_page: Option<String>,
}

/// A provider connection's listing of objects, one implementation per
/// provider that has an API client.
#[async_trait]
pub trait ChangeSource: Send + Sync {
    /// The provider's name, as in the registry.
    fn provider(&self) -> &str;

    /// The connection (tenant account) this source lists.
    fn connection(&self) -> &str;

    /// The kinds of record it lists, e.g. `subscription`.
    fn kinds(&self) -> Vec<String>;

    /// One page of objects of `kind` changed at or after `since_secs` (every
    /// object when `None`), starting at `page` (the first page when `None`).
    async fn list(&self, kind: &str, since_secs: Option<i64>, page: Option<&str>) -> Result<ChangePage, SyncError>;

    /// How far back an incremental listing can see (Stripe keeps events for
    /// 30 days); an incremental run whose start lies further back lists
    /// everything instead, and says so. `None`: no limit.
    fn history(&self) -> Option<Duration> {
        None
    }
}

/// Told of a run's progress, page by page: what draws `portage
/// reconcile`'s progress bar on a terminal. Every method defaults to nothing.
pub trait Progress: Send + Sync {
    /// A listing of (provider, connection, kind) begins.
    fn begin(&self, provider: &str, connection: &str, kind: &str) {
        let _ = (provider, connection, kind);
    }

    /// A page was applied; `report` holds the totals so far.
    fn page(&self, report: &KindReport) {
        let _ = report;
    }

    /// The listing ended (complete or not).
    fn end(&self, report: &KindReport) {
        let _ = report;
    }
}

/// Progress nobody watches.
struct Unobserved;

impl Progress for Unobserved {}

/// How many repaired ids a kind's report names.
pub const MAX_REPAIRED_IDS: usize = 100;

/// What is stored under a cursor's name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// Start (Unix seconds) of the last run that walked every page.
    completed_at: Option<i64>,
    /// A run that has not reached its last page yet.
    in_progress: Option<InProgress>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct InProgress {
    mode: Mode,
    started_at: i64,
    since: Option<i64>,
    next_page: String,
}

/// What a run did for one (provider, connection, kind).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KindReport {
    /// Provider name.
    pub provider: String,
    /// Connection.
    pub connection: String,
    /// Record kind.
    pub kind: String,
    /// Listed from this time (Unix seconds); `None` for everything.
    pub since: Option<i64>,
    /// True when the run picked up an unfinished one.
    pub resumed: bool,
    /// Why an incremental run listed everything instead, when it did.
    pub ran_full: Option<String>,
    /// Pages walked.
    pub pages: usize,
    /// Objects the provider listed.
    pub listed: usize,
    /// Objects whose local state was missing or older: drift repaired.
    pub repaired: usize,
    /// Objects already up to date.
    pub unchanged: usize,
    /// The ids of the first repaired objects (at most [`MAX_REPAIRED_IDS`]).
    pub repaired_ids: Vec<String>,
    /// True when every page was walked and the cursor advanced.
    pub complete: bool,
    /// Why the run stopped early, if it did (no secrets, no personal data).
    pub error: Option<String>,
}

/// What a whole run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconcileReport {
    /// The mode asked for.
    pub mode: Mode,
    /// One entry per (provider, connection, kind).
    pub kinds: Vec<KindReport>,
    /// `provider/connection` pairs asked for whose provider cannot list yet.
    pub not_listed: Vec<String>,
}

/// Runs reconcile over the sources it is given.
pub struct Reconciler {
    state: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    sources: Vec<Arc<dyn ChangeSource>>,
    not_listed: Vec<String>,
    overlap: Duration,
    progress: Arc<dyn Progress>,
}

impl Reconciler {
    /// Wires the flow; `overlap` is how far before the last run an
    /// incremental listing starts (10 minutes is a safe default).
    pub fn new(
        state: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
        sources: Vec<Arc<dyn ChangeSource>>,
        overlap: Duration,
    ) -> Self {
        Self { state, clock, sources, not_listed: Vec::new(), overlap, progress: Arc::new(Unobserved) }
    }

    /// Reports these `provider/connection` pairs as not listed: asked for,
    /// but their provider cannot list yet (or they lack its credential).
    pub fn with_not_listed(mut self, not_listed: Vec<String>) -> Self {
        self.not_listed = not_listed;
        self
    }

    /// Reports progress, page by page, to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// The name a cursor is stored under.
    pub fn cursor_name(provider: &str, connection: &str, kind: &str) -> String {
        format!("reconcile/{provider}/{connection}/{kind}")
    }

    /// Walks every source and kind. A failing source is reported and the run
    /// goes on with the next; its cursor keeps the page it reached.
    pub async fn run(&self, mode: Mode) -> ReconcileReport {
        let mut kinds = Vec::new();
        for source in &self.sources {
            for kind in source.kinds() {
                let mut report = KindReport {
                    provider: source.provider().to_owned(),
                    connection: source.connection().to_owned(),
                    kind: kind.clone(),
                    ..KindReport::default()
                };
                self.progress.begin(&report.provider, &report.connection, &kind);
                let span =
                    info_span!("listing", provider = %report.provider, connection = %report.connection, kind = %kind);
                self.walk_and_report(source.as_ref(), &kind, mode, &mut report).instrument(span).await;
                self.progress.end(&report);
                kinds.push(report);
            }
        }
        ReconcileReport { mode, kinds, not_listed: self.not_listed.clone() }
    }

    /// Walks one kind and logs how it went, within the listing's span.
    async fn walk_and_report(&self, source: &dyn ChangeSource, kind: &str, mode: Mode, report: &mut KindReport) {
        if let Err(error) = self.walk(source, kind, mode, report).await {
            warn!(%error, "reconcile stopped early; the next run resumes from its cursor");
            report.error = Some(error.to_string());
        }
        info!(
            pages = report.pages,
            listed = report.listed,
            repaired = report.repaired,
            complete = report.complete,
            "reconcile walked"
        );
    }

    async fn walk(
        &self,
        source: &dyn ChangeSource,
        kind: &str,
        mode: Mode,
        report: &mut KindReport,
    ) -> Result<(), SyncError> {
        let name = Self::cursor_name(source.provider(), source.connection(), kind);
        let mut cursor = self.load(&name).await?;
        let mut progress = match cursor.in_progress.take() {
            // An unfinished run of the same mode is resumed; a full run is never
            // cut short by an unfinished incremental one.
            Some(p) if p.mode == mode || mode == Mode::Incremental => {
                report.resumed = true;
                p
            }
            _ => {
                let started_at = self.clock.now_secs();
                let mut since = self.since(&cursor, mode);
                let horizon =
                    source.history().map(|h| started_at.saturating_sub(i64::try_from(h.as_secs()).unwrap_or(i64::MAX)));
                if let (Some(from), Some(horizon)) = (since, horizon)
                    && from < horizon
                {
                    report.ran_full = Some(format!(
                        "the last completed run is older than the {} days the provider keeps changes",
                        source.history().map_or(0, |h| h.as_secs() / 86_400)
                    ));
                    since = None;
                }
                if mode == Mode::Incremental && cursor.completed_at.is_none() {
                    report.ran_full = Some("no completed run yet".into());
                }
                InProgress { mode, started_at, since, next_page: String::new() }
            }
        };
        report.since = progress.since;
        loop {
            let page_token = Some(progress.next_page.as_str()).filter(|t| !t.is_empty());
            let page = source.list(kind, progress.since, page_token).await?;
            report.pages += 1;
            // A page's objects are repaired concurrently, so their writes share
            // the store's group commits; versioned writes make the order moot.
            let repairs = futures::future::join_all(page.changes.iter().map(|change| self.repair(source, change)));
            for (change, repaired) in page.changes.iter().zip(repairs.await) {
                report.listed += 1;
                if repaired? {
                    report.repaired += 1;
                    if report.repaired_ids.len() < MAX_REPAIRED_IDS {
                        report.repaired_ids.push(change.id.clone());
                    }
                } else {
                    report.unchanged += 1;
                }
            }
            self.progress.page(report);
            match page.next_page {
                Some(next) if !next.is_empty() => {
                    progress.next_page = next;
                    cursor.in_progress = Some(progress.clone());
                }
                _ => {
                    cursor.in_progress = None;
                    cursor.completed_at = Some(progress.started_at);
                    self.save(&name, &cursor).await?;
                    report.complete = true;
                    return Ok(());
                }
            }
            self.save(&name, &cursor).await?;
        }
    }

    /// Writes a listed object when local state differs from it; true when
    /// that repaired drift. The same content is left alone (a listing is
    /// versioned by the time it was read, newer than what sync wrote), and a
    /// newer local version is never overwritten.
    async fn repair(&self, source: &dyn ChangeSource, change: &StateChange) -> Result<bool, SyncError> {
        let (provider, connection) = (source.provider(), source.connection());
        let stored = self.state.get(provider, connection, &change.kind, &change.id).await?;
        if stored.is_some_and(|s| s.data == change.data && s.deleted == change.deleted) {
            return Ok(false);
        }
        let outcome = self.state.upsert(provider, connection, change, None, self.clock.now_ms()).await?;
        Ok(outcome == UpsertOutcome::Applied)
    }

    fn since(&self, cursor: &Cursor, mode: Mode) -> Option<i64> {
        let overlap = i64::try_from(self.overlap.as_secs()).unwrap_or(i64::MAX);
        match mode {
            Mode::Full => None,
            Mode::Incremental => cursor.completed_at.map(|at| at.saturating_sub(overlap)),
        }
    }

    async fn load(&self, name: &str) -> Result<Cursor, SyncError> {
        match self.state.cursor(name).await? {
            // A cursor this version cannot read starts over rather than failing every run.
            Some(text) => Ok(serde_json::from_str(&text).unwrap_or_default()),
            None => Ok(Cursor::default()),
        }
    }

    async fn save(&self, name: &str, cursor: &Cursor) -> Result<(), SyncError> {
        let text = serde_json::to_string(cursor).map_err(|e| SyncError::Transient(e.to_string()))?;
        Ok(self.state.set_cursor(name, &text).await?)
    }
}
