#!/usr/bin/env bash
# Benchmarks the distributed path on this machine: a shoal-broker and one
# shoal-bench-worker with 2 processes (shoal-bench's --workers) on loopback, then
# `shoal-bench --mode=remote --broker=...` (the peers' W1-W4), then both are stopped.
#
# usage: bash scripts/bench_remote.sh [BUILD_DIR] [shoal-bench flags...]
#   e.g. bash scripts/bench_remote.sh build --reps=3 --n1=200000
# Environment: PREFETCH (tasks held per worker process, default 256: W1's tasks take
# microseconds, so a worker needs hundreds in hand to cover one broker round trip);
# SECURE=1 secures both links (TLS for the client, CURVE with a listed worker key);
# DURABLE=1 gives the broker a durable task store (--store-dir) in the run's directory.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
prefetch=${PREFETCH:-256}
# The worker's processes: shoal-bench's --workers (as the peers harness passes it), or 2.
processes=2
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --workers=*) processes=${args[i]#--workers=} ;;
    --workers) processes=${args[i + 1]:-2} ;;
  esac
done
# CPU per operation counts this script's tree (broker and worker too), also outside
# the peers harness, which sets it to its own root.
export PEERS_ROOT_PID=${PEERS_ROOT_PID:-$$}
source scripts/cluster_lib.sh
broker_flags=() worker_flags=() bench_flags=()
if [ "${SECURE:-0}" = 1 ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$run/tls-key.pem" -out "$run/tls-cert.pem" 2>/dev/null
  "$build/client/cli/shoal" keygen "$run/broker-curve" >/dev/null
  "$build/client/cli/shoal" keygen "$run/worker" >"$run/workers"
  broker_flags=(--tls-cert="$run/tls-cert.pem" --tls-key="$run/tls-key.pem"
                --curve-secret-key-file="$run/broker-curve" --curve-worker-keys-file="$run/workers")
  worker_flags=(--broker-public-key="$run/broker-curve.pub" --curve-secret-key-file="$run/worker")
  bench_flags=(--root-certs="$run/tls-cert.pem")
fi
if [ "${DURABLE:-0}" = 1 ]; then
  broker_flags+=(--store-dir="$run/store")
fi
start_broker "$build" "${broker_flags[@]}" >&2

"$build/bench/shoal-bench-worker" --broker="$workers" --processes="$processes" --prefetch="$prefetch" \
  --name=bench-worker --log-level=warning "${worker_flags[@]}" >"$run/worker.out" &
pids+=($!)
first_line "$run/worker.out" "$!" >&2

"$build/bench/shoal-bench" --mode=remote --broker="$clients" "${bench_flags[@]}" "$@"
