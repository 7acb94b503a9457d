#!/usr/bin/env bash
# The distributed path on one machine: a shoal-broker and N stock shoal-workers on
# loopback (ports picked by the kernel), a map of demo.square over 1..1000 with the
# `shoal` CLI, the broker's status, then everything is stopped by pid.
#
# usage: bash scripts/remote_demo.sh [BUILD_DIR] [WORKERS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-2}
if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
  echo "remote_demo.sh: WORKERS must be a whole number >= 1, not '$n' (a map waits for a worker)" >&2
  exit 2
fi
source scripts/cluster_lib.sh
start_broker "$build"
worker_pids=()

for i in $(seq "$n"); do
  "$build/worker/shoal-worker" --broker="$workers" --processes=1 --name="demo-$i" \
    --load="$build/worker/libshoal_demo_tasks.so" --log-level=warning \
    >"$run/worker$i" 2>"$run/worker$i.err" &
  pids+=($!)
  worker_pids+=($!)
done
for i in $(seq "$n"); do first_line "$run/worker$i" "${worker_pids[$((i - 1))]}"; done

seq 1 1000 | sed 's/.*/[&]/' >"$run/input.jsonl"
echo "\$ shoal map demo.square --input=input.jsonl --broker=$clients   (1000 lines: [1] .. [1000])"
"$build/client/cli/shoal" map demo.square --input="$run/input.jsonl" --broker="$clients" \
  >"$run/squares"
echo "first results: $(head -n5 "$run/squares" | tr '\n' ' ')... last: $(tail -n1 "$run/squares")"
echo "sum of the 1000 squares: $(awk '{s += $1} END {print s}' "$run/squares") (expected 333833500)"
echo "\$ shoal submit demo.words --args='[\"the quick brown fox\"]'"
"$build/client/cli/shoal" submit demo.words --args='["the quick brown fox"]' --broker="$clients"
echo "\$ shoal status"
"$build/client/cli/shoal" status --broker="$clients"
