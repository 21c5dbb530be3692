//! Injected faults, shared by every fake: set at any time, read on every
//! request.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use rand::Rng;
use tokio::time::Instant;

/// What to inject.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Share of requests answered with a 5xx (500, 502, 503 in turn).
    pub error_rate: f64,
    /// Share of requests whose connection is dropped half-way through the
    /// answer.
    pub drop_rate: f64,
    /// Share of requests that hang for `hang` (past the client's timeout).
    pub hang_rate: f64,
    /// How long a hanging request hangs.
    pub hang: Duration,
    /// Latency added to every request.
    pub latency: Duration,
    /// Every request answered 503 (a full outage).
    pub outage: bool,
    /// The next this many requests are answered 503, whatever else is set.
    pub fail_next: u64,
    /// Until this instant, every request is answered 429 with
    /// `Retry-After` pointing at it (a 429 storm).
    pub storm_until: Option<Instant>,
}

/// What the fake does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Serve it.
    None,
    /// Answer this 5xx.
    Error(StatusCode),
    /// Answer 429 with `Retry-After` of this many seconds.
    Storm(u64),
    /// Start a 200 and drop the connection before its body ends.
    Drop,
}

/// The answer to a request `decide` gave a fault, in the provider's error
/// shape (`error` makes its body for a status); `None` to serve it.
pub fn answer(
    fault: Fault,
    error: impl Fn(StatusCode) -> axum::response::Response,
) -> Option<axum::response::Response> {
    match fault {
        Fault::None => None,
        Fault::Storm(secs) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS);
            response.headers_mut().insert("retry-after", secs.into());
            Some(response)
        }
        Fault::Error(status) => Some(error(status)),
        Fault::Drop => Some(dropped()),
    }
}

/// A response whose connection is dropped mid-body: headers promising a
/// body, then an error that makes the server abort the connection.
pub fn dropped() -> axum::response::Response {
    let failing = futures::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::other("connection dropped"))
    });
    axum::response::Response::builder()
        .header("content-type", "application/json")
        .header("content-length", "4096")
        .body(axum::body::Body::from_stream(failing))
        .unwrap_or_default()
}

/// The switches, and counts of what was served.
#[derive(Debug, Default)]
pub struct Switches {
    faults: Mutex<Faults>,
    failures_left: AtomicU64,
    /// Requests received, faults included.
    pub requests: AtomicU64,
    /// Requests answered 429.
    pub throttled: AtomicU64,
}

impl Switches {
    /// Replaces the faults.
    pub fn set(&self, faults: Faults) {
        self.failures_left.store(faults.fail_next, Ordering::SeqCst);
        *self.faults.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = faults;
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Requests answered 429 so far.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::SeqCst)
    }

    /// Counts a request and decides its fault, after the injected latency
    /// or hang.
    pub async fn decide(&self) -> Fault {
        let n = self.requests.fetch_add(1, Ordering::SeqCst);
        let faults = self.faults.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let (hang, error, drop) = {
            let mut rng = rand::rng();
            let mut roll = |rate: f64| rng.random_bool(rate.clamp(0.0, 1.0));
            (roll(faults.hang_rate), roll(faults.error_rate), roll(faults.drop_rate))
        };
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        if hang {
            tokio::time::sleep(faults.hang).await;
        }
        if let Some(until) = faults.storm_until {
            let now = Instant::now();
            if now < until {
                self.throttled.fetch_add(1, Ordering::SeqCst);
                return Fault::Storm((until - now).as_secs_f64().ceil() as u64);
            }
        }
        let counted_down =
            self.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1));
        if faults.outage || counted_down.is_ok() {
            return Fault::Error(StatusCode::SERVICE_UNAVAILABLE);
        }
        if drop {
            return Fault::Drop;
        }
        if error {
            let statuses =
                [StatusCode::INTERNAL_SERVER_ERROR, StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE];
            return Fault::Error(statuses[(n % 3) as usize]);
        }
        Fault::None
    }
}
