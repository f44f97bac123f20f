#!/usr/bin/env bash
# schemathesis (from PyPI, pinned) against a live `sealpass serve` on a free loopback port, with
# staff auth: every check, no 5xx, every response as the OpenAPI document says. Bounded:
# SCHEMATHESIS_SECONDS (default 60) and a few examples an operation. Installs schemathesis into
# target/schemathesis-venv when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
version=4.32.5
venv=target/schemathesis-venv
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$version"
fi
cargo build --locked -q
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
token="sps_schemathesis-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
hash=$(printf %s "$token" | sha256sum | cut -c1-64)
recipient=$(target/debug/sealpass keygen -o "$work/identity.txt" 2>/dev/null | head -1)
cat > "$work/server.toml" <<CONFIG
recipients = ["$recipient"]
rate_limit_create_per_minute = 0
rate_limit_claim_per_minute = 0
max_requests_per_ip = 0
metrics_token_sha256 = "$hash"
[[staff]]
name = "schemathesis"
token_sha256 = "$hash"
CONFIG
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/debug/sealpass serve --listen "127.0.0.1:$port" --store "sqlite://$work/drops.db" --config "$work/server.toml" \
  2> "$work/serve.log" > /dev/null &
server=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break
  sleep 0.1
done
# From the scratch directory: schemathesis keeps a cache (.schemathesis/) where it runs.
root=$(pwd)
(cd "$work" && "$root/$venv/bin/schemathesis" --config-file "$root/scripts/schemathesis.toml" \
  run "http://127.0.0.1:$port/v1/openapi.json" \
  -H "Authorization: Bearer $token" --max-examples 10 --max-time "${SCHEMATHESIS_SECONDS:-60}" \
  --no-color --generation-database none --seed 51951 --report-dir "$work/report")
if grep -q " ERROR " "$work/serve.log"; then
  echo "the server logged errors during the run:" >&2
  grep " ERROR " "$work/serve.log" >&2
  exit 1
fi
