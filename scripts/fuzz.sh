#!/usr/bin/env bash
# Run every cargo-fuzz target for SECONDS each (default 60): the envelope reader, the link
# parsers, custom passwordrules (parse, generate, check), the drop server's armored-age upload
# check, the API bodies and answers, age headers as receive opens them, and the vendor's signed
# manifest. New inputs go to a scratch corpus, seeded from
# fuzz/corpus/<target>; a crash, hang (over 10 s) or OOM (over 2 GiB) fails the run and leaves
# its input in fuzz/artifacts/<target>/. Needs the nightly toolchain (for cargo fuzz only; the
# crate builds on stable); installs cargo-fuzz when it is missing. No sanitizer: our code is safe
# Rust (unsafe is forbidden), so what there is to find in it is panics, hangs and memory
# blow-ups, which libFuzzer sees without one (AddressSanitizer would mostly watch the unsafe code
# of dependencies, which they fuzz themselves); without AddressSanitizer the build is faster and every target runs
# five to seven times as many inputs in the same time.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
targets=(envelope links passwordrules armored_age api_bodies keyfile age_header manifest)
command -v cargo-fuzz > /dev/null 2>&1 || cargo install --locked cargo-fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo +nightly fuzz build --sanitizer none
status=0
for target in "${targets[@]}"; do
  mkdir -p "$work/$target"
  if cargo +nightly fuzz run --sanitizer none "$target" "$work/$target" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 > "$work/$target.log" 2>&1; then
    runs=$(grep -Eo '^Done [0-9]+ runs' "$work/$target.log" | grep -Eo '[0-9]+' || echo '?')
    echo "fuzz $target: $runs runs in ${seconds} s, no crash"
  else
    tail -40 "$work/$target.log"
    echo "fuzz $target: FAILED (input in fuzz/artifacts/$target/)"
    status=1
  fi
done
exit $status
