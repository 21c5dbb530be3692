//! Drives `portage serve` with signed, unique Stripe events from many
//! connections at once and prints throughput and latency percentiles as JSON.
//! Run through `infra/bench/load.sh`, which also checks that every accepted
//! event was durably recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Parser;
use hdrhistogram::Histogram;
use portage_core::Secret;
use portage_providers::stripe::signature_header;

#[derive(Parser)]
struct Args {
    /// Webhook URL, e.g. http://127.0.0.1:8080/webhooks/stripe.
    #[arg(long)]
    url: String,
    /// Signing secret the server expects.
    #[arg(long)]
    secret: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Event fixture whose body is sent (its id is made unique per request).
    #[arg(long)]
    fixture: std::path::PathBuf,
    /// Requests pre-signed per connection (the run also stops when they are used up).
    #[arg(long, default_value_t = 2000)]
    max_per_connection: usize,
}

struct Totals {
    accepted: AtomicU64,
    failed: AtomicU64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let template = std::fs::read_to_string(&args.fixture).context("read fixture")?;
    let original_id =
        serde_json::from_str::<serde_json::Value>(&template)?["id"].as_str().context("fixture has an id")?.to_owned();
    let secret = Secret::new(args.secret.clone());
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    let totals = Arc::new(Totals { accepted: AtomicU64::new(0), failed: AtomicU64::new(0) });
    let run_id = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|worker| {
            let (client, totals, url) = (client.clone(), totals.clone(), args.url.clone());
            let (template, original_id, secret) = (template.clone(), original_id.clone(), secret.clone());
            tokio::spawn(async move {
                let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
                let mut n = 0u64;
                while Instant::now() < deadline {
                    n += 1;
                    let id = format!("evt_load_{run_id}_{worker}_{n}");
                    let body = template.replacen(&original_id, &id, 1).into_bytes();
                    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
                    let header = signature_header(&body, &[&secret], now);
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .header("Stripe-Signature", header)
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    let ok = matches!(&response, Ok(r) if r.status() == 200);
                    if let Ok(r) = response {
                        let _ = r.bytes().await;
                    }
                    let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                    if ok {
                        totals.accepted.fetch_add(1, Ordering::Relaxed);
                        let _ = latencies.record(micros.max(1));
                    } else {
                        totals.failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for task in tasks {
        all.add(task.await?)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = totals.accepted.load(Ordering::Relaxed);
    let report = serde_json::json!({
        "accepted": accepted,
        "failed": totals.failed.load(Ordering::Relaxed),
        "seconds": elapsed,
        "accepted_per_second": accepted as f64 / elapsed,
        "concurrency": args.concurrency,
        "body_bytes": template.len(),
        "latency_ms": {
            "p50": all.value_at_quantile(0.50) as f64 / 1000.0,
            "p90": all.value_at_quantile(0.90) as f64 / 1000.0,
            "p99": all.value_at_quantile(0.99) as f64 / 1000.0,
            "max": all.max() as f64 / 1000.0,
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
