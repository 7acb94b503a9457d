#!/usr/bin/env bash
# The README's two commands:
#   bash scripts/setup.sh demo   install what is missing, build, run the demo
#   bash scripts/setup.sh test   install what is missing, build, run the whole test suite
# Environment: SHOAL_SANITIZE=address|thread builds with sanitizers (in build-<name>/);
# BUILD_DIR overrides the build folder; JOBS the parallelism (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-}
case "$what" in
  demo|test) ;;
  *) echo "usage: bash scripts/setup.sh demo|test" >&2; exit 2 ;;
esac

bash scripts/deps.sh

sanitize=${SHOAL_SANITIZE:-}
build=${BUILD_DIR:-build${sanitize:+-$sanitize}}
jobs=${JOBS:-$(nproc)}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHOAL_SANITIZE="$sanitize" >/dev/null
cmake --build "$build" -j "$jobs"

if [ "$what" = demo ]; then
  exec bash scripts/demo.sh "$build"
fi
# Each test case runs as its own process, two at a time. A case that fails fails the run:
# none is run again, so a flaky test shows (it used to be given a second try).
cd "$build"
exec ctest --output-on-failure -j "$jobs" --timeout 300
