#!/usr/bin/env bash
# Gateway benchmark: inferd as a gateway (a remote model forwarding to an upstream inferd)
# against the seed's design, a Go net/http gateway (bench/peers/go-gateway), both in front of
# the same upstream serving the digits example, in the same run. At 1 connection: p50/p99
# and the latency each gateway adds over calling the upstream directly; at 64 connections:
# throughput. Prints a Markdown table (also written to bench/gateway/results.md).
#
# The machine is shared, so the 1-connection points are taken in ROUNDS interleaved rounds
# (upstream, inferd, Go, upstream, ...) and each path's p50/p99 is the median of its rounds.
#
# Usage: make bench-gateway   (or: bash bench/gateway/run.sh [seconds per point] [rounds])
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-5}
ROUNDS=${2:-3}
BIN=${INFERD_BIN:-build/inferd}
WORK=$(mktemp -d)
cleanup() { kill ${PIDS:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
UP=18730 GW=18731 GO=18732

(cd bench/peers/go-gateway && CGO_ENABLED=0 GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" \
   go build -ldflags '-s -w' -o "$WORK/go-gateway" main.go)
mkdir -p "$WORK/up" "$WORK/gw/digits/1"
cp -r examples/models/digits "$WORK/up/"
cat >"$WORK/gw/digits/config.pbtxt" <<CFG
backend: "remote"
max_batch_size: 64
parameters { key: "url" value: { string_value: "http://127.0.0.1:$UP" } }
CFG
/usr/bin/python3 -c 'import json; print(json.dumps({"inputs":[{"name":"pixels","shape":[1,64],"datatype":"FP32","data":[0,0,5,13,9,1,0,0,0,0,13,15,10,15,5,0,0,3,15,2,0,11,8,0,0,4,12,0,0,8,8,0,0,5,8,0,0,9,8,0,0,4,11,0,1,12,7,0,0,2,14,5,10,12,0,0,0,0,6,13,10,0,0,0]}]}))' >"$WORK/body.json"

"$BIN" --model-repository "$WORK/up" --http-port $UP --http-address 127.0.0.1 --metrics-port 0 2>/dev/null &
PIDS="$!"
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$UP/v2/health/ready" >/dev/null && break; sleep 0.1; done
"$BIN" --model-repository "$WORK/gw" --http-port $GW --http-address 127.0.0.1 --metrics-port 0 2>/dev/null &
PIDS="$PIDS $!"
UPSTREAM="http://127.0.0.1:$UP" LISTEN="127.0.0.1:$GO" "$WORK/go-gateway" 2>/dev/null &
PIDS="$PIDS $!"
for port in $GW $GO; do
  for _ in $(seq 100); do
    curl -sf -X POST "http://127.0.0.1:$port/v2/models/digits/infer" -d @"$WORK/body.json" >/dev/null && break
    sleep 0.1
  done
done

measure() { # port connections -> "rps p50_us p99_us"
  local t=$(( $2 < 2 ? 1 : 2 ))
  BODY="$WORK/body.json" wrk -t$t -c$2 -d${SECS}s --latency -s bench/sched/post.lua \
    "http://127.0.0.1:$1/v2/models/digits/infer" |
    awk 'function us(v) { if (v ~ /us$/) return v+0; if (v ~ /ms$/) return v*1000; return v*1000000 }
         /Requests\/sec/ {r=$2} $1=="50%" {p50=us($2)} $1=="99%" {p99=us($2)}
         END {printf "%s %.0f %.0f\n", r, p50, p99}'
}
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
for _ in $(seq "$ROUNDS"); do
  for port in $UP $GW $GO; do measure $port 1 | sed "s/^/$port /" >>"$WORK/lat"; done
done
col() { awk -v p="$1" -v c="$2" '$1==p {print $c}' "$WORK/lat" | median; }
d50=$(col $UP 3) d99=$(col $UP 4) i50=$(col $GW 3) i99=$(col $GW 4) g50=$(col $GO 3) g99=$(col $GO 4)
read -r d64 _ _ <<<"$(measure $UP 64)"
read -r i64 _ _ <<<"$(measure $GW 64)"
read -r g64 _ _ <<<"$(measure $GO 64)"
out=bench/gateway/results.md
{
  echo "| path | p50 µs (1 conn) | p99 µs (1 conn) | added p50 µs | requests/s (64 conns) |"
  echo "| --- | --- | --- | --- | --- |"
  echo "| upstream directly | $d50 | $d99 | 0 | $d64 |"
  echo "| inferd gateway | $i50 | $i99 | $((i50 - d50)) | $i64 |"
  echo "| Go net/http gateway | $g50 | $g99 | $((g50 - d50)) | $g64 |"
  awk -v i=$((i50 - d50)) -v g=$((g50 - d50)) -v ti="$i64" -v tg="$g64" 'BEGIN {
    printf "\nadded p50, inferd / Go: %.2f; throughput at 64, inferd / Go: %.2f\n", (g > 0 ? i / g : 0), (tg > 0 ? ti / tg : 0) }'
} | tee "$out"
