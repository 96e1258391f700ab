#!/usr/bin/env bash
# Installs every Debian package that inferd's build and tests need. This file is the
# single list of dependencies: the Makefile and CI call it, nothing else installs.
# Idempotent and quiet: when everything is present it prints nothing and exits 0.
# With --bench it also installs what the benchmarks need.
set -euo pipefail

PACKAGES=(
    # build
    build-essential cmake pkg-config clang clang-format
    # server and engine libraries
    libmicrohttpd-dev libjansson-dev libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev
    libopenblas-dev libopenblas-serial-dev libonnx-dev libdw-dev
    # tests
    libcmocka-dev python3 python3-pytest python3-numpy python3-sklearn python3-onnx
    libonnx-testdata prometheus libclang-rt-14-dev
)
# Only for the benchmarks (make bench-*): a load generator and the Go peer gateway.
BENCH_PACKAGES=(wrk golang-go)
if [ "${1:-}" = "--bench" ]; then
    PACKAGES+=("${BENCH_PACKAGES[@]}")
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
