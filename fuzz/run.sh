#!/usr/bin/env bash
# Builds every fuzz target with libFuzzer's coverage instrumentation (SanitizerCoverage, on the
# stable toolchain: no cargo-fuzz, no nightly) and runs each for a bounded time on its seed
# corpus in seeds/<target>. New inputs go to a scratch directory; a crash, leak or timeout
# fails the run and leaves its input in target/fuzz/artifacts.
#
#     fuzz/run.sh [seconds per target, default 5] [target ...]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-5}
shift || true
root="${CARGO_TARGET_DIR:-$PWD/../target}"
export CARGO_TARGET_DIR="$root/fuzz"
# An explicit --target keeps the instrumentation out of build scripts.
host=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --quiet --release --target "$host" --bins
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n '/^\[\[bin\]\]/{n;s/^name = "\(.*\)"/\1/p}' Cargo.toml)
fi
artifacts="$CARGO_TARGET_DIR/artifacts"
mkdir -p "$artifacts"
for target in "${targets[@]}"; do
  [ -d "seeds/$target" ] || { echo "fuzz/seeds/$target is missing" >&2; exit 1; }
  scratch=$(mktemp -d)
  echo "fuzz $target: ${seconds}s on $(ls "seeds/$target" | wc -l) seeds"
  "$CARGO_TARGET_DIR/$host/release/$target" "$scratch" "seeds/$target" \
    -max_total_time="$seconds" -max_len=16384 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$artifacts/$target-" -print_final_stats=1 2>"$scratch.log" || {
      tail -40 "$scratch.log" >&2
      echo "fuzz $target failed; the input is in $artifacts" >&2
      exit 1
    }
  grep -E '^stat::(number_of_executed_units|new_units_added)' "$scratch.log" | tr '\n' ' '
  echo
  rm -rf "$scratch" "$scratch.log"
done
