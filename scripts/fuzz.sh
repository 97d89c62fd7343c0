#!/usr/bin/env bash
# `make fuzz` and `make fuzz-smoke`: every cargo-fuzz target in fuzz/ for
# SECONDS seconds each (first argument, default 180), then one line per
# target with libFuzzer's run count and exec/s.
#
# Targets are built without a sanitizer (`-s none`): AddressSanitizer needs
# the nightly-only -Zsanitizer flag, while the coverage instrumentation
# libFuzzer needs (sancov passes, trace-compares) and the debug assertions
# and overflow checks cargo fuzz turns on are all stable rustc options. So
# this runs on the stable toolchain; famfs-core's few `unsafe` blocks are
# small and bounds-checked.
#
# New inputs go to fuzz/target/corpus/TARGET (kept between runs, not
# committed); the committed seeds in fuzz/corpus/TARGET are only read. A
# crash or a broken invariant stops the run: its input is saved under
# fuzz/artifacts/TARGET and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-180}
targets=(superblock log_header log_entry replay fmap_resolve fmap_msg path)
cargo=${CARGO:-cargo}

if ! "$cargo" fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: installing it (cargo install cargo-fuzz --locked)"
  "$cargo" install cargo-fuzz --locked
fi

cd fuzz
"$cargo" fuzz build -s none
summary=()
for t in "${targets[@]}"; do
  mkdir -p "target/corpus/$t"
  args=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1)
  # Whole logs: room for ~120 entries.
  [ "$t" = replay ] && args+=(-max_len=65536)
  log=target/fuzz-$t.log
  echo "== fuzz $t for ${seconds}s"
  if ! "$cargo" fuzz run -s none "$t" "target/corpus/$t" "corpus/$t" -- "${args[@]}" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz target $t failed; the input is under fuzz/artifacts/$t (full log: fuzz/$log)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  summary+=("$(printf '%-14s %12s runs %9s exec/s' "$t" "$runs" "$rate")")
done
printf '%s\n' "${summary[@]}"
