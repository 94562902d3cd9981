"""Extracts the ECDH and KDF known answers in ecdh_vectors.json from NIST CAVP files.

Sources (NIST CAVP, as shipped in the cryptography_vectors package, pinned in
keystore/tests/interop/requirements.txt):
- asymmetric/ECDH/KASValidityTest_ECCStaticUnified_KDFConcat_NOKC_resp.fax: KAS ECC
  (SP 800-56A), dhStaticUnified, concatenation KDF, CAVS 17.4. Each entry gives both static
  key pairs, the shared secret Z, the OtherInfo OI and the derived keying material DKM, and
  whether it is valid (P) or why not (F, with the CAVS reason code).
- KDF/ansx963_2001.txt: the ANS X9.63-2001 KDF, CAVS 12.0.

Run: python extract_ecdh_vectors.py > ecdh_vectors.json
"""

import json
import os
import re
import sys

import cryptography_vectors

ROOT = os.path.dirname(cryptography_vectors.__file__)
KAS = "asymmetric/ECDH/KASValidityTest_ECCStaticUnified_KDFConcat_NOKC_resp.fax"
X963 = "KDF/ansx963_2001.txt"

SECTIONS = {"EC - SHA256": ("P-256", "SHA_256"), "EC - SHA512": ("P-256", "SHA_512"),
            "ED - SHA384": ("P-384", "SHA_384"), "EE - SHA512": ("P-521", "SHA_512")}
# The F reasons a KDF-and-agreement implementation can check (not the MAC ones, 11 and 12).
REASONS = {1, 2, 5, 6, 7, 8, 9, 10}


def kas():
    out, section, entry = [], None, {}
    counts = {}
    for line in open(os.path.join(ROOT, KAS)):
        line = line.strip()
        m = re.match(r"^\[(E[B-E] - SHA\d+)\]$", line)
        if m:
            section = m.group(1)
            continue
        if section not in SECTIONS:
            continue
        if line.startswith("COUNT"):
            entry = {"count": int(line.split("=")[1])}
        elif "=" in line:
            k, v = (s.strip() for s in line.split("=", 1))
            entry[k] = v
            if k == "Result":
                code = 0 if v.startswith("P") else int(re.match(r"F \((\d+)", v).group(1))
                key = (section, code)
                counts[key] = counts.get(key, 0) + 1
                if (code == 0 and counts[key] <= 3) or (code in REASONS and counts[key] == 1):
                    curve, hash_ = SECTIONS[section]
                    out.append({"section": section, "count": entry["count"], "curve": curve,
                                "hash": hash_, "result": code,
                                "dsCAVS": entry["dsCAVS"], "QsCAVSx": entry["QsCAVSx"],
                                "QsCAVSy": entry["QsCAVSy"], "dsIUT": entry["dsIUT"],
                                "QsIUTx": entry["QsIUTx"], "QsIUTy": entry["QsIUTy"],
                                "OI": entry["OI"], "Z": entry["Z"], "DKM": entry["DKM"]})
    return out


def x963():
    out, hash_, entry, counts = [], None, {}, {}
    for line in open(os.path.join(ROOT, X963)):
        line = line.strip()
        m = re.match(r"^\[SHA-(\d+)\]$", line)
        if m:
            hash_ = "SHA_" + m.group(1)
            continue
        if line.startswith("COUNT"):
            entry = {"count": int(line.split("=")[1])}
        elif line.startswith(("Z =", "SharedInfo =", "key_data =")):
            k, v = (s.strip() for s in line.split("=", 1))
            entry[k] = v
            if k == "key_data" and hash_ in ("SHA_256", "SHA_384", "SHA_512") and entry["SharedInfo"]:
                counts[hash_] = counts.get(hash_, 0) + 1
                if counts[hash_] <= 3:
                    out.append({"hash": hash_, "count": entry["count"], "Z": entry["Z"],
                                "SharedInfo": entry["SharedInfo"], "key_data": entry["key_data"]})
    return out


json.dump({"source": {"kas": "NIST CAVP " + KAS + " (CAVS 17.4)",
                      "x963": "NIST CAVP " + X963 + " (CAVS 12.0)",
                      "via": "cryptography_vectors " + cryptography_vectors.__version__},
           "kas": kas(), "x963": x963()}, sys.stdout, indent=1)
print()
