#!/usr/bin/env bash
# The project's test command: installs what the tests need when it is missing, then runs every
# test (unit, integration through the real binary, property tests, doc tests).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests need. None yet: the age CLI (interop) and redis-server (the Redis
# store) join this list with the envelope and scale-out work.
packages=()
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

cargo test --locked --all-targets
cargo test --locked --doc
