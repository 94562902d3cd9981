#!/usr/bin/env python3
"""TR-31 interop oracle: psec (an independent Python implementation) wraps or unwraps.

Reads a JSON array of cases on stdin and writes a JSON array of results on stdout.
  wrap:   [{"kbpk": HEX, "header": STR, "key": HEX}]  -> [{"key_block": STR}]
  unwrap: [{"kbpk": HEX, "key_block": STR}]           -> [{"header": STR, "key": HEX}]
A case psec refuses yields {"error": STR}.
"""
import json
import sys
import warnings

# psec drives TDES through cryptography's deprecated path; the warnings are noise here.
warnings.filterwarnings("ignore")

import psec.tr31  # noqa: E402


def wrap(case):
    return {"key_block": psec.tr31.wrap(bytes.fromhex(case["kbpk"]), case["header"], bytes.fromhex(case["key"]))}


def unwrap(case):
    header, key = psec.tr31.unwrap(bytes.fromhex(case["kbpk"]), case["key_block"])
    return {"header": str(header), "key": key.hex().upper()}


def main():
    op = {"wrap": wrap, "unwrap": unwrap}[sys.argv[1]]
    results = []
    for case in json.load(sys.stdin):
        try:
            results.append(op(case))
        except Exception as e:  # report, don't hide: the Rust side asserts on it
            results.append({"error": f"{type(e).__name__}: {e}"})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
