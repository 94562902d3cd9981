#!/usr/bin/env python3
"""Print every criterion result of the last `cargo bench` as a ratio to the baseline.

The baseline (baseline/aes128_block) is measured in the same run, so the ratios compare like
with like on whatever machine ran them. Usage: python3 benches/ratios.py [target-dir]
"""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target") / "criterion"
results = {}
for est in sorted(root.glob("**/new/estimates.json")):
    bench = json.loads((est.parent / "benchmark.json").read_text())
    results[bench["full_id"]] = json.loads(est.read_text())["mean"]["point_estimate"]

base = results.get("baseline/aes128_block")
if base is None:
    sys.exit("no baseline/aes128_block result: run `cargo bench -p payhsm-benches` first")
print(f"{'benchmark':<44} {'mean':>12} {'x baseline':>11}")
for name, ns in sorted(results.items()):
    print(f"{name:<44} {ns:>10.1f}ns {ns / base:>11.2f}")
