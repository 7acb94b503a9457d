#!/usr/bin/env bash
# The main demo: a local pool, then a broker with workers on this machine.
# usage: bash scripts/demo.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
echo "== local pool (fork/shared memory, no broker)"
"$build/examples/quickstart"
if [ -f scripts/remote_demo.sh ]; then
  echo
  echo "== remote pool (shoal-broker + 2 shoal-workers on loopback)"
  bash scripts/remote_demo.sh "$build"
fi
