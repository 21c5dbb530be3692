//! `portage reconcile` against the Stripe fake (Stripe's test-mode limit of
//! 25 requests a second, enforced): a full run lists objects no webhook ever
//! announced; a change made at Stripe while its webhook is lost is repaired
//! by the next incremental run, which reads the Events API; the limit is
//! never exceeded.

use std::path::Path;
use std::sync::Arc;

use portage_fakes::stripe::Stripe;
use serde_json::Value;

use crate::common::{cli, stdout};

const KEY: &str = "sk_test_reconcile_4242";

fn setup(data: &Path, base: &str) {
    std::fs::create_dir_all(data).unwrap();
    let host = base.trim_start_matches("http://");
    std::fs::write(
        data.join("portage.toml"),
        format!(
            "[origins]\n\"api.stripe.com\" = \"http://{host}\"\n[connections.stripe.default]\napi_key = \"{KEY}\"\n"
        ),
    )
    .unwrap();
}

fn reconcile(data: &Path, mode: &str) -> Value {
    let out = cli(data, &["reconcile", "--mode", mode]);
    assert!(out.status.success(), "reconcile {mode}: {}\n{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout(&out)).expect("stdout is only the JSON report")
}

fn kind<'a>(report: &'a Value, kind: &str) -> &'a Value {
    report["kinds"]
        .as_array()
        .and_then(|kinds| kinds.iter().find(|k| k["provider"] == "stripe" && k["kind"] == kind))
        .unwrap_or_else(|| panic!("no stripe {kind} in {report}"))
}

fn customers(data: &Path) -> Vec<Value> {
    let out = cli(data, &["state", "list", "--provider", "stripe", "--kind", "customer", "--format", "json"]);
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn full_then_incremental_repairs_what_no_webhook_said() {
    let fake = Stripe::new(KEY, 730, 25);
    let running = portage_fakes::serve(fake.router()).await;
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), &running.base);

    let full = reconcile(dir.path(), "full");
    let listed = kind(&full, "customer");
    assert_eq!((listed["listed"].as_u64(), listed["repaired"].as_u64()), (Some(730), Some(730)), "{full}");
    assert_eq!(listed["complete"], true);
    assert_eq!(listed["pages"], 8, "pages of 100");
    assert_eq!(listed["repaired_ids"].as_array().map(Vec::len), Some(100), "at most 100 ids named");
    for other in ["subscription", "invoice", "payment"] {
        assert_eq!(kind(&full, other)["complete"], true);
    }
    assert!(full["not_listed"].as_array().unwrap().iter().all(|c| c != "stripe/default"));
    assert_eq!(customers(dir.path()).len(), 730, "every customer is local state now");

    // Changed at Stripe while the webhook is lost.
    let changed = customers(dir.path())[17]["id"].as_str().unwrap().to_owned();
    fake.update(&changed, &[("name".into(), "Renamed At Stripe".into())]).expect("known customer");
    let incremental = reconcile(dir.path(), "incremental");
    let customer = kind(&incremental, "customer");
    assert!(customer["since"].is_i64(), "an incremental run lists from the cursor: {incremental}");
    assert_eq!(customer["repaired"], 1, "{incremental}");
    assert_eq!(customer["repaired_ids"], serde_json::json!([changed]));
    let out = cli(dir.path(), &["state", "get", "--provider", "stripe", "--kind", "customer", &changed]);
    let record: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(record["data"]["name"], "Renamed At Stripe");

    let again = reconcile(dir.path(), "incremental");
    assert_eq!(kind(&again, "customer")["repaired"], 0, "nothing left to repair: {again}");
    assert_eq!(fake.switches.throttled(), 0, "Stripe's limit was never exceeded");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_without_an_api_key_is_not_listed() {
    let fake: Arc<Stripe> = Stripe::new(KEY, 1, 25);
    let running = portage_fakes::serve(fake.router()).await;
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), &running.base);
    let config = std::fs::read_to_string(dir.path().join("portage.toml")).unwrap();
    std::fs::write(dir.path().join("portage.toml"), config.replace("api_key", "webhook_secret")).unwrap();
    let report = reconcile(dir.path(), "full");
    assert!(report["not_listed"].as_array().unwrap().iter().any(|c| c == "stripe/default"), "{report}");
    assert_eq!(fake.switches.requests(), 0, "nothing was asked of Stripe");
}
