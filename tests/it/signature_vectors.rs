//! Signature vectors made by each provider's official library
//! (`fixtures/<provider>/vectors/generate.py`), checked through both forms of
//! `portage webhook verify`: every `signatures*.jsonl` under `fixtures/`.

use crate::common;

use std::process::Command;

use serde_json::Value;

/// Every vector file, as a path relative to `fixtures/`.
fn vector_files() -> Vec<String> {
    let fixtures = common::repo_root().join("fixtures");
    let mut files = Vec::new();
    for provider in std::fs::read_dir(&fixtures).unwrap() {
        let dir = provider.unwrap().path().join("vectors");
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("signatures") && name.ends_with(".jsonl") {
                files.push(path.strip_prefix(&fixtures).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    files
}

fn vectors(file: &str) -> Vec<Value> {
    let path = common::repo_root().join("fixtures").join(file);
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn check_batch(file: &str) {
    let path = common::repo_root().join("fixtures").join(file);
    let out = Command::new(common::bin()).args(["webhook", "verify", "--batch"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let expected = vectors(file);
    assert_eq!(results.len(), expected.len(), "one output line per input line");
    let mut wrong = Vec::new();
    for (got, want) in results.iter().zip(&expected) {
        assert_eq!(got["id"], want["id"], "output keeps input order");
        if got["valid"] != want["expect_valid"] {
            wrong.push(format!("{}: got {} want {}", want["id"], got, want["expect_valid"]));
        }
        assert_eq!(got["valid"] == true, got["reason"].is_null(), "a reason exactly when invalid: {got}");
    }
    assert!(wrong.is_empty(), "disagreements with the official library:\n{}", wrong.join("\n"));
}

#[test]
fn batch_agrees_with_the_official_libraries() {
    let files = vector_files();
    for provider in [
        "etsy",
        "github",
        "hubspot",
        "printify",
        "sendgrid",
        "shopify",
        "slack",
        "standardwebhooks",
        "stripe",
        "woocommerce",
    ] {
        assert!(files.iter().any(|f| f.starts_with(&format!("{provider}/"))), "no vectors for {provider}: {files:?}");
    }
    for file in files {
        check_batch(&file);
    }
}

#[test]
fn single_form_agrees_with_the_official_libraries() {
    let dir = tempfile::tempdir().unwrap();
    for vector in vector_files().iter().flat_map(|file| vectors(file)) {
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD.decode(vector["body_b64"].as_str().unwrap()).unwrap();
        let body_file = dir.path().join("body");
        std::fs::write(&body_file, body).unwrap();
        let mut cmd = Command::new(common::bin());
        cmd.args(["webhook", "verify", "--provider", vector["provider"].as_str().unwrap()]);
        if vector["legacy"] == true {
            cmd.arg("--legacy");
        }
        cmd.args(["--method", vector["method"].as_str().unwrap_or("POST")])
            .args(["--url", vector["url"].as_str().unwrap_or_default()]);
        match &vector["secret"] {
            // `--secret=…`: a PEM key starts with dashes.
            Value::Array(secrets) => secrets.iter().for_each(|s| {
                cmd.arg(format!("--secret={}", s.as_str().unwrap()));
            }),
            secret => {
                cmd.arg(format!("--secret={}", secret.as_str().unwrap()));
            }
        }
        cmd.args(["--now", &vector["now"].to_string()]).arg("--body-file").arg(&body_file);
        for (name, value) in vector["headers"].as_object().unwrap() {
            // Header names are case-insensitive: send them lower-cased.
            cmd.args(["--header", &format!("{}: {}", name.to_lowercase(), value.as_str().unwrap())]);
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if vector["expect_valid"] == true {
            assert_eq!(text.trim(), "valid", "{}", vector["id"]);
            assert_eq!(out.status.code(), Some(0));
        } else {
            assert!(text.starts_with("invalid: "), "{}: {text}", vector["id"]);
            assert_eq!(out.status.code(), Some(1), "{}", vector["id"]);
        }
    }
}

#[test]
fn batch_reports_unreadable_lines_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.jsonl");
    let good = serde_json::to_string(&vectors("stripe/vectors/signatures.jsonl")[0]).unwrap();
    std::fs::write(&path, format!("{{\"id\": 7, \"provider\": \"stripe\"}}\nnot json\n{good}\n{{\"id\": \"x\", \"provider\": \"nope\", \"secret\": \"s\"}}\n")).unwrap();
    let out = Command::new(common::bin()).args(["webhook", "verify", "--batch"]).arg(&path).output().unwrap();
    let lines: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], serde_json::json!({"id": 7, "valid": false, "reason": "malformed_input"}));
    assert_eq!(lines[1]["reason"], "malformed_input");
    assert_eq!(lines[2]["valid"], true);
    assert_eq!(lines[3], serde_json::json!({"id": "x", "valid": false, "reason": "unknown_provider"}));
}
