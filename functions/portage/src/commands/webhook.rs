//! `portage webhook verify|send`: captured deliveries checked offline, fixtures signed and posted.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use clap::{Args, Subcommand};
use http::{HeaderMap, HeaderName, HeaderValue};
use portage_core::ports::{Clock, SystemClock};
use portage_core::provider::{Registry, VerifyOptions, WebhookRequest};
use portage_core::{RejectReason, Secret};
use serde::Deserialize;
use serde_json::json;

use crate::cli::Global;
use crate::config;

/// `portage webhook`: verify or send deliveries.
#[derive(Debug, Subcommand)]
pub(crate) enum WebhookCommand {
    /// Check captured deliveries: prints `valid` (exit 0) or `invalid: <reason_code>` (exit 1).
    Verify(VerifyArgs),
    /// Sign a fixture as the provider would and post it.
    Send(SendArgs),
}

/// `portage webhook verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// JSON lines, one delivery each: {"id", "provider", "secret", "method", "url",
    /// "headers": {name: value}, "body_b64", "now", "tolerance"?, "legacy"?}; `-` reads stdin.
    #[arg(long, conflicts_with_all = ["provider", "body_file"])]
    pub batch: Option<PathBuf>,
    /// Provider name, e.g. stripe.
    #[arg(long, required_unless_present = "batch")]
    pub provider: Option<String>,
    /// Signing secret (repeat for several, as during rotation).
    #[arg(long = "secret", required_unless_present = "batch")]
    pub secrets: Vec<String>,
    /// HTTP method of the delivery.
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// Public URL the provider called.
    #[arg(long, default_value = "http://localhost/webhook")]
    pub url: String,
    /// Verify as if now were this Unix time, in seconds.
    #[arg(long)]
    pub now: Option<i64>,
    /// Signature tolerance in seconds (default: the provider's).
    #[arg(long)]
    pub tolerance: Option<u64>,
    /// Also accept the provider's legacy schemes that sign no timestamp (HubSpot v1/v2).
    #[arg(long)]
    pub legacy: bool,
    /// A header, as 'Name: value' (repeatable).
    #[arg(long = "header")]
    pub headers: Vec<String>,
    /// File holding the raw body.
    #[arg(long, required_unless_present = "batch")]
    pub body_file: Option<PathBuf>,
}

/// `portage webhook send`.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// Provider name, e.g. stripe.
    #[arg(long)]
    pub provider: String,
    /// Signing secret (default: the connection's configured or development secret).
    #[arg(long)]
    pub secret: Option<String>,
    /// Connection whose secret to use when none is given.
    #[arg(long, default_value = "default")]
    pub connection: String,
    /// Where to post (default: http://127.0.0.1:8080/webhooks/<provider>).
    #[arg(long)]
    pub to: Option<String>,
    /// The payload to send, byte for byte.
    pub fixture: PathBuf,
}

/// Runs a `webhook` subcommand.
pub(crate) async fn run(global: &Global, command: WebhookCommand) -> anyhow::Result<ExitCode> {
    match command {
        WebhookCommand::Verify(args) => verify(args),
        WebhookCommand::Send(args) => send(global, args).await,
    }
}

/// What a verification concluded.
type Verdict = Result<(), RejectReason>;

/// One delivery to check, as the single form's flags or one batch line give it.
struct Delivery {
    provider: String,
    secrets: Vec<Secret>,
    method: String,
    url: String,
    headers: HeaderMap,
    body: Bytes,
    now: Option<i64>,
    tolerance: Option<u64>,
    legacy: bool,
}

fn check(registry: &Registry, delivery: Delivery) -> Verdict {
    let provider = registry.get(&delivery.provider).ok_or(RejectReason::UnknownProvider)?;
    let options = VerifyOptions {
        tolerance: delivery.tolerance.map_or_else(|| provider.default_tolerance(), Duration::from_secs),
        now_secs: delivery.now.unwrap_or_else(|| SystemClock.now_secs()),
        legacy_schemes: delivery.legacy,
    };
    let request = WebhookRequest {
        method: delivery.method.to_ascii_uppercase(),
        url: delivery.url,
        headers: delivery.headers,
        body: delivery.body,
    };
    provider.verify(&request, &delivery.secrets, options)
}

fn parse_header_line(line: &str) -> anyhow::Result<(HeaderName, HeaderValue)> {
    let (name, value) =
        line.split_once(':').with_context(|| format!("header '{line}' is not of the form 'Name: value'"))?;
    header_pair(name, value)
}

fn header_pair(name: &str, value: &str) -> anyhow::Result<(HeaderName, HeaderValue)> {
    let name =
        HeaderName::from_bytes(name.trim().as_bytes()).with_context(|| format!("invalid header name '{name}'"))?;
    let value = HeaderValue::from_bytes(value.trim().as_bytes())
        .with_context(|| format!("invalid value for header '{name}'"))?;
    Ok((name, value))
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let registry = portage_providers::registry();
    if let Some(batch) = &args.batch {
        return verify_batch(&registry, batch);
    }
    let (Some(provider), Some(body_file)) = (args.provider, args.body_file) else {
        bail!("--provider, --secret and --body-file are required without --batch");
    };
    let mut headers = HeaderMap::new();
    for line in &args.headers {
        let (name, value) = parse_header_line(line)?;
        headers.append(name, value);
    }
    let body = std::fs::read(&body_file).with_context(|| format!("cannot read {}", body_file.display()))?;
    let delivery = Delivery {
        provider,
        secrets: args.secrets.into_iter().map(Secret::new).collect(),
        method: args.method,
        url: args.url,
        headers,
        body: Bytes::from(body),
        now: args.now,
        tolerance: args.tolerance,
        legacy: args.legacy,
    };
    Ok(match check(&registry, delivery) {
        Ok(()) => {
            println!("valid");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            println!("invalid: {}", reason.code());
            ExitCode::from(1)
        }
    })
}

/// One `--batch` line.
#[derive(Deserialize)]
struct BatchLine {
    provider: String,
    secret: OneOrMany,
    #[serde(default = "default_method")]
    method: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body_b64: String,
    #[serde(default)]
    now: Option<i64>,
    #[serde(default)]
    tolerance: Option<u64>,
    #[serde(default)]
    legacy: bool,
}

/// A secret, or several during rotation.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn default_method() -> String {
    "POST".to_owned()
}

fn batch_delivery(line: BatchLine) -> anyhow::Result<Delivery> {
    let mut headers = HeaderMap::new();
    for (name, value) in &line.headers {
        let (name, value) = header_pair(name, value)?;
        headers.append(name, value);
    }
    let body = STANDARD.decode(line.body_b64.as_bytes()).context("body_b64 is not base64")?;
    Ok(Delivery {
        provider: line.provider,
        secrets: match line.secret {
            OneOrMany::One(s) => vec![Secret::new(s)],
            OneOrMany::Many(v) => v.into_iter().map(Secret::new).collect(),
        },
        method: line.method,
        url: line.url,
        headers,
        body: Bytes::from(body),
        now: line.now,
        tolerance: line.tolerance,
        legacy: line.legacy,
    })
}

/// Checks every line of a JSON-lines file and prints one JSON verdict per
/// input line, in input order. A line that cannot be read gets
/// `"reason": "malformed_input"` and the rest go on.
fn verify_batch(registry: &Registry, path: &Path) -> anyhow::Result<ExitCode> {
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        Box::new(std::io::BufReader::new(file))
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in reader.lines() {
        let line = line.context("cannot read the batch file")?;
        if line.trim().is_empty() {
            continue;
        }
        let id = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v.get("id").cloned())
            .unwrap_or(serde_json::Value::Null);
        let verdict =
            match serde_json::from_str::<BatchLine>(&line).map_err(anyhow::Error::from).and_then(batch_delivery) {
                Ok(delivery) => check(registry, delivery).map_err(|r| r.code()),
                Err(_) => Err("malformed_input"),
            };
        let result = match verdict {
            Ok(()) => json!({ "id": id, "valid": true, "reason": null }),
            Err(code) => json!({ "id": id, "valid": false, "reason": code }),
        };
        writeln!(out, "{result}")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

async fn send(global: &Global, args: SendArgs) -> anyhow::Result<ExitCode> {
    let registry = portage_providers::registry();
    let provider = registry
        .get(&args.provider)
        .with_context(|| format!("unknown provider '{}' (known: {})", args.provider, registry.names().join(", ")))?;
    let secret = match args.secret {
        Some(secret) => Secret::new(secret),
        None => {
            let settings = config::load(global, &registry)?;
            settings.secrets.signing(&args.provider, &args.connection).into_iter().next().with_context(|| {
                format!(
                    "no signing secret for {}/{}: pass --secret, set {}, or start `portage serve` once to generate one",
                    args.provider,
                    args.connection,
                    config::secret_env_var(&args.provider)
                )
            })?
        }
    };
    let body = std::fs::read(&args.fixture).with_context(|| format!("cannot read {}", args.fixture.display()))?;
    let to = args.to.unwrap_or_else(|| {
        let path = if args.connection == portage_core::DEFAULT_CONNECTION {
            args.provider.clone()
        } else {
            format!("{}/{}", args.provider, args.connection)
        };
        format!("http://127.0.0.1:8080/webhooks/{path}")
    });
    let signed = provider.sign(&to, &body, &secret, SystemClock.now_secs());
    let mut request = reqwest::Client::new().post(&to);
    if !signed.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
        request = request.header(http::header::CONTENT_TYPE, "application/json");
    }
    for (name, value) in signed {
        request = request.header(name, value);
    }
    let response = request.body(body).send().await.with_context(|| format!("cannot post to {to}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    println!("{} {}", status.as_u16(), text);
    Ok(if status.is_success() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
