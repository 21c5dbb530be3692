#!/usr/bin/env bash
# Load benchmark for `portage serve` (not a test): builds the release binaries,
# starts the server on a fresh data directory, drives it with signed, unique
# Stripe events, then checks that every accepted event was durably recorded.
#
#   infra/bench/load.sh [SECONDS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
concurrency=${2:-64}
cargo build --release -q -p portage -p portage-loadgen
data=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
secret="whsec_loadbench$(date +%s)"
PORTAGE_STRIPE_WEBHOOK_SECRET=$secret PORTAGE_LOG=warn \
  target/release/portage --data "$data" serve --addr "127.0.0.1:$port" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
report=$(target/release/portage-loadgen --url "http://127.0.0.1:$port/webhooks/stripe" --secret "$secret" \
  --seconds "$seconds" --concurrency "$concurrency" --fixture fixtures/stripe/customer.created.json)
echo "$report"
# How long the worker takes to finish what the burst left on the queue.
drain_start=$(date +%s.%N)
while target/release/portage --data "$data" events list --status queued --limit 1 --format json | grep -q event_id \
   || target/release/portage --data "$data" events list --status processing --limit 1 --format json | grep -q event_id; do
  sleep 0.2
done
echo "queue drained $(python3 -c "print(round($(date +%s.%N) - $drain_start, 1))") s after the load stopped"
kill -TERM $server; wait $server || true
accepted=$(echo "$report" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accepted"])')
recorded=$(target/release/portage --data "$data" events list --provider stripe --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "accepted=$accepted recorded=$recorded"
[ "$accepted" -le "$recorded" ] || { echo "DURABILITY FAILURE: accepted events missing from the store"; exit 1; }
