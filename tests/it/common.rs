//! Helpers shared by the end-to-end tests: run the real `portage` binary,
//! sign deliveries, post them.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use portage_core::Secret;
use portage_providers::stripe::signature_header;

/// The signing secret the tests configure.
pub(crate) const SECRET: &str = "whsec_e2eTestSecretDoNotLeak0123456789";

pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_portage")
}

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Runs a `portage` command against a data directory.
pub(crate) fn cli(data: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--data")
        .arg(data)
        .args(args)
        .env("PORTAGE_STRIPE_WEBHOOK_SECRET", SECRET)
        .output()
        .expect("run portage")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A running `portage serve` on a free port.
pub(crate) struct Server {
    pub child: Child,
    pub base: String,
    pub data: PathBuf,
    pub log: PathBuf,
}

impl Server {
    /// Starts `portage serve` on `data`; `config` is written to the data
    /// directory's portage.toml when given.
    pub(crate) fn start(data: &Path, config: Option<&str>) -> Server {
        Self::start_with_env(data, config, &[])
    }

    /// Starts `portage serve` with extra environment variables.
    pub(crate) fn start_with_env(data: &Path, config: Option<&str>, env: &[(&str, &str)]) -> Server {
        std::fs::create_dir_all(data).unwrap();
        if let Some(config) = config {
            std::fs::write(data.join("portage.toml"), config).unwrap();
        }
        let log = data.join(format!("serve-{}.log", rand_suffix()));
        let mut child = Command::new(bin())
            .args(["--data", data.to_str().unwrap(), "serve", "--addr", "127.0.0.1:0"])
            .env("PORTAGE_STRIPE_WEBHOOK_SECRET", SECRET)
            .env("PORTAGE_LOG", "debug")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start portage serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("serve printed its address").unwrap();
            if let Some(rest) = line.strip_prefix("portage listening on ") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        let server = Server { child, base, data: data.to_owned(), log };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = self.base.trim_start_matches("http://").to_owned();
        while Instant::now() < deadline {
            if http_get_status(&addr, "/health") == Some(200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server never became healthy");
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the server with SIGKILL: no shutdown code runs.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server with SIGTERM and waits for its graceful exit.
    pub(crate) fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A bare HTTP/1.0 GET, for synchronous polling.
pub(crate) fn http_get_status(addr: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

fn rand_suffix() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

/// The `Stripe-Signature` header for `body` at `t`.
pub(crate) fn stripe_signature(body: &[u8], secret: &str, t: i64) -> String {
    signature_header(body, &[&Secret::new(secret)], t)
}

/// A minimal real-shaped Stripe event.
pub(crate) fn stripe_event(id: &str, kind: &str, created: i64, object: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(&serde_json::json!({
        "id": id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
    }))
    .unwrap()
}

/// Posts a delivery and returns (status, JSON body).
pub(crate) async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut request = client.post(url).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.body(body).send().await.expect("post");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

/// Posts a Stripe event signed with the test secret.
pub(crate) async fn post_stripe(client: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let sig = stripe_signature(&body, SECRET, now());
    post(client, url, &[("Stripe-Signature", sig)], body).await
}

/// Polls `portage events list --format json` until `done` holds or 30 s pass.
pub(crate) fn wait_for_events(data: &Path, done: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = cli(data, &["events", "list", "--format", "json"]);
        let events: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if done(&events) || Instant::now() > deadline {
            return events;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `fixtures/samples.tsv`: one sample delivery per webhook source, as
/// `(provider, fixture path under fixtures/)`.
pub(crate) fn samples() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("fixtures/samples.tsv")).unwrap();
    let rows = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    rows.filter_map(|l| l.split_once('\t')).map(|(p, f)| (p.to_owned(), f.to_owned())).collect()
}
