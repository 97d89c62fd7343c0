# famfs in user space: build, demo and test entry points.
# `make demo` and `make test` are the two set-up commands the README names.

CARGO ?= cargo
DEMO_DIR := target/demo

.PHONY: all deps build release install demo bench bench-smoke test vm-test stress fuzz fuzz-smoke lint fmt clean

all: build

# What make test needs besides the Rust toolchain (Debian packages and
# numpy; as root). .ci/run calls the same script.
deps:
	bash scripts/deps.sh

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --workspace --release

# Installs famfs, libfamfs.so, the manual pages and the shell completions
# under PREFIX (default $(HOME)/.local; PREFIX=/usr/local as root).
PREFIX ?= $(HOME)/.local

install: release
	install -d $(PREFIX)/bin $(PREFIX)/lib $(PREFIX)/share/man/man1 \
		$(PREFIX)/share/bash-completion/completions $(PREFIX)/share/zsh/site-functions \
		$(PREFIX)/share/fish/vendor_completions.d
	install -m 0755 target/release/famfs $(PREFIX)/bin/famfs
	install -m 0755 target/release/libfamfs.so $(PREFIX)/lib/libfamfs.so
	target/release/famfs man $(PREFIX)/share/man/man1 >/dev/null
	target/release/famfs completions bash > $(PREFIX)/share/bash-completion/completions/famfs
	target/release/famfs completions zsh > $(PREFIX)/share/zsh/site-functions/_famfs
	target/release/famfs completions fish > $(PREFIX)/share/fish/vendor_completions.d/famfs.fish
	@echo "installed under $(PREFIX): add $(PREFIX)/bin to PATH; the shim is $(PREFIX)/lib/libfamfs.so"

# The main job on a simulated region, from a fresh clone.
demo: release
	bash scripts/demo.sh $(DEMO_DIR)

# The performance table (docs/performance.md): famfs through the
# shim against memcpy and tmpfs, side by side, on a region under target/bench.
# BENCH_ARGS=--quick for a smoke run, --keep to keep the region.
bench: release
	target/release/famfs-bench $(BENCH_ARGS)

# The bench harness once, quickly, on the debug build, so it cannot rot
# (make test runs it; it asserts no time, only that every row runs).
bench-smoke:
	$(CARGO) build --workspace
	target/debug/famfs-bench --quick --out target/bench-smoke.md

# Everything CI runs.
test:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) build --workspace
	$(CARGO) test --workspace
	$(MAKE) fuzz-smoke
	$(MAKE) bench-smoke
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
