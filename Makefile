# Thin wrapper over CMake. `make run` and `make test` are the quick start: both install
# missing Debian packages first (scripts/install-deps.sh), so a fresh machine needs nothing else.

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc)
PYTHON     := /usr/bin/python3
PORT       ?= 8000
# Debian's OpenBLAS 0.3.21 does not know every CPU it runs on; pin a kernel it knows.
export OPENBLAS_CORETYPE ?= Haswell

.PHONY: all deps build run test lint unit conformance integration asan tsan bench-deps bench-sched bench-http bench-reload bench-gateway clean format

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
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DINFERD_SANITIZE="address;undefined" >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)
	INFERD_BIN=$(CURDIR)/$(ASAN_BUILD)/inferd INFERD_SANITIZED=1 $(PYTHON) -m pytest -q tests/integration

lint:
	@bash scripts/lint

# ThreadSanitizer over the threaded parts (the scheduler's unit tests).
tsan: deps
	@CC=clang cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DINFERD_SANITIZE=thread >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target test_sched
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R test_sched

test: lint unit conformance integration asan tsan

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

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
