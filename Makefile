# famfs in user space: build, demo and test entry points.
# `make demo` and `make test` are the two set-up commands the README names.

CARGO ?= cargo
DEMO_DIR := target/demo

.PHONY: all build release demo test lint fmt clean

all: build

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --workspace --release

# The main job on a simulated region, from a fresh clone.
demo: release
	bash scripts/demo.sh $(DEMO_DIR)

# Everything CI runs.
test:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) build --workspace
	$(CARGO) test --workspace

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
