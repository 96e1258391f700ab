#!/usr/bin/env bash
# Engine benchmark: the embedded ONNX engine against ONNX Runtime (CPU, onnxruntime-node)
# on the same .onnx files, the same inputs and the same thread counts, in the same run.
# For each model (bench/engine/make_models.py), batch 1, 8 and 32, and 1 and 2 threads,
# it runs build/inferd-engine-bench and then bench/engine/ort_bench.js (each a fresh
# process timing in-process runs), ROUNDS times alternately, checks every time that both
# computed the same outputs (a point whose outputs differ fails the run, so a wrong answer
# is never timed), and prints a Markdown table of median latencies (the median over the
# rounds of each round's median), the ratio inferd/ORT and the memory each needed (also
# written to bench/engine/results.md).
#
# Usage: make bench-engine    (or: bash bench/engine/run.sh [quick] [MODEL...])
#   quick    one round of fewer runs (a minute or two in all instead of about three)
#   MODEL    only these models (digits mlp784 lenet resnet transformer)
# Environment: BUILD (build dir, default build), ROUNDS (default 5, quick 1): five, because
# this shared VM has slower phases lasting seconds, and a median of three let one decide.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}

WARMUP=5 RUNS=200 BUDGET_MS=500 ROUNDS=${ROUNDS:-5}
if [ "${1:-}" = "quick" ]; then
    WARMUP=2 RUNS=30 BUDGET_MS=250 ROUNDS=${ROUNDS_QUICK:-1}
    shift
fi
ONLY=("$@")
BUILD=${BUILD:-build}
BIN=${INFERD_ENGINE_BENCH:-$BUILD/inferd-engine-bench}
MODELS=$BUILD/bench-engine-models
OUT=bench/engine/results.md

[ -x "$BIN" ] || { echo "run.sh: $BIN is missing: run make first" >&2; exit 1; }
[ -d bench/engine/node_modules/onnxruntime-node ] ||
    { echo "run.sh: onnxruntime-node is missing: run make bench-deps" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
/usr/bin/python3 bench/engine/make_models.py "$MODELS"

field() { echo "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
mb() { awk -v b="$1" 'BEGIN { if (b == "" || b < 0) print "n/a"; else printf "%.1f", b / 1048576 }'; }
median() { tr ' ' '\n' | grep . | sort -g |
           awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

header="| model | batch | threads | inferd median ms | ORT median ms | ratio | inferd peak MB | ORT peak MB | inferd arena MB | max abs diff |"
{ echo "$header"; echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"; } | tee "$OUT"
failed=0
while read -r model dims; do
    if [ ${#ONLY[@]} -gt 0 ] && [[ " ${ONLY[*]} " != *" $model "* ]]; then
        continue
    fi
    shape=$(echo "$dims" | tr ' ' ',')
    for batch in 1 8 32; do
        for threads in 1 2; do
            common=(--model "$MODELS/$model.onnx" --input "$MODELS/$model.in.bin" --shape "$shape"
                    --batch "$batch" --threads "$threads" --warmup "$WARMUP")
            ia_all="" ib_all="" worst=0 status=0 a="" b="" verdict=""
            for _ in $(seq "$ROUNDS"); do
                a=$("$BIN" "${common[@]}" --runs "$RUNS" --budget-ms "$BUDGET_MS" \
                        --output "$WORK/inferd.bin" 2>"$WORK/err") || status=$?
                if [ $status -ne 0 ]; then
                    echo "run.sh: $model batch $batch threads $threads: inferd-engine-bench" \
                         "failed (exit $status$( [ $status -gt 128 ] && echo ", signal $((status - 128))" ))" \
                         "$(tail -c 300 "$WORK/err")" >&2
                    a="threads=$threads" worst="-" verdict="crashed"
                    [ $status -gt 128 ] || verdict="failed"
                    break
                fi
                # ONNX Runtime gets as many timed runs as inferd managed in its budget.
                b=$(node bench/engine/ort_bench.js "${common[@]}" --runs "$(field runs "$a")" \
                        --output "$WORK/ort.bin")
                if ! diff=$(/usr/bin/python3 bench/engine/compare.py "$WORK/inferd.bin" "$WORK/ort.bin" 2>&1); then
                    echo "run.sh: $model batch $batch threads $threads: inferd and ONNX Runtime" \
                         "disagree: $diff" >&2
                    status=1 worst="-" verdict="wrong output"
                    break
                fi
                worst=$(awk -v x="$worst" -v y="$diff" 'BEGIN { print (y + 0 > x + 0) ? y : x }')
                ia_all="$ia_all $(field median_ms "$a")"
                ib_all="$ib_all $(field median_ms "$b")"
            done
            ia="$verdict" ib="-" ratio="-"
            if [ $status -eq 0 ]; then
                ia=$(echo "$ia_all" | median) ib=$(echo "$ib_all" | median)
                ratio=$(awk -v x="$ia" -v y="$ib" 'BEGIN { printf "%.2f", x / y }')
            else
                failed=$((failed + 1))
            fi
            used=$(field threads "$a")
            tcol=$threads
            [ "$used" = "$threads" ] || tcol="$threads (inferd $used)"
            # Memory: from the last round (it barely moves between rounds).
            echo "| $model | $batch | $tcol | $ia | $ib | $ratio | $(mb "$(field rss_growth_bytes "$a")") |" \
                 "$(mb "$(field rss_growth_bytes "$b")") | $(mb "$(field arena_peak_bytes "$a")") | $worst |" |
                tee -a "$OUT"
        done
    done
done < "$MODELS/models.txt"
echo "written to $OUT"
if [ $failed -ne 0 ]; then
    echo "run.sh: $failed points failed or computed wrong outputs (see above)" >&2
    exit 1
fi
