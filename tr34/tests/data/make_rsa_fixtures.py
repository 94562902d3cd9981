#!/usr/bin/env python3
"""Writes the bad RSA private keys of the T-RSA-4 tests (tests/rsa.rs), once.

Run with a Python that has tests/interop/requirements.txt installed; the output files are
committed. The keys are test fixtures only.
  rsa1024.pem        PKCS #8, 1024-bit modulus (too small)
  rsa2048_e3.pem     PKCS #8, public exponent 3 (below 65537)
  rsa2048_p_eq_q.pem PKCS #1, n = p * p
  rsa2048_bad_crt.pem PKCS #1, a valid key with dP changed
"""

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def integer(n):
    return tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))


def pkcs1(n, e, d, p, q, dp, dq, qinv):
    return tlv(0x30, b"".join(integer(x) for x in (0, n, e, d, p, q, dp, dq, qinv)))


def pem(label, der):
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def pkcs8_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def main():
    files = {
        "rsa1024.pem": pkcs8_pem(rsa.generate_private_key(65537, 1024)),
        "rsa2048_e3.pem": pkcs8_pem(rsa.generate_private_key(3, 2048)),
    }
    numbers = rsa.generate_private_key(65537, 2048).private_numbers()
    p, e = numbers.p, 65537
    n = p * p
    d = pow(e, -1, p * (p - 1))
    files["rsa2048_p_eq_q.pem"] = pem(
        "RSA PRIVATE KEY", pkcs1(n, e, d, p, p, d % (p - 1), d % (p - 1), 1))
    pub = numbers.public_numbers
    files["rsa2048_bad_crt.pem"] = pem(
        "RSA PRIVATE KEY",
        pkcs1(pub.n, pub.e, numbers.d, numbers.p, numbers.q,
              numbers.dmp1 ^ 2, numbers.dmq1, numbers.iqmp))
    for name, text in files.items():
        with open(name, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
