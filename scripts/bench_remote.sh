#!/usr/bin/env bash
# Benchmarks the distributed path on this machine: a shoal-broker and one
# shoal-bench-worker with 2 processes on loopback, then
# `shoal-bench --mode=remote --broker=...` (the peers' W1-W4), then both are stopped.
#
# usage: bash scripts/bench_remote.sh [BUILD_DIR] [shoal-bench flags...]
#   e.g. bash scripts/bench_remote.sh build --reps=3 --n1=200000
# Environment: PREFETCH (tasks held per worker process, default 64).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
prefetch=${PREFETCH:-64}
run=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT

# Waits until file $1 has a line, or fails after 20 s.
first_line() {
  for _ in $(seq 200); do
    if [ -s "$1" ]; then head -n1 "$1"; return 0; fi
    sleep 0.1
  done
  echo "bench_remote.sh: no output in $1" >&2
  return 1
}

"$build/broker/shoal-broker" --client-address=127.0.0.1:0 --worker-address=tcp://127.0.0.1:0 \
  --log-level=warning >"$run/broker.out" &
pids+=($!)
line=$(first_line "$run/broker.out")
clients=$(sed -n 's/.*clients=\([^ ]*\).*/\1/p' <<<"$line")
workers=$(sed -n 's/.*workers=\([^ ]*\).*/\1/p' <<<"$line")

"$build/bench/shoal-bench-worker" --broker="$workers" --processes=2 --prefetch="$prefetch" \
  --name=bench-worker --log-level=warning >"$run/worker.out" &
pids+=($!)
first_line "$run/worker.out" >&2

"$build/bench/shoal-bench" --mode=remote --broker="$clients" "$@"
