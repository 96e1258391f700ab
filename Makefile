# Thin wrapper over CMake. `make run` and `make test` are the quick start: both install
# missing Debian packages first (scripts/install-deps.sh), so a fresh machine needs nothing else.

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
PYTHON     := /usr/bin/python3
PORT       ?= 8000
# Debian's OpenBLAS 0.3.21 does not know every CPU it runs on; pin a kernel it knows.
export OPENBLAS_CORETYPE ?= Haswell

.PHONY: all deps build run test lint unit conformance integration asan tsan fuzz fuzz-build fuzz-long bench-deps bench-sched bench-http bench-reload bench-gateway bench-obs bench-engine bench-gemm clean format

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/inferd --model-repository examples/models --http-port $(PORT)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# ONNX backend test data through the engine; fails if a case in passing.txt fails.
# scripts/conformance-ratchet adds newly passing cases to the list.
conformance: build
	./$(BUILD)/inferd-onnx-test --ratchet tests/conformance/passing.txt

integration: build
	INFERD_BIN=$(CURDIR)/$(BUILD)/inferd $(PYTHON) -m pytest -q tests/integration

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DINFERD_SANITIZE="address;undefined" -DINFERD_TEST_FAULTS=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)
	INFERD_BIN=$(CURDIR)/$(ASAN_BUILD)/inferd INFERD_SANITIZED=1 $(PYTHON) -m pytest -q tests/integration

lint:
	@bash scripts/lint

# ThreadSanitizer over the threaded parts (the scheduler's and the intra-op pool's unit tests).
tsan: deps
	@CC=clang cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DINFERD_SANITIZE=thread >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target test_sched test_pool
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R 'test_sched|^test_pool$$'

# libFuzzer harnesses (fuzz/) under ASan+UBSan: ~20 s per target in make test, longer in
# fuzz-long (FUZZ_SECS per target). Fails on any crash, leak, UBSan report or oversized allocation.
fuzz-build: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINFERD_FUZZ=ON \
		-DINFERD_BUILD_TESTS=OFF -DINFERD_SANITIZE="address;undefined;fuzzer-no-link" >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target inferd_fuzzers

fuzz: fuzz-build
	bash fuzz/run.sh $(FUZZ_BUILD) 20

FUZZ_SECS ?= 600
fuzz-long: fuzz-build
	bash fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECS)

test: lint unit conformance integration asan tsan fuzz

# Benchmarks: not part of `make test` (this machine is shared and noisy).
bench-deps:
	@bash scripts/install-deps.sh --bench

bench-sched: build bench-deps
	bash bench/sched/run.sh

bench-http: build bench-deps
	bash bench/http/run.sh

bench-reload: build bench-deps
	bash bench/reload/run.sh

bench-gateway: build bench-deps
	bash bench/gateway/run.sh

# Observability overhead: digits with logging/metrics/tracing minimal vs full, alternating.
bench-obs: build bench-deps
	bash bench/obs/run.sh

# GEMM kernel vs OpenBLAS (no extra packages): 1 engine thread, then 2.
bench-gemm: build
	./$(BUILD)/inferd-gemm-bench --threads 1
	./$(BUILD)/inferd-gemm-bench --threads 2

# The embedded engine against ONNX Runtime (onnxruntime-node) in-process; `make bench-engine
# ARGS=quick` for fewer runs per point.
bench-engine: build bench-deps
	BUILD=$(BUILD) bash bench/engine/run.sh $(ARGS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
