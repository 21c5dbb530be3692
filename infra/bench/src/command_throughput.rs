//! Benchmark (not a test): commands and notifications through `portage
//! serve` (the release binary, its own process) against the Stripe fake
//! answering at once (in this process), on these cores.
//!
//! 1. `--commands` `customer.create` commands over `--connections` tenant
//!    connections (Stripe's limit is per account: each connection's client
//!    keeps its own 25/s bucket), posted by `--concurrency` clients. Reports
//!    commands submitted and executed per second, the latency percentiles of
//!    `POST /v1/commands`, and Portage's own time per command: the CPU time
//!    the `portage` process spent (API, queue, worker, store, client),
//!    divided by the commands, which leaves the provider's time out.
//! 2. `--subscriptions` subscriptions to `command.*` and `state.changed` at a
//!    local receiver, then `--notify-commands` more commands: two
//!    notifications each per subscription. Reports deliveries per second,
//!    from the first to the last arrival.
//!
//! Run:
//!
//!     cargo build --release -p portage -p portage-loadgen
//!     target/release/command-throughput

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use clap::Parser;
use hdrhistogram::Histogram;
use portage_fakes::stripe::Stripe;
use serde_json::{Value, json};
use serve::Serve;

mod serve;

const STRIPE_KEY: &str = "sk_test_bench_4242";

#[derive(Parser)]
struct Args {
    /// The `portage` binary to run.
    #[arg(long, default_value = "target/release/portage")]
    portage: PathBuf,
    /// Commands in the throughput run.
    #[arg(long, default_value_t = 20_000)]
    commands: usize,
    /// Tenant connections they are spread over.
    #[arg(long, default_value_t = 200)]
    connections: usize,
    /// Concurrent API clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Subscriptions in the notification run.
    #[arg(long, default_value_t = 10)]
    subscriptions: usize,
    /// Commands in the notification run.
    #[arg(long, default_value_t = 5_000)]
    notify_commands: usize,
}

/// Arrivals at the local receiver.
#[derive(Default)]
struct Arrivals {
    count: AtomicUsize,
    span: Mutex<Option<(Instant, Instant)>>,
}

async fn arrive(State(arrivals): State<Arc<Arrivals>>) -> StatusCode {
    arrivals.count.fetch_add(1, Ordering::SeqCst);
    let now = Instant::now();
    let mut span = arrivals.span.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    *span = Some(span.map_or((now, now), |(first, _)| (first, now)));
    StatusCode::NO_CONTENT
}

/// Posts commands `first..first + count`; returns the POST latencies (µs).
async fn submit(serve: &Serve, args: &Args, first: usize, count: usize) -> anyhow::Result<Histogram<u64>> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    let next = Arc::new(AtomicUsize::new(first));
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (http, next, url, key) =
                (http.clone(), next.clone(), format!("{}/v1/commands", serve.base), serve.key.clone());
            let connections = args.connections;
            tokio::spawn(async move {
                let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= first + count {
                        return anyhow::Ok(latencies);
                    }
                    let body = json!({"provider": "stripe", "connection": format!("c{}", i % connections),
                        "action": "customer.create", "idempotency_key": format!("bench-{i}"),
                        "input": {"email": format!("user{i}@example.com"), "name": "Bench"}});
                    let sent = Instant::now();
                    let response = http.post(&url).bearer_auth(&key).json(&body).send().await?;
                    if response.status() != reqwest::StatusCode::ACCEPTED {
                        bail!("command {i}: {} {}", response.status(), response.text().await?);
                    }
                    latencies.record(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX))?;
                }
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for worker in workers {
        all.add(worker.await??)?;
    }
    Ok(all)
}

/// Waits until the fake holds `expected` customers; returns when it did.
async fn executed(fake: &Stripe, expected: usize) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while fake.customers().len() < expected {
        if Instant::now() > deadline {
            bail!("{} of {expected} customers after ten minutes", fake.customers().len());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Instant::now())
}

/// Fails unless every command is over and none failed.
async fn all_succeeded(serve: &Serve) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for status in ["queued", "running", "failed", "unknown"] {
        let url = format!("{}/v1/commands?status={status}&limit=1", serve.base);
        let page: Value = http.get(url).bearer_auth(&serve.key).send().await?.json().await?;
        if page["data"].as_array().is_none_or(|d| !d.is_empty()) {
            bail!("a command is {status}: {page}");
        }
    }
    Ok(())
}

fn ms(micros: u64) -> f64 {
    (micros as f64 / 10.0).round() / 100.0
}

/// The notification run: subscriptions, then commands whose notifications
/// they receive; reports deliveries per second.
async fn notification_run(serve: &Serve, args: &Args) -> anyhow::Result<Value> {
    let arrivals = Arc::new(Arrivals::default());
    let receiver =
        portage_fakes::serve(Router::new().route("/hook/{n}", post(arrive)).with_state(arrivals.clone())).await;
    let http = reqwest::Client::new();
    for n in 0..args.subscriptions {
        let body = json!({"url": format!("{}/hook/{n}", receiver.base), "types": ["command.*", "state.changed"]});
        let created =
            http.post(format!("{}/v1/subscriptions", serve.base)).bearer_auth(&serve.key).json(&body).send().await?;
        if created.status() != reqwest::StatusCode::CREATED {
            bail!("subscription: {} {}", created.status(), created.text().await?);
        }
    }
    submit(serve, args, args.commands, args.notify_commands).await?;
    let expected = args.notify_commands * 2 * args.subscriptions;
    let deadline = Instant::now() + Duration::from_secs(600);
    while arrivals.count.load(Ordering::SeqCst) < expected {
        if Instant::now() > deadline {
            bail!("{} of {expected} deliveries after ten minutes", arrivals.count.load(Ordering::SeqCst));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (first, last) = arrivals.span.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.context("no arrivals")?;
    let delivered = arrivals.count.load(Ordering::SeqCst);

    Ok(json!({"subscriptions": args.subscriptions, "commands": args.notify_commands, "delivered": delivered,
        "per_second": (delivered as f64 / last.duration_since(first).as_secs_f64().max(0.001)).round()}))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let fake = Stripe::new(STRIPE_KEY, 0, 1_000_000);
    let stripe = portage_fakes::serve(fake.router()).await;
    let host = stripe.base.trim_start_matches("http://");
    let mut config =
        format!("[origins]\n\"api.stripe.com\" = \"http://{host}\"\n[worker]\nconcurrency = 4\nbatch_size = 100\n");
    for c in 0..args.connections {
        config.push_str(&format!("[connections.stripe.c{c}]\napi_key = \"{STRIPE_KEY}\"\n"));
    }
    let serve = Serve::start(&args.portage, &config, &[]).await?;

    let cpu_before = serve.cpu_seconds()?;
    let started = Instant::now();
    let latencies = submit(&serve, &args, 0, args.commands).await?;
    let submitted = started.elapsed();
    let done = executed(&fake, args.commands).await?.duration_since(started);
    let cpu = serve.cpu_seconds()? - cpu_before;
    // Let the last results' writes land before the status check.
    tokio::time::sleep(Duration::from_millis(500)).await;
    all_succeeded(&serve).await?;

    let notifications = if args.subscriptions > 0 && args.notify_commands > 0 {
        notification_run(&serve, &args).await?
    } else {
        Value::Null
    };

    let report = json!({
        "commands": args.commands,
        "connections": args.connections,
        "concurrency": args.concurrency,
        "submitted_per_second": (args.commands as f64 / submitted.as_secs_f64()).round(),
        "executed_per_second": (args.commands as f64 / done.as_secs_f64()).round(),
        "post_ms": {"p50": ms(latencies.value_at_quantile(0.5)), "p99": ms(latencies.value_at_quantile(0.99)),
            "max": ms(latencies.max())},
        "portage_cpu_ms_per_command": (cpu * 1000.0 / args.commands as f64 * 1000.0).round() / 1000.0,
        "notifications": notifications,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
