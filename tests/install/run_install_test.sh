#!/usr/bin/env bash
# `cmake --install` of BUILD_DIR into a temporary prefix, then this folder is
# configured and built as an outside project against that prefix, and run.
# usage: run_install_test.sh BUILD_DIR SOURCE_DIR [SANITIZER]
# SANITIZER is the build's SHOAL_SANITIZE (address or thread): the installed libraries
# are instrumented then, so the outside project is built with the same sanitizer.
set -euo pipefail
build=$1
src=$2
sanitize=${3:-}
flags=()
case "$sanitize" in
  "") ;;
  address) flags=(-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined
                  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined) ;;
  thread) flags=(-DCMAKE_CXX_FLAGS=-fsanitize=thread -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread) ;;
  *) echo "unknown sanitizer '$sanitize'" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" || {
  cat "$work/install.log"
  exit 1
}
cmake -S "$src" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "${flags[@]}" >"$work/configure.log" || {
  cat "$work/configure.log"
  exit 1
}
cmake --build "$work/build" -j2
"$work/build/shoal_install_test"
test -x "$work/prefix/bin/shoal-worker"
test -x "$work/prefix/bin/shoal"
echo "installed shoal: headers, libraries, CMake package and binaries work"
