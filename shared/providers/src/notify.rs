//! Delivering notifications to the app the Standard Webhooks way: the
//! stored body, `webhook-id` (the same on every attempt), `webhook-timestamp`
//! and `webhook-signature` (`v1,` HMAC-SHA256 with the subscription's
//! secret, the scheme cross-checked against the official library's vectors
//! in `fixtures/standardwebhooks`). A 2xx within 15 seconds delivers; anything
//! else is tried again on the schedule, then given up to the dead-letter queue.
//!
//! Targets are `https`, or `http` on loopback. Unless the subscription allows
//! it, a target that is or resolves to a private, link-local (cloud
//! metadata), shared or unspecified address is refused, at every attempt
//! and for every address the name resolves to, so a name rebound to an
//! internal address after the subscription was made still reaches nothing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portage_core::notifications::{NotificationHandler, NotificationStatus, NotificationStore, Subscription};
use portage_core::ports::Clock;
use portage_core::sync::Settlement;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tracing::{info, warn};
use url::Url;

/// How long the app has to answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// The default retry schedule: the delay before each attempt.
pub const DEFAULT_SCHEDULE_SECS: [u64; 8] = [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000];

/// Whether a delivery may reach `ip`: loopback always (a local app), any
/// address when the subscription allows private ones, otherwise public
/// unicast addresses only.
pub fn reachable(ip: IpAddr, allow_private: bool) -> bool {
    if ip.is_loopback() || allow_private {
        return true;
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b))
                || a == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return reachable(IpAddr::V4(v4), false);
            }
            let first = v6.segments()[0];
            !(v6.is_unspecified() || v6.is_multicast() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Why a target URL is refused, if it is: checked when a subscription is
/// made and before every attempt.
pub fn refused_target(url: &str, allow_private: bool) -> Option<String> {
    let Ok(parsed) = Url::parse(url) else { return Some("not a URL".to_owned()) };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Some("a target URL carries no credentials".to_owned());
    }
    let host = parsed.host_str()?;
    let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
    let loopback = host == "localhost" || literal.is_some_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Some("http is allowed only on loopback: use https".to_owned()),
        other => return Some(format!("scheme {other} is not https")),
    }
    match literal {
        Some(ip) if !reachable(ip, allow_private) => Some(format!("{ip} is a private, link-local or reserved address")),
        _ => None,
    }
}

/// Resolves names to the addresses a delivery may reach only.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| reachable(a.ip(), false)).collect();
            if allowed.is_empty() {
                return Err(format!("{} resolves only to private or reserved addresses", name.as_str()).into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

fn client(resolver: Option<Arc<PublicOnly>>) -> Result<reqwest::Client, reqwest::Error> {
    let builder = reqwest::Client::builder()
        .user_agent(portage_client::USER_AGENT)
        .timeout(DELIVERY_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none());
    match resolver {
        Some(resolver) => builder.dns_resolver(resolver),
        None => builder,
    }
    .build()
}

/// Delivers notification tasks.
pub struct Deliverer {
    store: Arc<dyn NotificationStore>,
    clock: Arc<dyn Clock>,
    schedule: Vec<Duration>,
    strict: reqwest::Client,
    open: reqwest::Client,
}

impl Deliverer {
    /// A deliverer retrying on `schedule` (the delay before each attempt;
    /// its length is the number of attempts).
    pub fn new(
        store: Arc<dyn NotificationStore>,
        clock: Arc<dyn Clock>,
        schedule: Vec<Duration>,
    ) -> Result<Self, reqwest::Error> {
        let schedule = if schedule.is_empty() { vec![Duration::ZERO] } else { schedule };
        Ok(Self { store, clock, schedule, strict: client(Some(Arc::new(PublicOnly)))?, open: client(None)? })
    }

    /// One attempt: `Ok` on a 2xx, else why not.
    async fn attempt(&self, subscription: &Subscription, id: &str, body: &str) -> Result<(), String> {
        if let Some(reason) = refused_target(&subscription.url, subscription.allow_private) {
            return Err(format!("target refused: {reason}"));
        }
        let secret = subscription.secret.as_ref().ok_or("the subscription has no secret")?;
        let key =
            crate::standardwebhooks::verify::key(secret).ok_or("the subscription's secret is not a whsec_ key")?;
        let timestamp = self.clock.now_secs();
        let signature = crate::standardwebhooks::verify::sign(id, timestamp, body.as_bytes(), &key);
        let http = if subscription.allow_private { &self.open } else { &self.strict };
        let response = http
            .post(&subscription.url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() { "no answer within 15 s".to_owned() } else { "could not deliver".to_owned() }
            })?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(format!("answered {}", status.as_u16())) }
    }

    /// The delay before attempt `next` (0-based), with ±20 % jitter.
    fn delay(&self, next: usize) -> Duration {
        let base = self.schedule.get(next).copied().unwrap_or_default();
        base.mul_f64(0.8 + 0.4 * rand::random::<f64>())
    }
}

#[async_trait]
impl NotificationHandler for Deliverer {
    async fn deliver(&self, id: &str) -> Settlement {
        let notification = match self.store.notification(id).await {
            Ok(Some(n)) if n.status == NotificationStatus::Pending => n,
            Ok(_) => return Settlement::Ack,
            Err(error) => {
                warn!(%error, notification = id, "could not read the notification");
                return Settlement::Retry { delay: Duration::from_secs(5) };
            }
        };
        let subscription = match self.store.subscription(&notification.subscription_id).await {
            Ok(found) => found,
            Err(_) => return Settlement::Retry { delay: Duration::from_secs(5) },
        };
        let now = self.clock.now_ms();
        let Some(subscription) = subscription else {
            let _ = self.store.attempted(id, NotificationStatus::Failed, Some("subscription removed"), now).await;
            return Settlement::Ack;
        };
        let outcome = self.attempt(&subscription, id, &notification.body).await;
        let attempts = usize::try_from(notification.attempts).unwrap_or(usize::MAX).saturating_add(1);
        let (status, error, settlement) = match &outcome {
            Ok(()) => (NotificationStatus::Delivered, None, Settlement::Ack),
            Err(error) if attempts >= self.schedule.len() => (
                NotificationStatus::Failed,
                Some(error.as_str()),
                Settlement::DeadLetter { reason: "delivery_failed".to_owned() },
            ),
            Err(error) => {
                (NotificationStatus::Pending, Some(error.as_str()), Settlement::Later { delay: self.delay(attempts) })
            }
        };
        info!(notification = id, subscription = %subscription.id, attempts, status = status.as_str(), error, "delivery attempted");
        if let Err(store_error) = self.store.attempted(id, status, error, self.clock.now_ms()).await {
            warn!(%store_error, notification = id, "could not record the attempt");
        }
        settlement
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_metadata_and_plain_http_targets_are_refused() {
        for url in [
            "http://example.com/hook",
            "https://10.0.0.5/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::ffff:10.0.0.1]/",
            "https://user:pw@example.com/",
            "ftp://example.com/",
            "not a url",
        ] {
            assert!(refused_target(url, false).is_some(), "{url}");
        }
        for url in
            ["https://example.com/hook", "http://127.0.0.1:9000/hook", "http://localhost:3000/", "http://[::1]:80/"]
        {
            assert_eq!(refused_target(url, false), None, "{url}");
        }
        assert_eq!(refused_target("https://10.0.0.5/hook", true), None, "allowed when the subscription says so");
        assert!(refused_target("http://10.0.0.5/hook", true).is_some(), "plain http stays loopback-only");
    }
}
