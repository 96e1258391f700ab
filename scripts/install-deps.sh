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
# Only for the benchmarks (make bench-*): a load generator and the Go peer gateway; npm
# where Node.js is not installed already (for ONNX Runtime, the engine benchmark's peer).
BENCH_PACKAGES=(wrk golang-go)
BENCH=0
if [ "${1:-}" = "--bench" ]; then
    BENCH=1
    PACKAGES+=("${BENCH_PACKAGES[@]}")
    command -v npm >/dev/null || PACKAGES+=(nodejs npm)
fi

# ONNX Runtime's CPU build (npm onnxruntime-node, pinned by bench/engine/package-lock.json)
# into bench/engine/node_modules, unless that version is there already. Its install script
# would fetch GPU libraries from outside the npm registry: ONNXRUNTIME_NODE_INSTALL=skip.
bench_npm() {
    local dir want have
    dir="$(dirname "$0")/../bench/engine"
    want=$(sed -n 's/.*"onnxruntime-node": *"\([^"]*\)".*/\1/p' "$dir/package.json")
    have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
           "$dir/node_modules/onnxruntime-node/package.json" 2>/dev/null | head -1 || true)
    [ -n "$want" ] && [ "$want" = "$have" ] && return 0
    echo "install-deps: npm ci onnxruntime-node@$want in bench/engine"
    (cd "$dir" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$BENCH" = 0 ] || bench_npm
