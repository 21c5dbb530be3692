//! Starts one moto server (the AWS emulator from PyPI, installed by
//! infra/test.sh) per test binary, and creates fresh resources on it with the
//! same shape as template.yaml.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};

struct Moto {
    endpoint: String,
    _guard: Child,
}

/// How moto is started: `PORTAGE_MOTO_SERVER` (a `moto_server`-like
/// program taking `-H HOST -p PORT`), else `infra/moto/serve.py` under the
/// test venv's Python: moto's server with DynamoDB requests isolated from
/// each other, as DynamoDB's are (see that file).
fn moto_command(port: u16) -> String {
    if let Ok(path) = std::env::var("PORTAGE_MOTO_SERVER") {
        return format!("\"{path}\" -H 127.0.0.1 -p {port}");
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join("target/ci-venv/bin/python");
    assert!(
        python.exists(),
        "the test venv not found: run infra/test.sh (it installs moto) or set PORTAGE_MOTO_SERVER"
    );
    let script = root.join("infra/moto/serve.py");
    format!("\"{}\" \"{}\" 127.0.0.1 {port}", python.display(), script.display())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start() -> Moto {
    let port = free_port();
    // A shell guard stops moto when this test process exits and closes its stdin.
    let script = format!("{} >/dev/null 2>&1 & pid=$!; read _; kill $pid", moto_command(port));
    let guard = Command::new("sh").arg("-c").arg(script).stdin(Stdio::piped()).spawn().expect("start moto_server");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = write!(stream, "GET /moto-api/ HTTP/1.0\r\n\r\n");
            let mut buf = [0u8; 12];
            if stream.read(&mut buf).is_ok_and(|n| n > 0) {
                break;
            }
        }
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto { endpoint: format!("http://127.0.0.1:{port}"), _guard: guard }
}

static MOTO: OnceLock<Moto> = OnceLock::new();
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A unique name for a resource of this test run.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst))
}

/// The shared moto server's URL (started on first use).
pub(crate) fn endpoint() -> String {
    MOTO.get_or_init(start).endpoint.clone()
}

/// SDK configuration pointing at the shared moto server.
pub(crate) async fn config() -> SdkConfig {
    let moto = MOTO.get_or_init(start);
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

/// Provisions a fresh table and queues (dead letters after `max_receives`)
/// exactly as `portage aws provision` does.
pub(crate) async fn provisioned(config: &SdkConfig, max_receives: u32) -> portage_aws::provision::Provisioned {
    portage_aws::provision::provision(config, &unique("portage"), max_receives).await.expect("provision")
}

/// A fresh table; returns its name.
pub(crate) async fn table(config: &SdkConfig) -> String {
    provisioned(config, 5).await.table
}

/// Fresh queues; returns (queue URL, dead-letter queue URL).
pub(crate) async fn queues(config: &SdkConfig, max_receives: u32) -> (String, String) {
    let p = provisioned(config, max_receives).await;
    (p.queue_url, p.dlq_url)
}
