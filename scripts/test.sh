#!/usr/bin/env bash
# The project's test command: installs what the tests need when it is missing, then runs every
# test (doc tests, unit tests, the integration binary, property tests) and prints one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests need (package name = command name): the reference age CLI for the
# interoperability tests; curl and openssl for the HTTPS test; redis-server for the Redis store
# (its tests start their own on a free loopback port, and fail without it); strace, to see that
# answered uploads are fsynced; chromium for the web sender page's browser tests (driven by
# playwright-core from npm, never a downloaded browser); node and npm for the page's build and
# tests. The hardening tests also mount a small tmpfs (as root, as in CI) and use prlimit
# (util-linux).
packages=(age curl openssl redis-server strace chromium node npm)
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
  # Debian names the node command's package nodejs.
  apt-get install -y -qq $(printf '%s\n' "${missing[@]}" | sed 's/^node$/nodejs/')
fi

log=$(mktemp)
status=0
# Tests leave nothing behind (checked at the end): what they may create in the temporary
# directory (tempfile's .tmp*, the web tests' sealpass-web-*, Chromium profiles), compared by
# name with what was there before; their processes; the work tree's status.
tmp=${TMPDIR:-/tmp}
ours() { find "$tmp" -mindepth 1 -maxdepth 1 \( -name '.tmp*' -o -name 'sealpass-*' -o -name 'chromium-*' \) 2>/dev/null | sort; }
tmp_before=$(mktemp)
trap 'rm -f "$log" "$tmp_before"' EXIT
ours > "$tmp_before"
tree_before=$(git status --porcelain 2>/dev/null || true)
# npm packages from the lockfile, first: the Rust tests of staff sign-in start npm's
# oidc-provider (web/tools/oidc-provider.mjs), and the web tests below need the rest.
web_ready=0
(cd web && npm ci --no-audit --no-fund --loglevel=error) && web_ready=1
cargo test --locked --workspace --doc 2>&1 | tee -a "$log" || status=1
cargo test --locked --workspace --tests --benches 2>&1 | tee -a "$log" || status=1
# The API against its own OpenAPI document, live (schemathesis from PyPI; bounded in time).
if scripts/schemathesis.sh > "$log.schemathesis" 2>&1; then
  echo "schemathesis: 1 passed" | tee -a "$log"
else
  cat "$log.schemathesis"
  echo "schemathesis: 1 failed" | tee -a "$log"
  status=1
fi
rm -f "$log.schemathesis"

# The web sender page: its packages from the lockfile; the committed bundle (embedded in the
# binary, so cargo build needs no Node) must be exactly what the sources build; type check;
# unit tests against the binary built above; then the browser tests.
web_result() { # name, TAP output file
  local pass fail
  pass=$(grep -Eo '^# pass [0-9]+' "$2" | awk '{print $3}')
  fail=$(grep -Eo '^# fail [0-9]+' "$2" | awk '{print $3}')
  echo "web $1: ${pass:-0} passed, ${fail:-1} failed" | tee -a "$log"
  [ "${fail:-1}" = 0 ] || status=1
}
if [ "$web_ready" = 1 ]; then
  built=$(mktemp -d)
  (cd web && node build.mjs "$built")
  if diff -r web/dist "$built" > /dev/null; then
    echo "web bundle: 1 passed (web/dist is what the sources build)" | tee -a "$log"
  else
    echo "web bundle: 1 failed: web/dist is out of date; run (cd web && npm ci && npm run build) and commit it" | tee -a "$log"
    status=1
  fi
  rm -rf "$built"
  (cd web && npx tsc --noEmit -p .) || { echo "web typecheck: 1 failed" | tee -a "$log"; status=1; }
  (cd web && npm test --silent) 2>&1 | tee "$log.web" || true
  web_result "unit tests" "$log.web"
  (cd web && npm run e2e --silent) 2>&1 | tee "$log.web" || true
  web_result "browser tests" "$log.web"
  rm -f "$log.web"
else
  echo "web: 1 failed (npm ci)" | tee -a "$log"
  status=1
fi

left=$(ours | comm -13 "$tmp_before" - | grep -v -x -F -e "$log" || true)
procs=$(pgrep -af "$PWD/target/debug/sealpass|chromium.*--headless" | grep -v pgrep || true)
tree_after=$(git status --porcelain 2>/dev/null || true)
if [ -z "$left" ] && [ -z "$procs" ] && [ "$tree_before" = "$tree_after" ]; then
  echo "nothing left behind: 1 passed (no new temporary files or processes, the work tree as it was)" | tee -a "$log"
else
  echo "nothing left behind: 1 failed" | tee -a "$log"
  [ -z "$left" ] || printf 'left in %s:\n%s\n' "$tmp" "$left"
  [ -z "$procs" ] || printf 'still running:\n%s\n' "$procs"
  [ "$tree_before" = "$tree_after" ] || { echo "the work tree changed:"; diff <(echo "$tree_before") <(echo "$tree_after") || true; }
  status=1
fi

passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "tests: $passed passed, $failed failed"
exit $status
