"""The other side of payhsm's RSA key exchange and RSA data encryption, on pyca/cryptography.

Written from RFC 8017 (RSAES-OAEP, RSAES-PKCS1-v1_5), RFC 2986 (PKCS #10), ANSI X9.24 and
NIST SP 800-38B (the key check values) and the service's API reference, not from payhsm's
code. Every command prints one JSON object.

  wrap      --cert PEM --key HEX --hash sha256|sha512          an RSA-OAEP key cryptogram
  unwrap    --private-key PEM --cryptogram HEX --hash ...     the key inside a cryptogram
  encrypt   --cert PEM --padding PADDING --data HEX           RSA encryption
  decrypt   --private-key PEM --padding PADDING --data HEX    RSA decryption
  kcv       --algorithm TDES|AES --key HEX                    the service's KCV (6 hex digits)
  csr       --csr BASE64-OF-PEM                               a CSR's subject, key, signature
                                                             (an RSA or an ECC key)

PADDING is one of PKCS1, OAEP_SHA1, OAEP_SHA256, OAEP_SHA512 (the service's PaddingType).
"""

import argparse
import base64
import json
import sys

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac, hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha512": hashes.SHA512}


def oaep(name):
    h = HASHES[name]
    return padding.OAEP(mgf=padding.MGF1(algorithm=h()), algorithm=h(), label=None)


def scheme(name):
    if name == "PKCS1":
        return padding.PKCS1v15()
    if name.startswith("OAEP_"):
        return oaep(name[len("OAEP_"):].lower())
    raise SystemExit(f"unknown padding {name}")


def public_key(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read()).public_key()


def private_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def kcv(algorithm, key):
    if algorithm == "TDES":
        # ANSI X9.24: the first bytes of a zero block encrypted under the key.
        if len(key) == 16:
            key += key[:8]  # a two-key TDES key is K1 K2 K1
        enc = Cipher(TripleDES(key), modes.ECB()).encryptor()
        value = enc.update(bytes(8)) + enc.finalize()
    else:
        # The CMAC of a zero block (the service's KCV for AES keys).
        c = cmac.CMAC(algorithms.AES(key))
        c.update(bytes(16))
        value = c.finalize()
    return value[:3].hex().upper()


NAMES = {
    NameOID.COMMON_NAME: "CommonName",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OrganizationUnit",
    NameOID.ORGANIZATION_NAME: "Organization",
    NameOID.LOCALITY_NAME: "City",
    NameOID.STATE_OR_PROVINCE_NAME: "StateOrProvince",
    NameOID.COUNTRY_NAME: "Country",
    NameOID.EMAIL_ADDRESS: "EmailAddress",
}


def parse_csr(text):
    csr = x509.load_pem_x509_csr(base64.b64decode(text))
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        public = {"modulus": format(numbers.n, "X"), "exponent": numbers.e}
    elif isinstance(key, ec.EllipticCurvePublicKey):
        point = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        public = {"curve": key.curve.name, "point": point.hex().upper()}
    else:
        raise SystemExit("neither an RSA nor an ECC key")
    subject = [
        {"field": NAMES[a.oid], "value": a.value}
        for a in csr.subject
    ]
    return {
        "subject": subject,
        **public,
        "hash": csr.signature_hash_algorithm.name,
        "signature_valid": csr.is_signature_valid,
        "attributes": len(list(csr.attributes)),
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command")
    p.add_argument("--cert")
    p.add_argument("--private-key")
    p.add_argument("--key")
    p.add_argument("--cryptogram")
    p.add_argument("--hash")
    p.add_argument("--padding")
    p.add_argument("--data")
    p.add_argument("--algorithm")
    p.add_argument("--csr")
    a = p.parse_args()
    if a.command == "wrap":
        out = {"cryptogram": public_key(a.cert).encrypt(bytes.fromhex(a.key), oaep(a.hash)).hex().upper()}
    elif a.command == "unwrap":
        key = private_key(a.private_key).decrypt(bytes.fromhex(a.cryptogram), oaep(a.hash))
        out = {"key": key.hex().upper()}
    elif a.command == "encrypt":
        ct = public_key(a.cert).encrypt(bytes.fromhex(a.data), scheme(a.padding))
        out = {"ciphertext": ct.hex().upper()}
    elif a.command == "decrypt":
        pt = private_key(a.private_key).decrypt(bytes.fromhex(a.data), scheme(a.padding))
        out = {"plaintext": pt.hex().upper()}
    elif a.command == "kcv":
        out = {"kcv": kcv(a.algorithm, bytes.fromhex(a.key))}
    elif a.command == "csr":
        out = parse_csr(a.csr)
    else:
        raise SystemExit(f"unknown command {a.command}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
