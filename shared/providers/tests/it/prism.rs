//! Prism (`@stoplight/prism-cli`, pinned in infra/prism and installed by
//! infra/test.sh) serving a provider's own OpenAPI description from
//! `../shared/specs/` as a validating mock: one per spec per test binary,
//! stopped when the binary exits. A request passes only when Prism answers
//! 2xx and reports no request violation in `sl-violations`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use portage_fakes::recorded::Recorded;

pub(crate) struct Prism {
    pub(crate) base: String,
    _guard: Child,
}

fn binary() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/prism/node_modules/.bin/prism");
    assert!(path.exists(), "prism not found: run infra/test.sh (it installs infra/prism)");
    path
}

/// The shared specs directory beside the repository.
pub(crate) fn spec(relative: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/specs").join(relative);
    assert!(path.exists(), "{} not found: the specs live in ../shared/specs beside the repository", path.display());
    path
}

fn start(spec: PathBuf) -> Prism {
    // A shell guard stops Prism when this test process exits and closes its stdin.
    let script = "\"$0\" mock -h 127.0.0.1 -p 0 \"$1\" 2>&1 & pid=$!; read _; kill $pid";
    let mut guard = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(binary())
        .arg(spec)
        .env("SCARF_ANALYTICS", "false")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start prism");
    let (found, lines) = std::sync::mpsc::channel();
    let stdout = guard.stdout.take().expect("prism's output");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(at) = line.find("Prism is listening on ") {
                let url = line[at + "Prism is listening on ".len()..].split_whitespace().next().unwrap_or_default();
                let _ = found.send(url.trim_end_matches('/').to_owned());
            }
        }
    });
    let base = lines.recv_timeout(Duration::from_secs(90)).expect("prism started within 90 s");
    Prism { base, _guard: guard }
}

static SENDGRID: OnceLock<Prism> = OnceLock::new();
static TWILIO: OnceLock<Prism> = OnceLock::new();
static PAYPAL_ORDERS: OnceLock<Prism> = OnceLock::new();
static PAYPAL_PAYMENTS: OnceLock<Prism> = OnceLock::new();

/// The `pattern`s in PayPal's descriptions that are not valid as the
/// Unicode regular expressions Prism compiles: with them, Prism validates
/// nothing (a request without `intent` passes). Deleted from a copy of the
/// description at test time, never from the shared file.
const PAYPAL_ORDERS_OVERLAY: [&str; 3] = [
    "/components/schemas/email/pattern",
    "/components/schemas/level_2_card_processing_data/properties/invoice_id/pattern",
    "/components/schemas/vault_venmo_wallet_base/allOf/1/properties/description/pattern",
];
const PAYPAL_PAYMENTS_OVERLAY: [&str; 1] = ["/components/schemas/email/pattern"];

/// A copy of the description at `relative` without the `pattern`s at `pointers`.
fn overlaid(relative: &str, pointers: &[&str]) -> PathBuf {
    let mut description: serde_json::Value =
        serde_json::from_slice(&std::fs::read(spec(relative)).expect("read the description")).expect("JSON");
    for pointer in pointers {
        let (parent, field) = pointer.rsplit_once('/').expect("a pointer");
        let removed = description.pointer_mut(parent).and_then(|p| p.as_object_mut()).and_then(|p| p.remove(field));
        assert!(removed.is_some(), "{relative}: no {pointer} to delete (the description changed?)");
    }
    let name = relative.replace('/', "-");
    let path = std::env::temp_dir().join(format!("portage-{}-{name}", std::process::id()));
    std::fs::write(&path, serde_json::to_vec(&description).expect("JSON")).expect("write the overlay");
    path
}

/// Prism over PayPal's Orders v2 description (overlaid, see [`PAYPAL_ORDERS_OVERLAY`]).
pub(crate) fn paypal_orders() -> &'static Prism {
    PAYPAL_ORDERS.get_or_init(|| start(overlaid("paypal/checkout_orders_v2.json", &PAYPAL_ORDERS_OVERLAY)))
}

/// Prism over PayPal's Payments v2 description (overlaid likewise).
pub(crate) fn paypal_payments() -> &'static Prism {
    PAYPAL_PAYMENTS.get_or_init(|| start(overlaid("paypal/payments_payment_v2.json", &PAYPAL_PAYMENTS_OVERLAY)))
}

/// Prism over SendGrid's mail-send description.
pub(crate) fn sendgrid() -> &'static Prism {
    SENDGRID.get_or_init(|| start(spec("sendgrid/tsg_mail_v3.json")))
}

/// Prism over Twilio's 2010 API description.
pub(crate) fn twilio() -> &'static Prism {
    TWILIO.get_or_init(|| start(spec("twilio/twilio_api_v2010.json")))
}

/// The request violations Prism reports for `request` (sent with
/// `authorization`), or an error naming a status that is not 2xx.
pub(crate) async fn violations(prism: &Prism, request: &Recorded, authorization: &str) -> Result<Vec<String>, String> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut call = client
        .request(request.method.parse().map_err(|e| format!("{e}"))?, format!("{}{}", prism.base, request.path))
        .header("authorization", authorization)
        .header("accept", "application/json")
        .body(request.body.clone());
    if let Some(content_type) = &request.content_type {
        call = call.header("content-type", content_type);
    }
    let response = call.timeout(Duration::from_secs(30)).send().await.map_err(|e| format!("{e}"))?;
    let status = response.status().as_u16();
    let header = response.headers().get("sl-violations").and_then(|v| v.to_str().ok()).unwrap_or("[]").to_owned();
    let header = header.strip_prefix("Too many violations! ").unwrap_or(&header);
    let listed: Vec<serde_json::Value> = serde_json::from_str(header).unwrap_or_default();
    let mut found: Vec<String> = listed
        .iter()
        .filter(|v| v["location"][0] == "request")
        .map(|v| format!("{} {}", v["location"], v["message"]))
        .collect();
    // Where the description has no 4xx of its own, Prism makes a 422
    // problem document and lists the violations in its body instead.
    let problem = response.json::<serde_json::Value>().await.unwrap_or_default();
    if status == 422 && problem["type"].as_str().is_some_and(|t| t.ends_with("#UNPROCESSABLE_ENTITY")) {
        let listed = problem["validation"].as_array().cloned().unwrap_or_default();
        found.extend(listed.iter().map(|v| format!("{} {}", v["location"], v["message"])));
    }
    if !(200..300).contains(&status) && found.is_empty() {
        return Err(format!("prism answered {status} after {:?}", started.elapsed()));
    }
    Ok(found)
}
