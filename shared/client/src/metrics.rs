//! Counts of what the client did, per provider: calls, retries, 429s, open
//! breakers, and call latency. Read by the functions' metric emitters and by
//! tests; also logged at debug level.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// The counts, in memory.
#[derive(Debug, Default)]
pub struct Metrics {
    counts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    latency: Mutex<BTreeMap<&'static str, (u64, Duration)>>,
}

impl Metrics {
    /// No counts yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one `name` (`retries`, `rate_limited`, `circuit_open`,
    /// `breaker_opened`) for `provider`.
    pub fn count(&self, provider: &'static str, name: &'static str) {
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry((provider, name)).or_default() += 1;
    }

    /// Counts one call and its latency.
    pub fn call(&self, provider: &'static str, took: Duration) {
        self.count(provider, "calls");
        let mut latency = self.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = latency.entry(provider).or_default();
        entry.0 += 1;
        entry.1 += took;
        tracing::debug!(provider, took_ms = took.as_millis() as u64, "provider call");
    }

    /// The count of `name` for `provider`.
    pub fn get(&self, provider: &'static str, name: &'static str) -> u64 {
        let counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.get(&(provider, name)).copied().unwrap_or(0)
    }

    /// The mean call latency for `provider`.
    pub fn mean_latency(&self, provider: &'static str) -> Option<Duration> {
        let latency = self.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        latency.get(provider).filter(|(n, _)| *n > 0).map(|(n, total)| *total / u32::try_from(*n).unwrap_or(u32::MAX))
    }
}
