#!/usr/bin/env bash
# Benchmarks the distributed path on this machine: a shoal-broker and one
# shoal-bench-worker with 2 processes on loopback, then
# `shoal-bench --mode=remote --broker=...` (the peers' W1-W4), then both are stopped.
#
# usage: bash scripts/bench_remote.sh [BUILD_DIR] [shoal-bench flags...]
#   e.g. bash scripts/bench_remote.sh build --reps=3 --n1=200000
# Environment: PREFETCH (tasks held per worker process, default 256: W1's tasks take
# microseconds, so a worker needs hundreds in hand to cover one broker round trip).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
prefetch=${PREFETCH:-256}
source scripts/cluster_lib.sh
start_broker "$build" >&2

"$build/bench/shoal-bench-worker" --broker="$workers" --processes=2 --prefetch="$prefetch" \
  --name=bench-worker --log-level=warning >"$run/worker.out" &
pids+=($!)
first_line "$run/worker.out" >&2

"$build/bench/shoal-bench" --mode=remote --broker="$clients" "$@"
