#!/usr/bin/env bash
# The project's test command: installs what the tests need when it is missing, then runs every
# test (doc tests, unit tests, the integration binary, property tests) and prints one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests need (package name = command name): the reference age CLI for the
# interoperability tests; curl and openssl for the HTTPS test; redis-server for the Redis store
# (its tests start their own on a free loopback port, and fail without it); strace, to see that
# answered uploads are fsynced. The hardening tests also mount a small tmpfs (as root, as in CI)
# and use prlimit (util-linux).
packages=(age curl openssl redis-server strace)
missing=()
for p in "${packages[@]}"; do
  command -v "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "the tests need: ${missing[*]} (apt-get install -y ${missing[*]}); run as root or install them" >&2
    exit 1
  fi
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked --doc 2>&1 | tee -a "$log" || status=1
cargo test --locked --tests --benches 2>&1 | tee -a "$log" || status=1
# The API against its own OpenAPI document, live (schemathesis from PyPI; bounded in time).
if scripts/schemathesis.sh > "$log.schemathesis" 2>&1; then
  echo "schemathesis: 1 passed" | tee -a "$log"
else
  cat "$log.schemathesis"
  echo "schemathesis: 1 failed" | tee -a "$log"
  status=1
fi
rm -f "$log.schemathesis"
passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "tests: $passed passed, $failed failed"
exit $status
