#!/usr/bin/env python3
"""payhsm against its peers, interleaved in one run: see compare.sh.

Each round runs payhsm's criterion benches, psec, `openssl speed` and the CLI, one after the
other; the table shows the median of the rounds and each figure as a ratio to the peer it is
compared with in the same run. Usage: compare.py PYTHON_WITH_PSEC PAYHSM_BINARY ROUNDS (the rounds' figures go to stderr,
one JSON line each), or compare.py --report FILE to print the table of such lines again.
"""
import json
import os
import pathlib
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import timeit

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))

# (criterion bench target, benchmark id) for each payhsm figure.
CRITERION = {
    "cvv": ("card", "card/cvv_generate"),
    "pin_translate": ("card", "card/pin_translate_iso0"),
    "tr31_d": ("tr31", "tr31/unwrap_D_aes256"),
    "tr31_b": ("tr31", "tr31/unwrap_B_tdes2"),
    "tdes_block": ("primitives", "block/tdes3_block"),
    "aes_block": ("primitives", "baseline/aes128_block"),
    "aes_cbc_1k": ("primitives", "block/aes128_cbc_1KiB"),
    "aes_cmac_1k": ("card", "mac/aes_cmac_1KiB"),
    "tr34_import": ("tr34", "tr34/import/rsa2048"),
    "tr34_decrypt": ("tr34", "tr34/decrypt_oaep/rsa2048"),
    "cvv_algorithm": ("hsm", "hsm/algorithm/cvv2"),
    "cvv_by_key_id": ("hsm", "hsm/sqlite/cvv2_dispatch"),
    "cvv_by_key_id_memory": ("hsm", "hsm/memory/cvv2_dispatch"),
}

PSEC = r"""
import binascii, sys, timeit
from psec import cvv, des, pinblock, tr31
h = binascii.unhexlify
cvk = h("0123456789ABCDEFFEDCBA9876543210")
pek_in, pek_out = cvk, h("89ABCDEF01234567FEDCBA9876543210")
pan = "4123456789012345"
block = des.encrypt_tdes_ecb(pek_in, pinblock.encode_pinblock_iso_0("1234", pan))
def translate():
    pin = pinblock.decode_pinblock_iso_0(des.decrypt_tdes_ecb(pek_in, block), pan)
    return des.encrypt_tdes_ecb(pek_out, pinblock.encode_pinblock_iso_0(pin, pan))
key = h("3F419E1CB7079442AA37474C2EFBF8B8")
kbpk_d = h("88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6")
kbpk_b = h("DD7515F2BFC17F85CE48F3CA25CB21F6")
d = tr31.wrap(kbpk_d, "D0000P0AE00E0000", key)
b = tr31.wrap(kbpk_b, "B0000P0TE00E0000", key)
cases = {
    "cvv": lambda: cvv.generate_cvv(cvk, pan, "8701", "101"),
    "pin_translate": translate,
    "tr31_d": lambda: tr31.unwrap(kbpk_d, d),
    "tr31_b": lambda: tr31.unwrap(kbpk_b, b),
}
for name, f in cases.items():
    n, t = timeit.Timer(f).autorange()
    best = min(timeit.Timer(f).repeat(3, n)) / n
    print(name, best * 1e9)
"""


def criterion_round():
    for target in sorted({t for t, _ in CRITERION.values()}):
        ids = [i for t, i in CRITERION.values() if t == target]
        pattern = "^(" + "|".join(re.escape(i) for i in ids) + ")$"
        subprocess.run(
            ["cargo", "bench", "-q", "-p", "payhsm-benches", "--bench", target, "--",
             "--warm-up-time", "1", "--measurement-time", "2", pattern],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    medians = {}
    for est in (TARGET / "criterion").glob("**/new/estimates.json"):
        full_id = json.loads((est.parent / "benchmark.json").read_text())["full_id"]
        medians[full_id] = json.loads(est.read_text())["median"]["point_estimate"]
    return {name: medians[bench_id] for name, (_, bench_id) in CRITERION.items()}


def psec_round(python):
    text = subprocess.run([python, "-c", PSEC], check=True, capture_output=True, text=True).stdout
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()}


def openssl_round():
    def speed(args, column):
        text = subprocess.run(["openssl", "speed", "-seconds", "2", *args],
                              check=True, capture_output=True, text=True).stdout
        return text.strip().splitlines()[-1].split()[column]
    # "NNNN.NNk" bytes per second at one block per call.
    tdes = float(speed(["-evp", "des-ede3", "-bytes", "8"], 1).rstrip("k")) * 1000
    aes = float(speed(["-evp", "aes-128-ecb", "-bytes", "16"], 1).rstrip("k")) * 1000
    rsa = float(speed(["rsa2048"], 5))  # sign/s
    return {"tdes_block": 8e9 / tdes, "aes_block": 16e9 / aes, "rsa2048_private": 1e9 / rsa}


def cli_round(payhsm, store, arn, runs=60):
    cvv = [payhsm, "generate-card-validation-data", "--store", store, "--key-identifier", arn,
           "--primary-account-number", "4111111111111111", "--generation-attributes",
           '{"CardVerificationValue2":{"CardExpiryDate":"1230"}}']
    version = [payhsm, "--version"]
    times = {"cli_cvv": [], "cli_version": []}
    for _ in range(runs):  # interleaved, process per call
        for name, cmd in (("cli_cvv", cvv), ("cli_version", version)):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[name].append((time.perf_counter() - t) * 1e9)
    return {k: statistics.median(v) for k, v in times.items()}


def cli_store(payhsm, directory):
    run = lambda *a: subprocess.run([payhsm, *a, "--store", directory], check=True,
                                    capture_output=True, text=True).stdout
    run("init", "--dev-master-key")
    return run("create-key", "--query", "Key.KeyArn", "--output", "text", "--cli-input-json",
               json.dumps({"KeyAttributes": {"KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
                                             "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY",
                                             "KeyModesOfUse": {"Generate": True, "Verify": True}},
                           "Exportable": False})).strip()


def cpu_model():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def fmt(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def main():
    python, payhsm, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with tempfile.TemporaryDirectory() as d:
        arn = cli_store(payhsm, d)
        samples = []
        for r in range(rounds):
            print(f"round {r + 1} of {rounds} …", file=sys.stderr)
            s = {}
            s.update({f"payhsm_{k}": v for k, v in criterion_round().items()})
            s.update({f"psec_{k}": v for k, v in psec_round(python).items()})
            s.update({f"openssl_{k}": v for k, v in openssl_round().items()})
            s.update(cli_round(payhsm, d, arn))
            samples.append(s)
            print(json.dumps(s), file=sys.stderr)
    report(samples)


def report(samples):
    """Prints the table of the medians of `samples` (one dict per round)."""
    m = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
    print(f"CPU: {cpu_model()}; {os.cpu_count()} cores; medians of {len(samples)} interleaved "
          "rounds\n")
    print("| measure | payhsm | peer, same run | ratio |")
    print("|---|---|---|---|")
    for label, ours, peer, name in [
        ("CVV generate (TDES 2-key)", "payhsm_cvv", "psec_cvv", "psec"),
        ("ISO-0 PIN translate", "payhsm_pin_translate", "psec_pin_translate", "psec"),
        ("TR-31 D unwrap (AES-256)", "payhsm_tr31_d", "psec_tr31_d", "psec"),
        ("TR-31 B unwrap (TDES)", "payhsm_tr31_b", "psec_tr31_b", "psec"),
    ]:
        print(f"| {label} | {fmt(m[ours])} | {name} {fmt(m[peer])} | {m[peer] / m[ours]:.1f}× faster |")
    for label, ours, peer in [
        ("TDES-ECB block (3-key)", "payhsm_tdes_block", "openssl_tdes_block"),
        ("AES-128-ECB block through a handle", "payhsm_aes_block", "openssl_aes_block"),
    ]:
        print(f"| {label} | {fmt(m[ours])} | OpenSSL {fmt(m[peer])} | {m[ours] / m[peer]:.2f}× OpenSSL's time |")
    print(f"| TR-34 import, RSA-2048 | {1e9 / m['payhsm_tr34_import']:,.0f}/s | OpenSSL "
          f"{1e9 / m['openssl_rsa2048_private']:,.0f} private ops/s | "
          f"{m['openssl_rsa2048_private'] / m['payhsm_tr34_import']:.2f}× |")
    print(f"| TR-34 import against its own RSA-2048 OAEP decryption | "
          f"{fmt(m['payhsm_tr34_import'])} | {fmt(m['payhsm_tr34_decrypt'])} | "
          f"{m['payhsm_tr34_import'] / m['payhsm_tr34_decrypt']:.2f}× |")
    for label, ours in [("SQLite store", "payhsm_cvv_by_key_id"),
                        ("memory store", "payhsm_cvv_by_key_id_memory")]:
        print(f"| CVV2 by key id, in process ({label}) | {fmt(m[ours])} | algorithm "
              f"{fmt(m['payhsm_cvv_algorithm'])} | {m[ours] / m['payhsm_cvv_algorithm']:.1f}× "
              "the algorithm |")
    print(f"| one `payhsm` CLI call by key id | {fmt(m['cli_cvv'])} | `payhsm --version` "
          f"{fmt(m['cli_version'])} | {m['cli_cvv'] / m['cli_version']:.2f}× |")
    print(f"| AES-128 CBC, 1 KiB | {fmt(m['payhsm_aes_cbc_1k'])} "
          f"({1024e3 / m['payhsm_aes_cbc_1k']:.0f} MB/s) | | |")
    print(f"| AES-128 CMAC, 1 KiB | {fmt(m['payhsm_aes_cmac_1k'])} "
          f"({1024e3 / m['payhsm_aes_cmac_1k']:.0f} MB/s) | | |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--report"]:  # the per-round lines a run printed to stderr
        report([json.loads(line) for line in open(sys.argv[2]) if line.startswith("{")])
    else:
        main()
