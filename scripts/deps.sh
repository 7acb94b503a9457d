#!/usr/bin/env bash
# Installs the Debian 12 packages Shoal needs that are missing. Idempotent; prints
# nothing when everything is present. Needs root (or sudo) only when installing.
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libzmq3-dev cppzmq-dev libsodium-dev
  libprotobuf-dev protobuf-compiler zlib1g-dev
  libgrpc++-dev protobuf-compiler-grpc
  libabsl-dev
  libmsgpack-cxx-dev libboost-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-grpcio python3-protobuf python3-msgpack python3-grpc-tools
  python3-zmq  # tests/integration/python_worker.py: a worker written from proto/ alone
  openssl
  iproute2  # ip netns: the cross-host tests (tests/integration/hosts.h)
  # deploy/Containerfile and deploy/k8s run in containers (tests/deploy/container_test.py)
  podman runc netavark debootstrap python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "shoal: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq >/dev/null
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
