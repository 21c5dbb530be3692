//! Benchmark (not a test): billing through `portage serve` (the release
//! binary, its own process), on these cores.
//!
//! 1. A day of payments' events: `--payments` payments over `--customers`
//!    customers, five signed Stripe events each (the subscription updated,
//!    the invoice created and paid, the payment intent, a paid add-on
//!    checkout), posted by `--concurrency` clients. Reports the wall time
//!    from the first post until every event is processed and every
//!    customer's billing record is kept (the projection).
//! 2. Entitlement reads (`GET /v1/billing/customers/{c}`) for `--seconds`:
//!    reads per second and latency percentiles.
//! 3. Usage consumes (`POST …/usage`, a fresh key each) for `--seconds`:
//!    consumes per second and latency percentiles.
//!
//! Run:
//!
//!     cargo build --release -p portage -p portage-loadgen
//!     target/release/billing-throughput

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use hdrhistogram::Histogram;
use portage_core::Secret;
use serde_json::{Value, json};
use serve::Serve;

mod serve;

const WEBHOOK_SECRET: &str = "whsec_bench_billing_0123456789";

#[derive(Parser)]
struct Args {
    /// The `portage` binary to run.
    #[arg(long, default_value = "target/release/portage")]
    portage: PathBuf,
    /// Payments in the day of events (five events each).
    #[arg(long, default_value_t = 10_000)]
    payments: usize,
    /// Customers they are spread over.
    #[arg(long, default_value_t = 2_000)]
    customers: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds each of the read and consume runs lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

const CONFIG: &str = r#"
[worker]
concurrency = 4
batch_size = 100
[billing]
default_plan = "free"
[billing.plans.free]
limits = { personas = 5 }
[billing.plans.pro]
stripe_price = "price_pro"
per_seat = true
limits = { personas = 50 }
[billing.addons.image_credits]
stripe_price = "price_credits"
grants = 100
"#;

/// Payment `i`'s five events, as Stripe sends them.
fn events(i: usize, customers: usize, at: i64) -> Vec<Value> {
    let customer = format!("cust_{}", i % customers);
    let meta = json!({"portage_customer": customer});
    let subscription = json!({"id": format!("sub_{}", i % customers), "object": "subscription", "status": "active",
        "customer": "cus_x", "metadata": meta,
        "items": {"object": "list", "has_more": false, "data": [{"id": "si_1", "object": "subscription_item",
            "quantity": 1 + i % 9, "current_period_end": at + 2_592_000, "price": {"id": "price_pro", "object": "price"}}]}});
    let invoice = json!({"id": format!("in_{i}"), "object": "invoice", "status": "paid", "customer": "cus_x",
        "amount_paid": 1500, "currency": "usd", "subscription": format!("sub_{}", i % customers)});
    let intent = json!({"id": format!("pi_{i}"), "object": "payment_intent", "status": "succeeded", "amount": 1500,
        "currency": "usd", "customer": "cus_x"});
    let checkout = json!({"id": format!("cs_{i}"), "object": "checkout.session", "mode": "payment", "status": "complete",
        "payment_status": "paid", "customer": "cus_x",
        "metadata": {"portage_customer": customer, "portage_addon": "image_credits", "portage_units": "1"}});
    let mut open = invoice.clone();
    open["status"] = json!("open");
    [
        ("customer.subscription.updated", subscription),
        ("invoice.created", open),
        ("invoice.paid", invoice),
        ("payment_intent.succeeded", intent),
        ("checkout.session.completed", checkout),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (kind, object))| {
        json!({"id": format!("evt_{i}_{n}"), "object": "event", "api_version": "2025-03-31.basil",
            "created": at + n as i64, "data": {"object": object}, "livemode": false, "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null}, "type": kind})
    })
    .collect()
}

/// Runs `concurrency` clients until `total` jobs are done (or, with
/// `until`, that instant passes); returns the latencies (µs) and the count.
async fn drive<F, Fut>(
    concurrency: usize,
    total: usize,
    until: Option<Instant>,
    job: F,
) -> anyhow::Result<(Histogram<u64>, usize)>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (next, job) = (next.clone(), job.clone());
            tokio::spawn(async move {
                let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total || until.is_some_and(|u| Instant::now() >= u) {
                        return anyhow::Ok(latencies);
                    }
                    let sent = Instant::now();
                    job(i).await?;
                    latencies.record(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX))?;
                }
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for worker in workers {
        all.add(worker.await??)?;
    }
    let count = usize::try_from(all.len()).unwrap_or(usize::MAX);
    Ok((all, count))
}

/// Waits until no event is left to process.
async fn drained(serve: &Serve) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(1800);
    'poll: loop {
        if Instant::now() > deadline {
            bail!("events still unprocessed after 30 minutes");
        }
        for status in ["received", "queued", "processing", "failed"] {
            let url = format!("{}/v1/events?status={status}&limit=1", serve.base);
            let page: Value = http.get(url).bearer_auth(&serve.key).send().await?.json().await?;
            if page["data"].as_array().is_none_or(|d| !d.is_empty()) {
                if status == "failed" {
                    bail!("an event failed: {page}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue 'poll;
            }
        }
        return Ok(());
    }
}

fn ms(micros: u64) -> f64 {
    (micros as f64 / 10.0).round() / 100.0
}

fn summary(latencies: &Histogram<u64>, count: usize, took: Duration) -> Value {
    json!({"count": count, "per_second": (count as f64 / took.as_secs_f64()).round(),
        "ms": {"p50": ms(latencies.value_at_quantile(0.5)), "p99": ms(latencies.value_at_quantile(0.99)),
            "max": ms(latencies.max())}})
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let serve = Serve::start(&args.portage, CONFIG, &[("PORTAGE_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)]).await?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    let at = portage_core::ports::Clock::now_secs(&portage_core::ports::SystemClock) - 86_400;

    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..args.payments)
            .flat_map(|i| events(i, args.customers, at))
            .map(|e| serde_json::to_vec(&e).unwrap_or_default())
            .collect(),
    );
    let cpu_before = serve.cpu_seconds()?;
    let started = Instant::now();
    let (hook, client, all) = (format!("{}/webhooks/stripe", serve.base), http.clone(), bodies.clone());
    let (post_latencies, posted) = drive(args.concurrency, all.len(), None, move |i| {
        let (hook, client, body) = (hook.clone(), client.clone(), all[i].clone());
        async move {
            let now = portage_core::ports::Clock::now_secs(&portage_core::ports::SystemClock);
            let signature = portage_providers::stripe::signature_header(&body, &[&Secret::new(WEBHOOK_SECRET)], now);
            let answer = client
                .post(&hook)
                .header("Stripe-Signature", signature)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            if !answer.status().is_success() {
                bail!("webhook: {} {}", answer.status(), answer.text().await?);
            }
            Ok(())
        }
    })
    .await?;
    drained(&serve).await?;
    let day = started.elapsed();
    let cpu = serve.cpu_seconds()? - cpu_before;
    let probe: Value = http
        .get(format!("{}/v1/billing/customers/cust_0", serve.base))
        .bearer_auth(&serve.key)
        .send()
        .await?
        .json()
        .await?;
    if probe["plan"] != "pro" {
        bail!("the projection did not keep cust_0's record: {probe}");
    }

    let customers = args.customers;
    let (base, key, client) = (serve.base.clone(), serve.key.clone(), http.clone());
    let read_start = Instant::now();
    let until = Some(read_start + Duration::from_secs(args.seconds));
    let (reads, read_count) = drive(args.concurrency, usize::MAX, until, move |i| {
        let (url, key, client) =
            (format!("{base}/v1/billing/customers/cust_{}", i % customers), key.clone(), client.clone());
        async move {
            let answer = client.get(url).bearer_auth(key).send().await?;
            if !answer.status().is_success() {
                bail!("read: {}", answer.status());
            }
            answer.bytes().await?;
            Ok(())
        }
    })
    .await?;
    let read_took = read_start.elapsed();

    let (base, key, client) = (serve.base.clone(), serve.key.clone(), http.clone());
    let consume_start = Instant::now();
    let until = Some(consume_start + Duration::from_secs(args.seconds));
    let (consumes, consume_count) = drive(args.concurrency, usize::MAX, until, move |i| {
        let url = format!("{base}/v1/billing/customers/cust_{}/usage", i % customers);
        let body = json!({"limit": "api_calls", "quantity": 1, "idempotency_key": format!("bench-{i}")});
        let (key, client) = (key.clone(), client.clone());
        async move {
            let answer = client.post(url).bearer_auth(key).json(&body).send().await?;
            if !answer.status().is_success() {
                bail!("consume: {}", answer.status());
            }
            answer.bytes().await?;
            Ok(())
        }
    })
    .await?;
    let consume_took = consume_start.elapsed();

    let report = json!({
        "day_of_payments": {"payments": args.payments, "customers": args.customers, "events": posted,
            "wall_seconds": (day.as_secs_f64() * 10.0).round() / 10.0,
            "events_per_second": (posted as f64 / day.as_secs_f64()).round(),
            "portage_cpu_ms_per_event": (cpu * 1000.0 / posted as f64 * 1000.0).round() / 1000.0,
            "webhook_ms": {"p50": ms(post_latencies.value_at_quantile(0.5)), "p99": ms(post_latencies.value_at_quantile(0.99))}},
        "entitlement_reads": summary(&reads, read_count, read_took),
        "usage_consumes": summary(&consumes, consume_count, consume_took),
        "concurrency": args.concurrency,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
