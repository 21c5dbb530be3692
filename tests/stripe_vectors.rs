//! Stripe signature vectors made by the official `stripe` Python library
//! (fixtures/stripe/vectors/generate.py), checked through both forms of
//! `portage webhook verify`.

mod common;

use std::process::Command;

use serde_json::Value;

fn vectors(file: &str) -> Vec<Value> {
    let path = common::repo_root().join("fixtures/stripe/vectors").join(file);
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn check_batch(file: &str) {
    let path = common::repo_root().join("fixtures/stripe/vectors").join(file);
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
fn batch_agrees_with_the_official_library() {
    check_batch("signatures.jsonl");
}

#[test]
fn batch_agrees_with_the_official_library_on_header_quirks() {
    check_batch("signatures-quirks.jsonl");
}

#[test]
fn single_form_agrees_with_the_official_library() {
    let dir = tempfile::tempdir().unwrap();
    for vector in vectors("signatures.jsonl") {
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD.decode(vector["body_b64"].as_str().unwrap()).unwrap();
        let body_file = dir.path().join("body");
        std::fs::write(&body_file, body).unwrap();
        let mut cmd = Command::new(common::bin());
        cmd.args(["webhook", "verify", "--provider", "stripe"])
            .args(["--secret", vector["secret"].as_str().unwrap()])
            .args(["--now", &vector["now"].to_string()])
            .arg("--body-file")
            .arg(&body_file);
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
    let good = serde_json::to_string(&vectors("signatures.jsonl")[0]).unwrap();
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
