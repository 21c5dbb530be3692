//! HTTP fakes of provider APIs, for tests and benchmarks only. Each one
//! enforces what its provider documents (authentication, pagination, the
//! rate-limit algorithm and the headers that report it, error bodies) and
//! takes injected faults from [`Faults`]: a share of 5xx answers, added
//! latency, hangs past the client's timeout, dropped connections, a 429
//! storm with `Retry-After`, a full outage.

pub mod authorization;
pub mod etsy;
pub mod faults;
pub mod hubspot;
pub mod oauth;
pub mod paypal;
pub mod printify;
pub mod recorded;
pub mod sendgrid;
pub mod shopify;
pub mod stripe;
pub mod twilio;
pub mod wc_auth;

use std::net::SocketAddr;

use axum::Router;

pub use faults::{Fault, Faults};

/// A fake listening on a loopback port.
pub struct Running {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The address.
    pub addr: SocketAddr,
}

/// Serves `app` on a free loopback port, in the background.
pub async fn serve(app: Router) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Running { base: format!("http://{addr}"), addr }
}
