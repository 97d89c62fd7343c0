# famfs in user space: build, demo and test entry points.
# `make demo` and `make test` are the two set-up commands the README names.

CARGO ?= cargo
DEMO_DIR := target/demo

.PHONY: all build release demo bench test vm-test stress fuzz fuzz-smoke lint fmt clean

all: build

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --workspace --release

# The main job on a simulated region, from a fresh clone.
demo: release
	bash scripts/demo.sh $(DEMO_DIR)

# The performance table (docs/performance.md): famfs through the
# shim against memcpy and tmpfs, side by side, on a region under target/bench.
# BENCH_ARGS=--quick for a smoke run, --keep to keep the region.
bench: release
	target/release/famfs-bench $(BENCH_ARGS)

# Everything CI runs.
test:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) build --workspace
	$(CARGO) test --workspace
	$(MAKE) fuzz-smoke
	$(MAKE) vm-test

# The real-devdax checks: QEMU guests with NVDIMMs as /dev/dax devices
# (tests/vm/run.sh). VM_MODES=single or hosts runs one of the two.
VM_MODES ?= single hosts

vm-test:
	bash tests/vm/run.sh $(VM_MODES)

# The cargo-fuzz targets in fuzz/ (own workspace, stable toolchain; installs
# cargo-fuzz if missing): FUZZ_SMOKE_SECONDS each in `make test`,
# FUZZ_SECONDS each in `make fuzz`. See scripts/fuzz.sh.
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_SECONDS ?= 180

fuzz-smoke:
	CARGO=$(CARGO) bash scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS)

fuzz:
	CARGO=$(CARGO) bash scripts/fuzz.sh $(FUZZ_SECONDS)

# Longer runs of the reliability tests (README, "Longer runs"): the ignored
# stress variants of the crash, concurrent-writer and isolation tests, on a
# release build. FAMFS_STRESS_TRIALS sets the crash trials (default 3000).
stress: release
	$(CARGO) test --release -p famfs-tests --test crash --test concurrent --test isolation -- --ignored --nocapture

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
