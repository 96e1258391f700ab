#!/usr/bin/env bash
# Scheduler benchmark: throughput and latency of inferd with dynamic batching on and off,
# for the example digits MLP and a 784-1024-1024-10 MLP, with the input sent as JSON data and
# as binary tensor data (as Triton's clients send it), at 1, 8, 64 and 256 concurrent
# connections, with wrk on loopback. Prints a Markdown table (also written to
# bench/sched/results.md). Both run on this machine's cores: compare rows with each other,
# not with other machines.
#
# Usage: make bench-sched   (or: bash bench/sched/run.sh [seconds per point])
# INFERD_BIN picks the server binary (default build/inferd); MODELS, ENCODINGS and
# CONNECTIONS (space-separated) narrow the grid, e.g. for a profile of one point.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-5}
BIN=${INFERD_BIN:-build/inferd}
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
/usr/bin/python3 bench/sched/make_models.py "$WORK" 500

port=18700
out=bench/sched/results.md
{
  echo "| model | input | batching | connections | requests/s | p50 ms | p99 ms |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
} > "$out"
ms() { case "$1" in *us) echo "$1" | sed 's/us//' | awk '{printf "%.3f", $1/1000}';;
                    *ms) echo "$1" | sed 's/ms//';; *s) echo "$1" | sed 's/s//' | awk '{printf "%.1f", $1*1000}';; esac; }
for mode in single batching; do
  "$BIN" --model-repository "$WORK/$mode" --http-port $port --http-address 127.0.0.1 \
         --metrics-port 0 --log-format text 2>"$WORK/$mode.log" &
  PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null && break; sleep 0.1; done
  for model in ${MODELS:-digits mlp784}; do
    for enc in ${ENCODINGS:-json binary}; do
      case $enc in
        json) body=$WORK/$model.json; hl="";;
        binary) body=$WORK/$model.bin; hl=$(cat "$WORK/$model.bin.hdr");;
      esac
      for c in ${CONNECTIONS:-1 8 64 256}; do
        t=$(( c < 2 ? 1 : 2 ))
        res=$(BODY="$body" HEADER_LEN="$hl" wrk -t$t -c$c -d${SECS}s --latency -s bench/sched/post.lua \
              "http://127.0.0.1:$port/v2/models/$model/infer")
        rps=$(echo "$res" | awk '/Requests\/sec/ {print $2}')
        p50=$(echo "$res" | awk '$1=="50%" {print $2}')
        p99=$(echo "$res" | awk '$1=="99%" {print $2}')
        bad=$(echo "$res" | awk '/^non200/ {print $2}')
        echo "| $model | $enc | $mode | $c | $rps | $(ms "$p50") | $(ms "$p99") |$( [ "${bad:-0}" != 0 ] && echo " $bad non-200" )" | tee -a "$out"
      done
    done
  done
  kill -TERM $PID; wait $PID || true
done
echo "written to $out"
