#!/usr/bin/env bash
# Runs every libFuzzer harness for SECS seconds each, one after another (make fuzz: short;
# make fuzz-long: long). Usage: fuzz/run.sh BUILD_DIR SECS [TARGET...]
#
# The committed seeds in fuzz/corpus/<target>/ are read only; new inputs go to a working
# corpus in BUILD_DIR/fuzz/corpus/<target>/, which persists between runs. The ONNX
# harnesses also start from the models and tensors of Debian's libonnx-testdata.
# Fails on the first crash, leak, UBSan report, timeout, or allocation over the limits;
# the input that did it is left in BUILD_DIR/fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1
secs=$2
shift 2
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(json v2_request config config_json onnx_model onnx_tensor)

testdata=/usr/share/libonnx-testdata/data/node
out=$build/fuzz
mkdir -p "$out/artifacts"

# Seeds from the ONNX test data, copied once: every node test's model, and its first input.
if [ ! -f "$out/seeds/.done" ] && [ -d "$testdata" ]; then
    mkdir -p "$out/seeds/onnx_model" "$out/seeds/onnx_tensor"
    for d in "$testdata"/*/; do
        n=$(basename "$d")
        [ -f "$d/model.onnx" ] && cp "$d/model.onnx" "$out/seeds/onnx_model/$n.onnx"
        [ -f "$d/test_data_set_0/input_0.pb" ] &&
            cp "$d/test_data_set_0/input_0.pb" "$out/seeds/onnx_tensor/$n.pb"
    done
    touch "$out/seeds/.done"
fi

# Leaks are findings; UBSan stops at the first report (the build also has
# -fno-sanitize-recover). A model or request that makes the code ask for more than
# -malloc_limit_mb at once is a finding too: real inputs of this size never need it.
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}

for t in "${targets[@]}"; do
    bin=$out/fuzz_$t
    work=$out/corpus/$t
    mkdir -p "$work"
    dirs=("$work" "fuzz/corpus/$t")
    [ -d "$out/seeds/$t" ] && dirs+=("$out/seeds/$t")
    max_len=16384
    [ "$t" = onnx_model ] && max_len=65536
    echo "fuzz: $t for ${secs}s"
    if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -max_len=$max_len -print_final_stats=0 -artifact_prefix="$out/artifacts/$t-" \
        -close_fd_mask=1 "${dirs[@]}" >"$out/$t.log" 2>&1; then
        tail -n 60 "$out/$t.log"
        echo "fuzz: $t FAILED (log: $out/$t.log; input: $out/artifacts/$t-*)"
        exit 1
    fi
    grep -E "^Done [0-9]+ runs" "$out/$t.log" || true
done
echo "fuzz: all targets passed"
