#!/usr/bin/env python3
"""Writes the tr31_unwrap seed corpus from the published vectors (vectors/data/tr31.json):
every key block, and every header alone. Run from the repository root:
    python3 fuzz/seeds/make_seeds.py
"""
import json
import pathlib

root = pathlib.Path(__file__).resolve().parents[2]
out = root / "fuzz" / "seeds" / "tr31_unwrap"
out.mkdir(parents=True, exist_ok=True)
for entry in json.loads((root / "vectors" / "data" / "tr31.json").read_text()):
    block = entry["expected"].get("key_block")
    if block is None:
        continue
    (out / f"{entry['id']}.block").write_text(block)
    (out / f"{entry['id']}.header").write_text(entry["inputs"]["header"])
