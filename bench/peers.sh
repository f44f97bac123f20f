#!/usr/bin/env bash
# sealpass against its peers, side by side on this machine, interleaved: the same hand-over (a
# 1.8 KB armored ciphertext stored for one reader, then read once) at concurrency 32 for SECONDS
# each, ROUNDS times in turn, by examples/loadgen.rs.
#
#   bench/peers.sh CRYPTGEON_REPO [ROUNDS [SECONDS]]
#
# - sealpass: the release build with its defaults (SQLite with synchronous = full, the audit log
#   and receipts on, staff configured), per-address rate limits and connection caps off (one
#   address makes all the load). Its cycle is three requests: upload, claim, acknowledge.
# - Cryptgeon: its Rust backend built from CRYPTGEON_REPO (a clone of
#   https://github.com/cupcakearmy/cryptgeon; this machine cannot reach GitHub), on Redis, notes
#   of one view (create, then read, which deletes): two requests.
# - snappass: from PyPI (snappass 1.6.2 under gunicorn, 4 workers for 2 cores), on Redis: the
#   form its page posts (answered as JSON), then the reveal its page posts, which deletes it:
#   two requests.
# Redis runs in memory only (no RDB, no AOF): what the peers do by default on a fresh install,
# and nothing sealpass's fsync'd store gets to skip. Everything is built and kept under
# target/bench-peers/, and every process this starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=${1:?usage: bench/peers.sh CRYPTGEON_REPO [ROUNDS [SECONDS]]}
rounds=${2:-3}
seconds=${3:-10}
work=$PWD/target/bench-peers
mkdir -p "$work"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done; wait 2> /dev/null || true; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

echo "== building sealpass, the load generator, Cryptgeon's backend; installing snappass"
cargo build --release --locked -q --example loadgen --bin sealpass
rm -rf "$work/cryptgeon" && mkdir -p "$work/cryptgeon"
if [ -d "$repo/.git" ] || [ -f "$repo/HEAD" ]; then
  git --git-dir="$( [ -d "$repo/.git" ] && echo "$repo/.git" || echo "$repo")" archive HEAD packages/backend |
    tar -x -C "$work/cryptgeon"
else
  cp -r "$repo/packages/backend" "$work/cryptgeon/packages/"
fi
# Its own workspace, not ours (it is extracted under our target/).
printf '\n[workspace]\n' >> "$work/cryptgeon/packages/backend/Cargo.toml"
(cd "$work/cryptgeon/packages/backend" && CARGO_TARGET_DIR="$work/cryptgeon-target" cargo build --release -q)
[ -x "$work/venv/bin/gunicorn" ] || { python3 -m venv "$work/venv" && "$work/venv/bin/pip" install -q snappass==1.6.2 gunicorn; }

echo "== starting Redis, sealpass, Cryptgeon, snappass"
redis_port=$(port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" > "$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping > /dev/null 2>&1 && break; sleep 0.1; done

rm -rf "$work/sealpass" && mkdir -p "$work/sealpass"
recipient=$(target/release/sealpass keygen -o "$work/sealpass/vendor.key" 2>&1 | grep -o 'age1[a-z0-9]*' | head -1)
rm -f "$work/sealpass/token"
target/release/sealpass staff-token loadgen -o "$work/sealpass/token" 2> "$work/sealpass/snippet"
cat > "$work/sealpass/config.toml" <<TOML
recipients = ["$recipient"]
rate_limit_create_per_minute = 0
rate_limit_claim_per_minute = 0
max_requests_per_ip = 0
max_connections_per_ip = 0
$(sed -n '/^\[\[staff\]\]/,$p' "$work/sealpass/snippet")
TOML
sealpass_port=$(port)
target/release/sealpass serve --config "$work/sealpass/config.toml" --listen "127.0.0.1:$sealpass_port" \
  --store "sqlite://$work/sealpass/drops.db" > "$work/sealpass.log" 2>&1 &
pids+=($!)
sealpass_pid=$!

cryptgeon_port=$(port)
LISTEN_ADDR="127.0.0.1:$cryptgeon_port" REDIS="redis://127.0.0.1:$redis_port/0" SIZE_LIMIT="16 KiB" \
  FRONTEND_PATH="$work/cryptgeon" "$work/cryptgeon-target/release/cryptgeon" > "$work/cryptgeon.log" 2>&1 &
pids+=($!)
cryptgeon_pid=$!

snappass_port=$(port)
REDIS_URL="redis://127.0.0.1:$redis_port/1" NO_SSL=True \
  "$work/venv/bin/gunicorn" -w 4 -b "127.0.0.1:$snappass_port" snappass.main:app > "$work/snappass.log" 2>&1 &
pids+=($!)
snappass_pid=$!  # the master: RSS reported is its own, not its 4 workers

wait_for "http://127.0.0.1:$sealpass_port/healthz"
wait_for "http://127.0.0.1:$cryptgeon_port/api/live"
wait_for "http://127.0.0.1:$snappass_port/"

declare -A total
run() {
  local peer=$1 url=$2 pid=$3 line
  line=$(target/release/examples/loadgen --staff-token-file "$work/sealpass/token" --peer "$peer" \
    --url "$url" --concurrency 32 --seconds "$seconds" --pid "$pid" | tr '\n' ' ')
  echo "$line"
  total[$peer]=$(( ${total[$peer]:-0} + $(echo "$line" | sed -E 's/.*: ([0-9]+) cycles\/s.*/\1/') ))
}
for round in $(seq "$rounds"); do
  echo "== round $round"
  run sealpass "http://127.0.0.1:$sealpass_port" "$sealpass_pid"
  run cryptgeon "http://127.0.0.1:$cryptgeon_port" "$cryptgeon_pid"
  run snappass "http://127.0.0.1:$snappass_port" "$snappass_pid"
done
echo "== mean hand-overs/s over $rounds rounds of $seconds s at concurrency 32"
for peer in sealpass cryptgeon snappass; do echo "$peer $(( ${total[$peer]} / rounds ))"; done
python3 -c "s,c,p=${total[sealpass]},${total[cryptgeon]},${total[snappass]}; print(f'sealpass / Cryptgeon {s/c:.2f}x, sealpass / snappass {s/p:.2f}x')"
