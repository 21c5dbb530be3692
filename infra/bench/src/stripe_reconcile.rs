//! Benchmark (not a test): a full `portage reconcile` of 10,000 Stripe
//! customers from the Stripe fake, which enforces Stripe's test-mode limit
//! of 25 requests a second. Runs the release `portage` binary as operators
//! do (`target/release/portage`, built first), with `[origins]` pointing
//! `api.stripe.com` at the fake, and reports the wall time as a fraction of
//! what the limit allows, the requests answered 429, and the process's peak
//! resident set.
//!
//!     cargo build --release -p portage -p portage-loadgen
//!     target/release/stripe-reconcile [CUSTOMERS]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use portage_fakes::stripe::Stripe;

const KEY: &str = "sk_test_bench";
/// Stripe's documented test-mode limit, which the fake enforces.
const PER_SECOND: u32 = 25;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let customers: usize = std::env::args().nth(1).map_or(Ok(10_000), |n| n.parse()).context("CUSTOMERS")?;
    let portage = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/portage");
    if !portage.exists() {
        bail!("{} not found: cargo build --release -p portage", portage.display());
    }
    let fake = Stripe::new(KEY, customers, PER_SECOND);
    let running = portage_fakes::serve(fake.router()).await;
    let data = tempfile_dir()?;
    std::fs::write(
        data.join("portage.toml"),
        format!(
            "[origins]\n\"api.stripe.com\" = \"{}\"\n[connections.stripe.default]\napi_key = \"{KEY}\"\n",
            running.base
        ),
    )?;
    let started = Instant::now();
    let mut child = Command::new(&portage)
        .args(["--data", data.to_str().context("path")?, "reconcile", "--mode", "full"])
        .env("PORTAGE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let pid = child.id();
    let (status, peak_kib) = tokio::task::spawn_blocking(move || wait_with_peak(pid)).await??;
    let elapsed = started.elapsed();
    let report: serde_json::Value = serde_json::from_reader(stdout)?;
    if !status {
        bail!("reconcile failed: {report}");
    }
    let listed: u64 = report["kinds"].as_array().map_or(0, |k| k.iter().filter_map(|k| k["listed"].as_u64()).sum());
    let requests = fake.switches.requests();
    // The bucket starts full (25) and refills 25 a second: the fastest the
    // limit allows for these requests.
    let ideal = requests.saturating_sub(u64::from(PER_SECOND)) as f64 / f64::from(PER_SECOND);
    println!(
        "{{\"customers\": {customers}, \"listed\": {listed}, \"requests\": {requests}, \"throttled_429\": {}, \
         \"seconds\": {:.2}, \"limit_allows_seconds\": {ideal:.2}, \"fraction_of_limit\": {:.3}, \"peak_rss_mib\": {:.1}}}",
        fake.switches.throttled(),
        elapsed.as_secs_f64(),
        ideal / elapsed.as_secs_f64(),
        peak_kib as f64 / 1024.0
    );
    std::fs::remove_dir_all(&data)?;
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("portage-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Waits for `pid` and returns whether it exited 0, and its peak resident
/// set in KiB (from `wait4`'s resource usage).
fn wait_with_peak(pid: u32) -> anyhow::Result<(bool, i64)> {
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in; pid is our child's.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = i32::try_from(pid)?;
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if waited != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    Ok((libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, usage.ru_maxrss))
}
