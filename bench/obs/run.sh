#!/usr/bin/env bash
# Observability overhead benchmark: throughput and p50/p99 latency of the digits example
# with observability minimal vs full, in the same run, alternating rounds, with wrk on
# loopback. One server is switched between the configurations at run time (Triton's
# logging and trace extensions), so the process, its threads and its memory are the same
# for all of them:
#
#   minimal: info and warning lines off (/v2/logging: no access log), /metrics never
#            scraped, tracing off (/v2/trace/setting trace_level OFF);
#   logs:    the JSON access log on (one line per request, to a file) and /metrics
#            scraped every second during the run, tracing off (splits full's cost in two);
#   full:    as logs, and every request traced (trace_rate 1) and exported as OTLP/HTTP to
#            a local sink (bench/obs/sink.py, which runs on the same cores).
#
# Prints one row per run, then the medians and the ratios to minimal (also written to
# bench/obs/results.md). Compare the configurations with each other, not with other
# machines.
#
# Usage: make bench-obs   (or: bash bench/obs/run.sh [seconds per run] [rounds] [connections])
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-5}
ROUNDS=${2:-5}
CONNS=${3:-8}
THREADS=$((CONNS < 2 ? 1 : 2))
BIN=${INFERD_BIN:-build/inferd}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
port=18720
port_sink=18722
url=http://127.0.0.1:$port

# The digits example, one [1,64] request.
/usr/bin/python3 -c 'import json; print(json.dumps({"inputs": [{"name": "pixels", "datatype": "FP32",
  "shape": [1, 64], "data": [float(i % 17) for i in range(64)]}]}))' >"$WORK/digits.json"

# Tracing is OPTIONAL: a build without --trace-endpoint measures full as logs (the table
# says so).
TRACE_ARGS=()
if "$BIN" --help 2>&1 | grep -q -- '--trace-endpoint'; then
  /usr/bin/python3 bench/obs/sink.py $port_sink >"$WORK/sink.log" 2>&1 &
  PIDS+=($!)
  TRACE_ARGS=(--trace-endpoint "http://127.0.0.1:$port_sink/v1/traces" --trace-rate 1)
  tracing="rate 1 to a local OTLP sink"
else
  tracing="not available in this build (full = logs)"
fi
"$BIN" --model-repository examples/models --http-port $port --http-address 127.0.0.1 \
       --metrics-port 0 --grpc-port 0 --log-format json "${TRACE_ARGS[@]}" 2>"$WORK/server.log" &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "$url/v2/health/ready" >/dev/null && break; sleep 0.1; done
curl -sf "$url/v2/health/ready" >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }

configure() { # mode
  local info=true trace=OFF
  [ "$1" = minimal ] && info=false
  [ "$1" = full ] && trace=TIMESTAMPS
  curl -sf -X POST "$url/v2/logging" \
       -d "{\"log_info\":$info,\"log_warning\":$info,\"log_verbose_level\":0}" >/dev/null
  if [ ${#TRACE_ARGS[@]} -gt 0 ]; then
    curl -sf -X POST "$url/v2/trace/setting" \
         -d "{\"trace_level\":[\"$trace\"],\"trace_rate\":\"1\"}" >/dev/null
  fi
}

ms() { case "$1" in *us) echo "$1" | sed 's/us//' | awk '{printf "%.3f", $1/1000}';;
                    *ms) echo "$1" | sed 's/ms//';; *s) echo "$1" | sed 's/s//' | awk '{printf "%.1f", $1*1000}';; esac; }

run() { # seconds -> "rps p50 p99 bad"
  local res
  res=$(BODY="$WORK/digits.json" wrk -t"$THREADS" -c"$CONNS" -d"$1s" --latency \
        -s bench/sched/post.lua "$url/v2/models/digits/infer")
  echo "$(echo "$res" | awk '/Requests\/sec/ {print $2}') $(ms "$(echo "$res" | awk '$1=="50%" {print $2}')")" \
       "$(ms "$(echo "$res" | awk '$1=="99%" {print $2}')") $(echo "$res" | awk '/^non200/ {print $2}')"
}

# Warm-up, not counted.
for mode in minimal logs full; do configure $mode; run 1 >/dev/null; done

out=bench/obs/results.md
{
  echo "digits, $CONNS connections, ${SECS} s per run, $ROUNDS rounds rotating the order; tracing: $tracing"
  echo
  echo "| round | observability | requests/s | p50 ms | p99 ms |"
  echo "| --- | --- | --- | --- | --- |"
} >"$out"
: >"$WORK/minimal.rows"
: >"$WORK/logs.rows"
: >"$WORK/full.rows"
lines0=0
for r in $(seq "$ROUNDS"); do
  # Rotate which goes first, so drift in the machine's load hits all alike.
  case $((r % 3)) in
    1) order="minimal logs full";; 2) order="full minimal logs";; *) order="logs full minimal";;
  esac
  for mode in $order; do
    configure $mode
    scraper=""
    if [ "$mode" != minimal ]; then
      ( while :; do curl -sf "$url/metrics" >/dev/null || true; sleep 1; done ) &
      scraper=$!
    fi
    read -r rps p50 p99 bad <<<"$(run "$SECS")"
    [ -n "$scraper" ] && { kill "$scraper"; wait "$scraper" 2>/dev/null || true; }
    echo "$rps $p50 $p99" >>"$WORK/$mode.rows"
    echo "| $r | $mode | $rps | $p50 | $p99 |$( [ "${bad:-0}" != 0 ] && echo " $bad non-200" )" | tee -a "$out"
  done
done

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
col() { awk -v c="$2" '{print $c}' "$1" | median; }
{
  for mode in minimal logs full; do
    echo "| median | $mode | $(col "$WORK/$mode.rows" 1) | $(col "$WORK/$mode.rows" 2) | $(col "$WORK/$mode.rows" 3) |"
  done
  for mode in logs full; do
    awk -v a="$(col "$WORK/$mode.rows" 1)" -v b="$(col "$WORK/minimal.rows" 1)" \
        -v c="$(col "$WORK/$mode.rows" 2)" -v d="$(col "$WORK/minimal.rows" 2)" \
        -v e="$(col "$WORK/$mode.rows" 3)" -v f="$(col "$WORK/minimal.rows" 3)" -v m="$mode" \
        'BEGIN {printf "| ratio | %s / minimal | %.3f | %.3f | %.3f |\n", m, a/b, c/d, e/f}'
  done
} | tee -a "$out"
lines=$(grep -c '"msg":"request"' "$WORK/server.log" || true)
spans=$(curl -sf "$url/metrics" | awk '/^inferd_trace_spans_exported_total/ {e=$2} /^inferd_trace_spans_dropped_total/ {d=$2} END {if (e != "") printf "%s exported, %s dropped (the sink is slower than the server)", e, d}')
{
  echo
  echo "access-log lines written: $lines${spans:+; spans: $spans}"
} | tee -a "$out"
echo "written to $out"
