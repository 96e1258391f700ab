#!/usr/bin/env bash
# Hot-reload benchmark: the p99 latency of one model (digits) under load, first alone, then
# while another model (a 784-1024-1024-10 MLP, 7 MB of weights) is reloaded every
# RELOAD_EVERY seconds (0.5) through the load API. Loading runs on the repository's control thread, off the request
# path; this measures how much the reloads still cost the other model's requests.
#
# Usage: make bench-reload   (or: bash bench/reload/run.sh [seconds per phase])
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-10}
BIN=${INFERD_BIN:-build/inferd}
WORK=$(mktemp -d)
port=18720
cleanup() { kill "${PID:-}" "${LOOP:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
/usr/bin/python3 bench/sched/make_models.py "$WORK" 500 >/dev/null
"$BIN" --model-repository "$WORK/single" --http-port $port --http-address 127.0.0.1 \
       --metrics-port 0 --model-control-mode explicit --load-model '*' 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null && break; sleep 0.1; done
run() {
  BODY="$WORK/digits.json" wrk -t2 -c16 -d${SECS}s --latency -s bench/sched/post.lua \
    "http://127.0.0.1:$port/v2/models/digits/infer"
}
quiet=$(run)
model_bytes() { curl -s "http://127.0.0.1:$port/debug/tensors" |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["by_owner"]["model"]["bytes"])'; }
steady=$(model_bytes)
# Sample the bytes held by model weights every few milliseconds while reloading.
/usr/bin/python3 - "$port" "$WORK/peak" <<'PY' &
import json, sys, time, urllib.request
port, out = sys.argv[1], sys.argv[2]
peak, end = 0, time.time() + 3600
while time.time() < end:
    try:
        d = json.load(urllib.request.urlopen("http://127.0.0.1:%s/debug/tensors" % port))
    except Exception:
        break
    peak = max(peak, d["by_owner"]["model"]["bytes"])
    open(out, "w").write(str(peak))
    time.sleep(0.002)
PY
SAMPLER=$!
reloads=0
( while true; do
    touch "$WORK/single/mlp784/1/model.onnx"
    curl -sf -X POST "http://127.0.0.1:$port/v2/repository/models/mlp784/load" >/dev/null
    sleep "${RELOAD_EVERY:-0.5}"
  done ) &
LOOP=$!
busy=$(run)
kill $LOOP; wait $LOOP 2>/dev/null || true
LOOP=
kill $SAMPLER 2>/dev/null; wait $SAMPLER 2>/dev/null || true
peak=$(cat "$WORK/peak")
reloads=$(grep -c "model 'mlp784' reloaded" "$WORK/server.log" || true)
row() { echo "$2" | awk -v n="$1" '/Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {printf "| %s | %s | %s | %s |\n", n, r, p50, p99}'; }
out=bench/reload/results.md
{
  echo "| phase | digits requests/s | p50 | p99 |"
  echo "| --- | --- | --- | --- |"
  row "no reloads" "$quiet"
  row "mlp784 reloaded $reloads times" "$busy"
  echo
  echo "model weights held: $steady bytes steady, $peak bytes at the peak of the reloads" \
       "(old + new would be $(( steady + 7454760 )) for the MLP's 7454760 bytes)"
} | tee "$out"
