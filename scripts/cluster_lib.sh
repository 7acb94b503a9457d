# Sourced by scripts that run a broker and workers on loopback (remote_demo.sh,
# bench_remote.sh): a scratch folder, children stopped by pid on exit, and the
# broker's endpoints read from its first stdout line.
# Sets: run (scratch dir), pids (children), clients/workers/broker_pid (after start_broker).

run=$(mktemp -d)
pids=()
stop_children() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$run"
}
trap stop_children EXIT

# Prints the first line of file $1 once there is one (20 s at most, less if process $2
# has exited first); else shows $1.err.
first_line() {
  for _ in $(seq 200); do
    if [ -s "$1" ]; then head -n1 "$1"; return 0; fi
    if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
      [ -s "$1" ] && { head -n1 "$1"; return 0; }
      echo "$(basename "$0"): $(basename "$1") exited before its first line; log:" >&2
      cat "$1.err" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  echo "$(basename "$0"): nothing in $1; log:" >&2
  cat "$1.err" >&2 || true
  return 1
}

# start_broker BUILD_DIR [broker flags...]: starts shoal-broker on free loopback ports;
# prints its first line and sets `clients` (HOST:PORT), `workers` (tcp://HOST:PORT) and
# `broker_pid`.
start_broker() {
  local build=$1
  shift
  "$build/broker/shoal-broker" --client-address=127.0.0.1:0 --worker-address=tcp://127.0.0.1:0 \
    --log-level=warning "$@" >"$run/broker" 2>"$run/broker.err" &
  pids+=($!)
  broker_pid=$!
  local line
  line=$(first_line "$run/broker" "$broker_pid")
  echo "$line"
  clients=$(sed -n 's/.*clients=\([^ ]*\).*/\1/p' <<<"$line")
  workers=$(sed -n 's/.*workers=\([^ ]*\).*/\1/p' <<<"$line")
}
