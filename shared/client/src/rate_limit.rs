//! A token bucket per provider and connection, seeded with the provider's
//! documented limit and corrected by what its responses say: the remaining
//! budget (`X-Shopify-Shop-Api-Call-Limit: 39/40`, `x-remaining-this-second`,
//! `X-RateLimit-Remaining`), a wait (`Retry-After`, a reset time), and a
//! 429 itself, which halves the refill rate until successes restore it.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A provider's documented limit: `burst` calls at once, refilled at
/// `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Tokens added per second.
    pub per_second: f64,
    /// The bucket's size.
    pub burst: f64,
}

/// What one response said about the budget.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Observation {
    /// Calls left in the provider's bucket or window.
    pub remaining: Option<f64>,
    /// The provider's bucket size or window quota, when it says.
    pub limit: Option<f64>,
    /// Do not call before this long from now (`Retry-After`, a reset).
    pub wait: Option<Duration>,
    /// The provider's refill rate for these calls, per second
    /// (`x-amzn-RateLimit-Limit`).
    pub rate: Option<f64>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    rate: f64,
    ceiling: f64,
    burst: f64,
    updated: Instant,
    paused_until: Option<Instant>,
    in_flight: usize,
}

/// The adaptive bucket.
#[derive(Debug)]
pub struct RateLimiter {
    bucket: Mutex<Bucket>,
}

/// The slowest a pushed-back bucket refills, as a share of its ceiling (the
/// seed, or the rate the provider last reported).
const FLOOR: f64 = 0.1;
/// How much each success restores of the ceiling.
const RECOVERY: f64 = 0.02;

impl RateLimiter {
    /// A full bucket.
    pub fn new(seed: Limit) -> Self {
        let bucket = Bucket {
            tokens: seed.burst,
            rate: seed.per_second,
            ceiling: seed.per_second,
            burst: seed.burst,
            updated: Instant::now(),
            paused_until: None,
            in_flight: 0,
        };
        Self { bucket: Mutex::new(bucket) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.bucket.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for a token and takes it; the call is then in flight until
    /// [`RateLimiter::finished`].
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut b = self.lock();
                let now = Instant::now();
                refill(&mut b, now);
                match b.paused_until {
                    Some(until) if until > now => until - now,
                    _ if b.tokens >= 1.0 => {
                        b.tokens -= 1.0;
                        b.in_flight += 1;
                        return;
                    }
                    _ => Duration::from_secs_f64((1.0 - b.tokens) / b.rate.max(f64::MIN_POSITIVE)),
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// A call that [`RateLimiter::acquire`] let through has ended.
    pub fn finished(&self) {
        let mut b = self.lock();
        b.in_flight = b.in_flight.saturating_sub(1);
    }

    /// Corrects the bucket from the headers of a response to one of the
    /// calls in flight: the provider's remaining budget, less the other
    /// calls still in flight, which it may not have counted yet.
    pub fn observe(&self, seen: Observation) {
        let mut b = self.lock();
        let now = Instant::now();
        refill(&mut b, now);
        if let Some(limit) = seen.limit.filter(|l| *l > 0.0) {
            b.burst = limit;
        }
        if let Some(rate) = seen.rate.filter(|r| r.is_finite() && *r > 0.0) {
            b.rate = b.rate.min(rate);
            b.ceiling = rate;
        }
        if let Some(remaining) = seen.remaining {
            #[allow(clippy::cast_precision_loss)]
            let others = b.in_flight.saturating_sub(1) as f64;
            b.tokens = b.tokens.min((remaining - others).max(0.0));
        }
        if let Some(wait) = seen.wait {
            let until = now + wait;
            b.paused_until = Some(b.paused_until.map_or(until, |p| p.max(until)));
            b.tokens = 0.0;
        }
    }

    /// The provider refused a call for its rate: refill slower.
    pub fn pushed_back(&self) {
        let mut b = self.lock();
        b.rate = (b.rate / 2.0).max(b.ceiling * FLOOR);
    }

    /// A call went through: recover towards the seed rate.
    pub fn succeeded(&self) {
        let mut b = self.lock();
        b.rate = (b.rate + b.ceiling * RECOVERY).min(b.ceiling);
    }

    /// The current refill rate (calls per second).
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }
}

fn refill(b: &mut Bucket, now: Instant) {
    let elapsed = now.duration_since(b.updated).as_secs_f64();
    b.tokens = (b.tokens + elapsed * b.rate).min(b.burst);
    b.updated = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_bursts_then_paces_at_the_rate() {
        let limiter = RateLimiter::new(Limit { per_second: 2.0, burst: 4.0 });
        let start = Instant::now();
        for _ in 0..8 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(2), "4 at once, then 4 more at 2 per second");
    }

    #[tokio::test(start_paused = true)]
    async fn headers_correct_the_budget_and_waits_are_honoured() {
        let limiter = RateLimiter::new(Limit { per_second: 2.0, burst: 40.0 });
        limiter.observe(Observation { remaining: Some(0.0), limit: Some(40.0), ..Default::default() });
        let start = Instant::now();
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(500), "the provider's bucket was full");
        limiter.observe(Observation { wait: Some(Duration::from_secs(3)), ..Default::default() });
        let start = Instant::now();
        limiter.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(3), "Retry-After honoured to the second");
    }

    #[test]
    fn pushback_halves_the_rate_and_successes_restore_it() {
        let limiter = RateLimiter::new(Limit { per_second: 10.0, burst: 10.0 });
        limiter.pushed_back();
        limiter.pushed_back();
        assert!((limiter.rate() - 2.5).abs() < 1e-9);
        for _ in 0..100 {
            limiter.pushed_back();
        }
        assert!((limiter.rate() - 1.0).abs() < 1e-9, "never below a tenth");
        for _ in 0..100 {
            limiter.succeeded();
        }
        assert!((limiter.rate() - 10.0).abs() < 1e-9);
        limiter.observe(Observation { rate: Some(0.5), ..Default::default() });
        assert!((limiter.rate() - 0.5).abs() < 1e-9, "the provider's reported rate is the new ceiling");
    }
}
