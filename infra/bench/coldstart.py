#!/usr/bin/env python3
"""Cold start plus first signed event, Portage's release webhook-stripe against
the same job in Python 3.11 (official `stripe` library, Powertools
idempotency), both run as Lambda runs them (through the Runtime API, served
here) against one moto server. Benchmark, not a test. The Python handler runs
under a minimal urllib runtime loop (python_webhook/bootstrap.py): the
official runtime client, awslambdaric 4.2.2, hung in its native `next()` call
against this server, so its own overhead is not in the Python figure.

    python3 -m venv target/bench-venv
    target/bench-venv/bin/pip install -r infra/bench/requirements-coldstart.txt
    cargo build --release --bins
    target/bench-venv/bin/python infra/bench/coldstart.py [--runs 5] [--rust-binary PATH]

`--rust-binary` measures another build, e.g. what SAM's `cargo lambda build
--release` makes (cargo-lambda sets one codegen unit and panic=abort where
the release profile leaves them unset):

    CARGO_TARGET_DIR=target/cargo-lambda-sim CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
        CARGO_PROFILE_RELEASE_PANIC=abort cargo build --release -p webhook-stripe
    target/bench-venv/bin/python infra/bench/coldstart.py \
        --rust-binary target/cargo-lambda-sim/release/webhook-stripe

Measures, per run: wall time from exec of a fresh process to the response of
its first invocation (init + one signed event recorded and enqueued), and the
process's peak resident memory (VmHWM). Prints medians, the stripped sizes of
the release function binaries, and the emulator's floor: the same four calls
a first delivery makes (GetSecretValue, TransactWriteItems, SendMessage,
UpdateItem) made in sequence by boto3 on warm connections, median of the
runs, which no client of this moto can go below.
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE = os.path.join(ROOT, "target", "release")
SECRET = "whsec_coldstartbenchmarksecret0001"
BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RuntimeApi(http.server.ThreadingHTTPServer):
    """Serves one pending invocation at a time and records its answer."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", free_port()), Handler)
        self.pending = None
        self.answer = None
        self.answered = threading.Event()
        self.lock = threading.Lock()

    def submit(self, event):
        with self.lock:
            self.pending = ("req-%d" % time.monotonic_ns(), json.dumps(event).encode())
            self.answer = None
            self.answered.clear()


class Handler(http.server.BaseHTTPRequestHandler):
    # The Python runtime client keeps its connection open between calls.
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        while True:
            with server.lock:
                pending, server.pending = server.pending, None
            if pending:
                break
            time.sleep(0.001)
        request_id, body = pending
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.server.answer = (self.path, body)
        self.server.answered.set()


def signed_event(event_id):
    body = json.dumps({
        "id": event_id, "object": "event", "api_version": "2025-03-31.basil", "created": int(time.time()),
        "data": {"object": {"id": "cus_" + event_id[-8:], "object": "customer", "email": "bench@example.com"}},
        "livemode": False, "type": "customer.created",
    }).encode()
    t = int(time.time())
    sig = hmac.new(SECRET.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    return {
        "version": "2.0", "routeKey": "POST /webhooks/stripe", "rawPath": "/webhooks/stripe", "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "bench.example", "x-forwarded-proto": "https",
                    "stripe-signature": "t=%d,v1=%s" % (t, sig)},
        "requestContext": {"accountId": "123456789012", "apiId": "bench", "domainName": "bench.example",
                           "domainPrefix": "bench", "requestId": event_id, "routeKey": "POST /webhooks/stripe",
                           "stage": "$default", "time": "23/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
                           "http": {"method": "POST", "path": "/webhooks/stripe", "protocol": "HTTP/1.1",
                                    "sourceIp": "192.0.2.1", "userAgent": "Stripe/1.0"}},
        "body": base64.b64encode(body).decode(), "isBase64Encoded": True,
    }


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def measure(cmd, env, cwd, event_id):
    # A fresh Runtime API per run: a killed process's pending poll cannot take the next event.
    api = RuntimeApi()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % api.server_port)
    api.submit(signed_event(event_id))
    start = time.perf_counter()
    process = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not api.answered.wait(60):
        process.kill()
        raise SystemExit("no answer from %s" % cmd[0])
    elapsed_ms = (time.perf_counter() - start) * 1000
    rss = peak_rss_mb(process.pid)
    process.kill()
    process.wait()
    path, body = api.answer
    answer = json.loads(body)
    if "/response" not in path or answer.get("statusCode") != 200:
        raise SystemExit("%s answered %s: %s" % (cmd[0], path, body[:300]))
    return elapsed_ms, rss


def emulator_floor(endpoint, portage_env, runs):
    """Median time of a first delivery's four emulator calls, made by boto3."""
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
              aws_secret_access_key="testing")
    secrets, dynamodb, sqs = (boto3.client(s, **kw) for s in ["secretsmanager", "dynamodb", "sqs"])
    table, queue = portage_env["PORTAGE_TABLE"], portage_env["PORTAGE_QUEUE_URL"]
    secrets.get_secret_value(SecretId="coldbench/stripe/default")  # warm every connection first
    sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    dynamodb.describe_table(TableName=table)
    times = []
    for i in range(runs):
        key = "floor#%d#%f" % (i, time.time())
        start = time.perf_counter()
        secrets.get_secret_value(SecretId="coldbench/stripe/default")
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": key}, "sk": {"S": "EVENT"}, "status": {"S": "received"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": key}, "sk": {"S": "PAYLOAD"}, "body": {"B": b"x" * 512}}}},
        ])
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"event": key}))
        dynamodb.update_item(TableName=table, Key={"pk": {"S": key}, "sk": {"S": "EVENT"}},
                             UpdateExpression="SET #s = :q", ExpressionAttributeNames={"#s": "status"},
                             ExpressionAttributeValues={":q": {"S": "queued"}})
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rust-binary", default=os.path.join(RELEASE, "webhook-stripe"),
                        help="the webhook-stripe build to measure (default: the release profile's)")
    args = parser.parse_args()

    port = free_port()
    moto = subprocess.Popen([os.path.join(BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        aws = {"AWS_ENDPOINT_URL": "http://127.0.0.1:%d" % port, "AWS_REGION": "us-east-1",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        base = dict(os.environ, **aws)
        portage = os.path.join(RELEASE, "portage")
        out = subprocess.run([portage, "aws", "provision", "--name", "coldbench"], env=base, check=True,
                             capture_output=True, text=True).stdout
        portage_env = dict(line.split("=", 1) for line in out.splitlines())
        subprocess.run([portage, "secrets", "set", "--aws", "--prefix", "coldbench/", "stripe",
                        "webhook_secret=" + SECRET], env=base, check=True, capture_output=True)
        dynamodb = boto3.client("dynamodb", endpoint_url=aws["AWS_ENDPOINT_URL"], region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        dynamodb.create_table(TableName="coldbench-idempotency", BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])

        lambda_env = {"PATH": os.environ.get("PATH", ""),
                      "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                      "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
                      "AWS_LAMBDA_LOG_STREAM_NAME": "bench", **aws}
        rust_env = dict(lambda_env, **portage_env)
        python_env = dict(lambda_env, PYTHONUNBUFFERED="1", IDEMPOTENCY_TABLE="coldbench-idempotency", SECRET_NAME="coldbench/stripe/default",
                          QUEUE_URL=portage_env["PORTAGE_QUEUE_URL"], POWERTOOLS_IDEMPOTENCY_DISABLED="false")
        results = {}
        for name, cmd, env, cwd in [
            ("rust " + os.path.relpath(args.rust_binary, ROOT), [args.rust_binary], rust_env, ROOT),
            ("python 3.11 + stripe + powertools", [sys.executable, "bootstrap.py"],
             python_env, os.path.join(ROOT, "infra", "bench", "python_webhook")),
        ]:
            runs = [measure(cmd, env, cwd, "evt_cold_%s_%d" % (name[:4], i)) for i in range(args.runs)]
            results[name] = {
                "exec_to_first_response_ms": [round(ms, 1) for ms, _ in runs],
                "median_ms": round(statistics.median(ms for ms, _ in runs), 1),
                "peak_rss_mb": round(max(rss for _, rss in runs if rss is not None), 1),
            }
        functions = sorted(d for d in os.listdir(os.path.join(ROOT, "functions")) if d != "portage")
        sizes = {b: round(os.path.getsize(os.path.join(RELEASE, b)) / 1e6, 2)
                 for b in functions if os.path.exists(os.path.join(RELEASE, b))}
        floor = emulator_floor(aws["AWS_ENDPOINT_URL"], portage_env, args.runs)
        print(json.dumps({"runs": args.runs, "results": results, "emulator_floor_ms": floor,
                          "stripped_release_binary_mb": sizes}, indent=2))
    finally:
        moto.kill()


if __name__ == "__main__":
    main()
