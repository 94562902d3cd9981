#!/usr/bin/env bash
# payhsm against psec and OpenSSL, interleaved in one run, as the table of docs/performance.md:
# payhsm's criterion benches, psec 1.3.0, `openssl speed` and the CLI (a process per call),
# ROUNDS times in turn (default 3); medians, and each figure as a ratio to its peer.
#
#   benches/compare.sh [ROUNDS]
#
# psec comes from PAYHSM_PYTHON (a Python with psec==1.3.0), or a venv made in target/.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
python="${PAYHSM_PYTHON:-}"
if [ -z "$python" ]; then
    venv="${CARGO_TARGET_DIR:-target}/compare-venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q psec==1.3.0
    python="$venv/bin/python"
fi
command -v openssl >/dev/null || { echo "compare.sh needs openssl" >&2; exit 1; }
cargo build -q --release -p payhsm
cargo bench -q -p payhsm-benches --no-run
exec python3 benches/compare.py "$python" "${CARGO_TARGET_DIR:-target}/release/payhsm" "$rounds"
