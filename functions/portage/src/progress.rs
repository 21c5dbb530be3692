//! `portage reconcile`'s progress on a terminal: one spinner line per
//! listing with its pages, objects and repairs. Drawn on stderr, and only
//! when stderr is a terminal, so stdout carries nothing but the report.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use portage_core::reconcile::{KindReport, Progress};
use std::sync::Mutex;

/// The spinner of the listing under way.
pub(crate) struct TerminalProgress {
    bar: Mutex<Option<ProgressBar>>,
}

impl TerminalProgress {
    /// Progress drawn on stderr when it is a terminal (hidden otherwise).
    pub(crate) fn new() -> Self {
        Self { bar: Mutex::new(None) }
    }

    fn with_bar(&self, f: impl FnOnce(&ProgressBar)) {
        if let Ok(bar) = self.bar.lock()
            && let Some(bar) = bar.as_ref()
        {
            f(bar);
        }
    }
}

fn counts(report: &KindReport) -> String {
    format!("{} pages, {} listed, {} repaired", report.pages, report.listed, report.repaired)
}

impl Progress for TerminalProgress {
    fn begin(&self, provider: &str, connection: &str, kind: &str) {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(format!("{provider}/{connection} {kind}:"));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn page(&self, report: &KindReport) {
        self.with_bar(|bar| bar.set_message(counts(report)));
    }

    fn end(&self, report: &KindReport) {
        let outcome = if report.complete { "complete" } else { "stopped early" };
        self.with_bar(|bar| bar.finish_with_message(format!("{}, {outcome}", counts(report))));
    }
}
