//! A Lambda Runtime API server for tests: runs a function binary as Lambda
//! would (`AWS_LAMBDA_RUNTIME_API`), hands it events and collects its answers.
//! It implements the API's documented routes: `invocation/next`,
//! `invocation/{id}/response`, `invocation/{id}/error` and `init/error`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

type Answer = Result<Value, Value>;

struct Shared {
    next: tokio::sync::Mutex<mpsc::Receiver<(String, Value)>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
}

/// One function process under the emulated runtime.
pub(crate) struct Function {
    child: Child,
    invocations: mpsc::Sender<(String, Value)>,
    shared: Arc<Shared>,
    counter: u64,
}

async fn next(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let Some((id, event)) = shared.next.lock().await.recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 30_000;
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_str(&id).unwrap());
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from_str(&deadline.to_string()).unwrap());
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:test"),
    );
    headers.insert("lambda-runtime-trace-id", HeaderValue::from_static("Root=1-00000000-000000000000000000000000"));
    (StatusCode::OK, headers, event.to_string())
}

fn settle(shared: &Shared, id: &str, answer: Answer) -> StatusCode {
    if let Some(tx) = shared.waiting.lock().unwrap().remove(id) {
        let _ = tx.send(answer);
    }
    StatusCode::ACCEPTED
}

async fn respond(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    settle(&shared, &id, Ok(serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

async fn error(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    settle(&shared, &id, Err(serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

async fn init_error(body: Bytes) -> StatusCode {
    panic!("function failed to initialise: {}", String::from_utf8_lossy(&body));
}

impl Function {
    /// Starts `binary` with the runtime API and `env`.
    pub(crate) async fn start(binary: &Path, env: &[(String, String)]) -> Function {
        let (invocations, rx) = mpsc::channel(16);
        let shared = Arc::new(Shared { next: tokio::sync::Mutex::new(rx), waiting: Mutex::new(HashMap::new()) });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let name = binary.file_name().unwrap().to_string_lossy().into_owned();
        let child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "start {}: {e} (run `cargo build --workspace --bins` first, as infra/test.sh does)",
                    binary.display()
                )
            });
        Function { child, invocations, shared, counter: 0 }
    }

    /// Invokes the function with `event` and waits for its answer.
    pub(crate) async fn invoke(&mut self, event: Value) -> Answer {
        self.counter += 1;
        let id = format!("req-{}", self.counter);
        let (tx, rx) = oneshot::channel();
        self.shared.waiting.lock().unwrap().insert(id.clone(), tx);
        self.invocations.send((id, event)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(30), rx).await.expect("function answered in time").unwrap()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
