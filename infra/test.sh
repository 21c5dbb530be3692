#!/usr/bin/env bash
# Every check and test Portage has. This is the command README.md names and
# .ci/run calls. It installs what the tests need (pinned, into target/) and
# needs only the Rust toolchain, Python 3.11 with pip, Node with npm, and the
# registries.
set -euo pipefail
mkdir -p target
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Python tools (pinned) in target/ci-venv"
venv=target/ci-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r infra/requirements-test.txt

step "Prism (pinned by infra/prism/package-lock.json), the validating mock of the providers' API descriptions"
SCARF_ANALYTICS=false npm ci --prefix infra/prism --no-audit --no-fund --loglevel=error

step "oidc-provider (pinned by infra/oidc/package-lock.json), the real authorization server of the connect tests"
npm ci --prefix infra/oidc --no-audit --no-fund --loglevel=error
[ -d ../shared/specs ] || { echo "../shared/specs (the providers' API descriptions) must sit beside the repository"; exit 1; }

step "Signature vectors are what the providers' official libraries make"
# fixtures/P/vectors/signatures.jsonl is generate.py's output; signatures-MODE.jsonl, with --MODE.
for file in fixtures/*/vectors/signatures*.jsonl; do
  dir=$(dirname "$file")
  mode=$(basename "$file" .jsonl); mode=${mode#signatures}; mode=${mode#-}
  if [ -f "$dir/requirements-isolated.txt" ]; then
    # A library whose pins conflict with the shared venv's gets a venv of its own.
    provider=$(basename "$(dirname "$dir")")
    own="target/vectors-venv-$provider"
    [ -x "$own/bin/python" ] || python3 -m venv "$own"
    "$own/bin/pip" install --quiet --disable-pip-version-check -r "$dir/requirements-isolated.txt"
    generated=$("$own/bin/python" "$dir/generate.py" ${mode:+--$mode})
  elif [ -f "$dir/generate.py" ]; then
    generated=$("$venv/bin/python" "$dir/generate.py" ${mode:+--$mode})
  else
    # An npm library, if the generator uses one: installed exactly as package-lock.json pins it.
    if [ -f "$dir/package-lock.json" ]; then
      npm ci --prefix "$dir" --silent --no-audit --no-fund
    fi
    generated=$(node "$dir/generate.mjs" ${mode:+--$mode})
  fi
  printf '%s\n' "$generated" | diff -u "$file" - \
    || { echo "$file differs from what the official library generates now"; exit 1; }
done

step "template.yaml passes cfn-lint with the serverless rules"
"$venv/bin/cfn-lint" template.yaml -a cfn_lint_serverless.rules

step "cargo fmt"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo build (the Lambda binaries the end-to-end tests run)"
cargo build --workspace --bins --quiet

step "cargo test"
log=target/test-output.log
cargo test --workspace --all-targets 2>&1 | tee "$log"
# One closing line over all test binaries (cargo prints one per binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
