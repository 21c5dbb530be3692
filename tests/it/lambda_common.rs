//! What the Lambda end-to-end tests share: the function binaries, the
//! AWS environment pointing at moto, `portage aws provision`, and API
//! Gateway events as API Gateway sends them.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::{common, moto};

pub(crate) fn binary(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_portage")).with_file_name(name)
}

pub(crate) fn aws_env() -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", moto::endpoint()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub(crate) fn portage(args: &[&str]) -> String {
    let out = Command::new(common::bin()).args(args).envs(aws_env()).output().unwrap();
    assert!(out.status.success(), "portage {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `portage aws provision` on a fresh name; returns the functions' environment.
pub(crate) fn provision(max_receives: &str) -> Vec<(String, String)> {
    let name = moto::unique("portage");
    let provisioned = portage(&["aws", "provision", "--name", &name, "--max-receives", max_receives]);
    let mut env = aws_env();
    for line in provisioned.lines() {
        let (k, v) = line.split_once('=').expect("KEY=VALUE lines only");
        env.push((k.to_owned(), v.to_owned()));
    }
    env
}

pub(crate) fn http_api_event(path: &str, headers: Value, body: &[u8]) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "POST /webhooks/stripe",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api1", "domainName": "api1.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "api1", "requestId": "r1", "routeKey": "POST /webhooks/stripe", "stage": "$default",
            "time": "23/Nov/2026:19:00:00 +0000", "timeEpoch": 1795460000000i64,
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "Stripe/1.0"}
        },
        "body": STANDARD.encode(body),
        "isBase64Encoded": true
    })
}
