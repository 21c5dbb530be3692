//! A circuit breaker per provider and connection: closed while calls
//! mostly succeed; open (calls fail fast, nothing sent) once the failure rate
//! over a window passes a threshold; half-open after a pause, letting a few
//! probes through; closed again when they succeed.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

/// When the breaker opens and how it recovers.
#[derive(Debug, Clone)]
pub struct BreakerConfig {
    /// Outcomes older than this are forgotten.
    pub window: Duration,
    /// Fewer outcomes than this in the window never open the breaker.
    pub min_calls: usize,
    /// Opens when failures / calls in the window reach this.
    pub failure_rate: f64,
    /// How long it stays open before letting probes through.
    pub open_for: Duration,
    /// Calls let through at once while half-open.
    pub probes: usize,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(30),
            min_calls: 20,
            failure_rate: 0.5,
            open_for: Duration::from_secs(15),
            probes: 2,
        }
    }
}

/// The breaker's state, as logged and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls fail fast.
    Open,
    /// A few probes go through.
    HalfOpen,
}

impl BreakerState {
    /// The name used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
enum Inner {
    Closed { outcomes: VecDeque<(Instant, bool)> },
    Open { until: Instant },
    HalfOpen { in_flight: usize },
}

/// A permission to make one call; report how it went with
/// [`CircuitBreaker::record`].
#[derive(Debug)]
#[must_use]
pub struct Permit {
    probe: bool,
}

/// One provider connection's breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    name: String,
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker; `name` (`provider/connection`) is what its logs say.
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Self {
        Self { name: name.into(), config, inner: Mutex::new(Inner::Closed { outcomes: VecDeque::new() }) }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match &*self.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until } if Instant::now() < *until => BreakerState::Open,
            Inner::Open { .. } | Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn transition(&self, inner: &mut Inner, next: Inner) {
        let (from, to) = (state_of(inner), state_of(&next));
        *inner = next;
        if from != to {
            warn!(breaker = %self.name, from = from.as_str(), to = to.as_str(), "circuit breaker state changed");
        }
    }

    /// Asks to make a call: a permit, or how long until the breaker lets one
    /// through.
    pub fn acquire(&self) -> Result<Permit, Duration> {
        let mut inner = self.lock();
        let now = Instant::now();
        match &mut *inner {
            Inner::Closed { .. } => Ok(Permit { probe: false }),
            Inner::Open { until } if now < *until => Err(*until - now),
            Inner::Open { .. } => {
                self.transition(&mut inner, Inner::HalfOpen { in_flight: 1 });
                Ok(Permit { probe: true })
            }
            Inner::HalfOpen { in_flight } if *in_flight < self.config.probes => {
                *in_flight += 1;
                Ok(Permit { probe: true })
            }
            Inner::HalfOpen { .. } => Err(Duration::from_millis(100)),
        }
    }

    /// Reports a call's outcome. `failed` is for failures that say the
    /// provider is unwell (5xx, timeouts, dropped connections), not for
    /// a refused request.
    pub fn record(&self, permit: Permit, failed: bool) {
        let mut inner = self.lock();
        let now = Instant::now();
        match &mut *inner {
            Inner::HalfOpen { in_flight } if permit.probe => {
                *in_flight = in_flight.saturating_sub(1);
                if failed {
                    self.transition(&mut inner, Inner::Open { until: now + self.config.open_for });
                } else if *in_flight == 0 {
                    self.transition(&mut inner, Inner::Closed { outcomes: VecDeque::new() });
                }
            }
            Inner::Closed { outcomes } => {
                outcomes.push_back((now, failed));
                while outcomes.front().is_some_and(|(at, _)| now.duration_since(*at) > self.config.window) {
                    outcomes.pop_front();
                }
                let failures = outcomes.iter().filter(|(_, f)| *f).count();
                let calls = outcomes.len();
                #[allow(clippy::cast_precision_loss)]
                let rate = failures as f64 / calls as f64;
                if calls >= self.config.min_calls && rate >= self.config.failure_rate {
                    self.transition(&mut inner, Inner::Open { until: now + self.config.open_for });
                }
            }
            // A call permitted before the breaker opened, ending after.
            Inner::Open { .. } | Inner::HalfOpen { .. } => {}
        }
    }
}

fn state_of(inner: &Inner) -> BreakerState {
    match inner {
        Inner::Closed { .. } => BreakerState::Closed,
        Inner::Open { .. } => BreakerState::Open,
        Inner::HalfOpen { .. } => BreakerState::HalfOpen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        let config = BreakerConfig { min_calls: 4, open_for: Duration::from_secs(10), probes: 1, ..Default::default() };
        CircuitBreaker::new("stripe/default", config)
    }

    #[tokio::test(start_paused = true)]
    async fn opens_on_failures_fails_fast_and_closes_after_a_good_probe() {
        let b = breaker();
        for _ in 0..3 {
            b.record(b.acquire().unwrap(), true);
        }
        assert_eq!(b.state(), BreakerState::Closed, "too few calls to judge");
        b.record(b.acquire().unwrap(), true);
        assert_eq!(b.state(), BreakerState::Open);
        let wait = b.acquire().unwrap_err();
        assert!(wait <= Duration::from_secs(10) && wait > Duration::from_secs(9));
        tokio::time::advance(Duration::from_secs(10)).await;
        let probe = b.acquire().unwrap();
        assert!(b.acquire().is_err(), "one probe at a time");
        b.record(probe, false);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_it_again_and_old_failures_are_forgotten() {
        let b = breaker();
        for _ in 0..4 {
            b.record(b.acquire().unwrap(), true);
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        b.record(b.acquire().unwrap(), true);
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(10)).await;
        b.record(b.acquire().unwrap(), false);
        for _ in 0..3 {
            b.record(b.acquire().unwrap(), true);
        }
        tokio::time::advance(Duration::from_secs(31)).await;
        for _ in 0..3 {
            b.record(b.acquire().unwrap(), false);
        }
        b.record(b.acquire().unwrap(), true);
        assert_eq!(b.state(), BreakerState::Closed, "1 failure in 4 recent calls");
    }
}
