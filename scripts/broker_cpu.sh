#!/usr/bin/env bash
# Measures what the broker itself costs per task at W1 load: a shoal-broker and one
# shoal-bench-worker (2 processes, --prefetch=256) on loopback, `shoal-bench
# --mode=remote --workloads=W1`, and the CPU time of each process read from /proc
# around it. Prints every repetition, then CPU per task of broker, worker (with its
# engine processes) and client, and the broker's resident memory at the end.
#
# usage: bash scripts/broker_cpu.sh [BUILD_DIR] [TASKS_PER_REP] [REPS] [broker flags...]
#   e.g. bash scripts/broker_cpu.sh build 1000000 3
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-1000000}
reps=${3:-3}
shift $(($# < 3 ? $# : 3))
source scripts/cluster_lib.sh
# The broker and the worker, busy beside shoal-bench, are foreign load to it: no
# repetition is repeated for them.
export FOREIGN_MAX=1000

start_broker "$build" "$@" >/dev/null
"$build/bench/shoal-bench-worker" --broker="$workers" --processes=2 --prefetch=256 \
  --name=bench-worker --log-level=warning >"$run/worker.out" &
pids+=($!)
worker_pid=$!
first_line "$run/worker.out" "$worker_pid" >/dev/null

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime of one process
tree_ticks() {  # a process and all its descendants
  local sum child
  sum=$(ticks "$1")
  for child in $(pgrep -P "$1" || true); do sum=$((sum + $(tree_ticks "$child"))); done
  echo "$sum"
}

b0=$(ticks "$broker_pid")
w0=$(tree_ticks "$worker_pid")
"$build/bench/shoal-bench" --mode=remote --broker="$clients" --workloads=W1 --reps="$reps" \
  --n1="$n" 2>&1 | grep "raw.*W1" | tee "$run/bench.out"
b1=$(ticks "$broker_pid")
w1=$(tree_ticks "$worker_pid")
client=$(sed 's/.*cpu_per_op=\([0-9.]*\).*/\1/' "$run/bench.out" | sort -n | sed -n "$(((reps + 1) / 2))p")
awk -v b=$((b1 - b0)) -v w=$((w1 - w0)) -v n=$((n * reps)) -v hz="$(getconf CLK_TCK)" \
  -v c="$client" -v rss="$(awk '/VmRSS/ {print $2}' /proc/$broker_pid/status)" 'BEGIN {
    printf "tasks %d: CPU per task: broker %.2f us, worker %.2f us, client %s us (median rep); broker RSS %.0f MB\n",
           n, b / hz * 1e6 / n, w / hz * 1e6 / n, c, rss / 1024 }'
