#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan+UBSan) and fuzzes them.
#   bash scripts/fuzz.sh [TARGET...]   default: every target, SECONDS_EACH seconds each
# Installs what is missing (scripts/deps.sh, clang, libclang-rt-14-dev).
# Environment: SECONDS_EACH (default 60), BUILD_DIR (default build-fuzz), JOBS (nproc).
# New inputs that add coverage go to a scratch corpus in the build folder; an input that
# breaks a target is written there as crash-*/leak-*/timeout-* and the script fails.
# Keep such an input by copying it into tests/fuzz/corpus/TARGET/ once it is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
# clang and its libFuzzer runtime (Debian 12: clang 14).
for p in clang libclang-rt-14-dev; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    echo "fuzz.sh: installing $p" >&2
    [ "$(id -u)" -eq 0 ] && sudo_cmd=() || sudo_cmd=(sudo)
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
      --no-install-recommends "$p" >/dev/null
  fi
done

build=${BUILD_DIR:-build-fuzz}
jobs=${JOBS:-$(nproc)}
seconds=${SECONDS_EACH:-60}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DSHOAL_FUZZ=ON -DSHOAL_SANITIZE=address \
  -DSHOAL_BUILD_BENCH=OFF -DSHOAL_BUILD_EXAMPLES=OFF >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for source in tests/fuzz/*_fuzz.cc; do
    name=$(basename "$source" _fuzz.cc)
    targets+=("$name")
  done
fi

cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}"
# Undefined behaviour stops the run and leaves the input behind, as a crash would.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
for name in "${targets[@]}"; do
  scratch="$build/fuzz-corpus/$name"
  artifacts="$build/fuzz-artifacts/$name/"
  mkdir -p "$scratch" "$artifacts"
  echo "== fuzz_$name for ${seconds}s"
  "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$artifacts" -print_final_stats=1 "$scratch" "tests/fuzz/corpus/$name"
done
