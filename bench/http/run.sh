#!/usr/bin/env bash
# Input-path benchmark: requests/s and latency for a 3x224x224 and a 3x64x64 FP32 input sent
# as JSON, as binary tensor data, and through a registered system shared-memory region, at 1
# and 16 connections, with wrk on loopback. Prints a Markdown table (also written to
# bench/http/results.md); compare rows with each other, not with other machines.
#
# Usage: make bench-http   (or: bash bench/http/run.sh [seconds per point])
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-5}
BIN=${INFERD_BIN:-build/inferd}
WORK=$(mktemp -d)
port=18710
cleanup() {
  kill "${PID:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK" /dev/shm/inferd-bench-img224 /dev/shm/inferd-bench-img64
}
trap cleanup EXIT
/usr/bin/python3 bench/http/make_inputs.py "$WORK"
"$BIN" --model-repository "$WORK/repo" --http-port $port --http-address 127.0.0.1 \
       --metrics-port 0 --allow-client-shm true --log-format text 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null && break; sleep 0.1; done
for m in img224 img64; do
  size=$(stat -c %s /dev/shm/inferd-bench-$m)
  curl -sf -X POST "http://127.0.0.1:$port/v2/systemsharedmemory/region/$m/register" \
       -d "{\"key\":\"/inferd-bench-$m\",\"offset\":0,\"byte_size\":$size}" >/dev/null
done
out=bench/http/results.md
{
  echo "| input | encoding | connections | requests/s | p50 ms | p99 ms | MB/s in |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
} >"$out"
ms() { case "$1" in *us) echo "$1" | sed 's/us//' | awk '{printf "%.3f", $1/1000}';;
                    *ms) echo "$1" | sed 's/ms//';; *s) echo "$1" | sed 's/s//' | awk '{printf "%.1f", $1*1000}';; esac; }
for m in img224 img64; do
  for enc in json binary shm; do
    case $enc in
      json) body=$WORK/$m.json; hl="";;
      binary) body=$WORK/$m.bin; hl=$(cat "$WORK/$m.bin.hdr");;
      shm) body=$WORK/$m.shm.json; hl="";;
    esac
    for c in 1 16; do
      t=$(( c < 2 ? 1 : 2 ))
      res=$(BODY="$body" HEADER_LEN="$hl" wrk -t$t -c$c -d${SECS}s --latency -s bench/http/post.lua \
            "http://127.0.0.1:$port/v2/models/$m/infer")
      rps=$(echo "$res" | awk '/Requests\/sec/ {print $2}')
      p50=$(echo "$res" | awk '$1=="50%" {print $2}')
      p99=$(echo "$res" | awk '$1=="99%" {print $2}')
      bad=$(echo "$res" | awk '/^non200/ {print $2}')
      mbs=$(awk -v r="$rps" -v b="$(stat -c %s "$body")" 'BEGIN {printf "%.0f", r*b/1e6}')
      echo "| $m | $enc | $c | $rps | $(ms "$p50") | $(ms "$p99") | $mbs |$( [ "${bad:-0}" != 0 ] && echo " $bad non-200" )" | tee -a "$out"
    done
  done
done
echo "written to $out"
