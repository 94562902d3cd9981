#!/usr/bin/env python3
"""An independent TR-34 implementation, for payhsm's interoperability tests.

It builds and opens two-pass TR-34 key tokens with pyca/cryptography for the cryptography
and its own small DER writer and reader for the structure, following the layout AWS Payment
Cryptography's published samples use for KeyBlockFormat X9_TR34_2012 (and the RFC 5652 CMS
layout for X9_TR34_2019). It shares no code with payhsm.

  make_token.py import-token --krd-cert KRD.pem --key HEX --header H --form F --out-dir DIR
      Creates a KDH CA and a KDH certificate (as the AWS sample does: a CA with
      basicConstraints and keyUsage, a KDH certificate without extensions), writes
      DIR/kdh_ca.pem and DIR/kdh.pem, and prints {"token", "nonce"} as JSON.

  make_token.py open-token --token HEX --nonce HEX --krd-key KEY.pem --krd-cert KRD.pem
                           --kdh-cert KDH.pem --ca-cert CA.pem --form F
      Verifies the KDH certificate under the CA, the signature, the message digest, the
      nonce and both identities, decrypts, and prints {"key", "header"} as JSON.
"""

import argparse
import datetime
import hashlib
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_RANDOM_NONCE = "1.2.840.113549.1.9.25.3"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
OID_RSAES_OAEP = "1.2.840.113549.1.1.7"
OID_MGF1 = "1.2.840.113549.1.1.8"
OID_P_SPECIFIED = "1.2.840.113549.1.1.9"
OID_SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
OID_DES_EDE3_CBC = "1.2.840.113549.3.7"
OID_AES128_CBC = "2.16.840.1.101.3.4.1.2"

FORMS = ("X9_TR34_2012", "X9_TR34_2019")


# --- DER writer -------------------------------------------------------------------------------

def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def seq(*items):
    return tlv(0x30, b"".join(items))


def set_of(*items):
    # DER: elements in ascending order of their encodings.
    return tlv(0x31, b"".join(sorted(items)))


def integer(n):
    return tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=False))


def octets(b):
    return tlv(0x04, b)


def oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, body)


NULL = b"\x05\x00"


# --- DER reader -------------------------------------------------------------------------------

def read(data):
    """Splits DER into a list of (tag, content, whole element); definite lengths only."""
    out, i = [], 0
    while i < len(data):
        tag, n = data[i], data[i + 1]
        start = i + 2
        if n & 0x80:
            k = n & 0x7F
            if k == 0:
                raise ValueError("indefinite length")
            n = int.from_bytes(data[start:start + k], "big")
            start += k
        if start + n > len(data):
            raise ValueError("truncated")
        out.append((tag, data[start:start + n], data[i:start + n]))
        i = start + n
    return out


def one(data, tag):
    [(t, content, _)] = read(data)
    if t != tag:
        raise ValueError(f"expected tag {tag:#x}, found {t:#x}")
    return content


def fields(data, *tags):
    items = read(data)
    if [t for t, _, _ in items] != list(tags):
        raise ValueError(f"expected tags {tags}, found {[t for t, _, _ in items]}")
    return items


def check(condition, what):
    if not condition:
        raise ValueError(f"check failed: {what}")


# --- TR-34 ------------------------------------------------------------------------------------

def identity(cert):
    """IssuerAndSerialNumber of a certificate."""
    return seq(cert.issuer.public_bytes(), integer(cert.serial_number))


def attribute(type_oid, value):
    return seq(oid(type_oid), set_of(value))


def oaep_algorithm(form):
    if form == "X9_TR34_2012":
        # Untagged hash, mask generation and label source, as the AWS samples write them.
        params = seq(
            seq(oid(OID_SHA256), NULL),
            seq(oid(OID_MGF1), seq(oid(OID_SHA256))),
            seq(oid(OID_P_SPECIFIED), octets(b"")),
        )
    else:
        # RFC 8017 RSAES-OAEP-params with EXPLICIT tags; the empty label is the default.
        params = seq(
            tlv(0xA0, seq(oid(OID_SHA256), NULL)),
            tlv(0xA1, seq(oid(OID_MGF1), seq(oid(OID_SHA256), NULL))),
        )
    return seq(oid(OID_RSAES_OAEP), params)


def content_cipher(algorithm_char):
    # An AES key travels under AES-128, a TDES key under three-key TDES.
    if algorithm_char == "A":
        return OID_AES128_CBC, 16, 16
    return OID_DES_EDE3_CBC, 24, 8


def cbc(cipher_oid, key, iv):
    algorithm = algorithms.AES(key) if cipher_oid == OID_AES128_CBC else TripleDES(key)
    return Cipher(algorithm, modes.CBC(iv))


def make_kdh(out_dir):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "Interop KDH CA"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pyca interop"),
    ])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .serial_number(100)
        .public_key(ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=True,
                data_encipherment=True, key_agreement=True, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    kdh_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kdh = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, "Interop KDH"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pyca interop"),
        ]))
        .issuer_name(ca_name)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .serial_number(200)
        .public_key(kdh_key.public_key())
        .sign(ca_key, hashes.SHA256())
    )
    for name, cert in (("kdh_ca.pem", ca), ("kdh.pem", kdh)):
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
    return kdh_key, kdh


def import_token(args):
    with open(args.krd_cert, "rb") as f:
        krd = x509.load_pem_x509_certificate(f.read())
    kdh_key, kdh = make_kdh(args.out_dir)
    key = bytes.fromhex(args.key)
    header = args.header.encode("ascii")
    nonce = os.urandom(8)

    header_attr = attribute(OID_DATA, octets(header))
    key_block = seq(integer(1), identity(kdh), octets(key), header_attr)
    cipher_oid, key_len, block = content_cipher(args.header[7])
    ephemeral, iv = os.urandom(key_len), os.urandom(block)
    padder = padding.PKCS7(block * 8).padder()
    padded = padder.update(key_block) + padder.finalize()
    encryptor = cbc(cipher_oid, ephemeral, iv).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    encrypted_key = krd.public_key().encrypt(
        ephemeral,
        asym_padding.OAEP(asym_padding.MGF1(hashes.SHA256()), hashes.SHA256(), None),
    )
    recipient = seq(integer(0), identity(krd), oaep_algorithm(args.form), octets(encrypted_key))
    encrypted_content = seq(oid(OID_DATA), seq(oid(cipher_oid), octets(iv)), tlv(0x80, ciphertext))
    envelope = integer(0) + set_of(recipient) + encrypted_content
    if args.form == "X9_TR34_2019":
        envelope = seq(envelope)

    attrs = set_of(
        attribute(OID_CONTENT_TYPE, oid(OID_ENVELOPED_DATA)),
        attribute(OID_RANDOM_NONCE, octets(nonce)),
        header_attr,
        attribute(OID_MESSAGE_DIGEST, octets(hashlib.sha256(envelope).digest())),
    )
    signature = kdh_key.sign(attrs, asym_padding.PKCS1v15(), hashes.SHA256())
    signature_oid = OID_RSA_ENCRYPTION if args.form == "X9_TR34_2012" else OID_SHA256_WITH_RSA
    signer = seq(
        integer(1),
        identity(kdh),
        seq(oid(OID_SHA256)),
        b"\xa0" + attrs[1:],
        seq(oid(signature_oid), NULL),
        octets(signature),
    )
    version = 1 if args.form == "X9_TR34_2012" else 3
    signed_data = seq(
        integer(version),
        set_of(seq(oid(OID_SHA256))),
        seq(oid(OID_ENVELOPED_DATA), tlv(0xA0, octets(envelope))),
        set_of(signer),
    )
    token = seq(oid(OID_SIGNED_DATA), tlv(0xA0, signed_data))
    print(json.dumps({"token": token.hex().upper(), "nonce": nonce.hex().upper()}))


def open_token(args):
    def load(path):
        with open(path, "rb") as f:
            return f.read()

    krd = x509.load_pem_x509_certificate(load(args.krd_cert))
    kdh = x509.load_pem_x509_certificate(load(args.kdh_cert))
    ca = x509.load_pem_x509_certificate(load(args.ca_cert))
    krd_key = serialization.load_pem_private_key(load(args.krd_key), password=None)
    kdh.verify_directly_issued_by(ca)

    token = bytes.fromhex(args.token)
    content_info = one(token, 0x30)
    (_, content_type, _), (_, explicit, _) = fields(content_info, 0x06, 0xA0)
    check(tlv(0x06, content_type) == oid(OID_SIGNED_DATA), "contentType")
    signed_data = one(explicit, 0x30)
    version, digests, encap, signers = fields(signed_data, 0x02, 0x31, 0x30, 0x31)
    check(version[1] == bytes([1 if args.form == "X9_TR34_2012" else 3]), "SignedData version")
    check(digests[2] == set_of(seq(oid(OID_SHA256))), "digestAlgorithms")
    e_type, e_content = fields(encap[1], 0x06, 0xA0)
    check(e_type[2] == oid(OID_ENVELOPED_DATA), "eContentType")
    envelope = one(e_content[1], 0x04)

    signer = one(signers[1], 0x30)
    s_version, sid, digest_alg, attrs, sig_alg, signature = fields(
        signer, 0x02, 0x30, 0x30, 0xA0, 0x30, 0x04)
    check(s_version[1] == b"\x01" and sid[2] == identity(kdh), "signer")
    check(digest_alg[2] == seq(oid(OID_SHA256)), "digestAlgorithm")
    expected_sig_oid = OID_RSA_ENCRYPTION if args.form == "X9_TR34_2012" else OID_SHA256_WITH_RSA
    check(sig_alg[2] == seq(oid(expected_sig_oid), NULL), "signatureAlgorithm")
    signed_attrs = b"\x31" + attrs[2][1:]
    kdh.public_key().verify(signature[1], signed_attrs, asym_padding.PKCS1v15(), hashes.SHA256())

    found = {}
    for _, attr, _ in read(attrs[1]):
        (_, attr_oid, attr_oid_der), (_, values, _) = fields(attr, 0x06, 0x31)
        [(_, value, value_der)] = read(values)
        found[attr_oid_der] = (value, value_der)
    check(found[oid(OID_CONTENT_TYPE)][1] == oid(OID_ENVELOPED_DATA), "contentType")
    check(found[oid(OID_MESSAGE_DIGEST)][0] == hashlib.sha256(envelope).digest(), "messageDigest")
    check(found[oid(OID_RANDOM_NONCE)][0] == bytes.fromhex(args.nonce), "randomNonce")
    header = found[oid(OID_DATA)][0]

    if args.form == "X9_TR34_2019":
        envelope = one(envelope, 0x30)
    e_version, recipients, encrypted_content = fields(envelope, 0x02, 0x31, 0x30)
    check(e_version[1] == b"\x00", "EnvelopedData version")
    recipient = one(recipients[1], 0x30)
    r_version, rid, key_alg, encrypted_key = fields(recipient, 0x02, 0x30, 0x30, 0x04)
    check(r_version[1] == b"\x00" and rid[2] == identity(krd), "recipient")
    check(key_alg[2] == oaep_algorithm(args.form), "keyEncryptionAlgorithm")
    ephemeral = krd_key.decrypt(
        encrypted_key[1],
        asym_padding.OAEP(asym_padding.MGF1(hashes.SHA256()), hashes.SHA256(), None),
    )
    c_type, c_alg, ciphertext = fields(encrypted_content[1], 0x06, 0x30, 0x80)
    check(c_type[2] == oid(OID_DATA), "encryptedContentInfo contentType")
    (_, _, cipher_oid_der), (_, iv, _) = fields(c_alg[1], 0x06, 0x04)
    cipher_oid = OID_AES128_CBC if cipher_oid_der == oid(OID_AES128_CBC) else OID_DES_EDE3_CBC
    check(cipher_oid_der == oid(cipher_oid), "contentEncryptionAlgorithm")
    decryptor = cbc(cipher_oid, ephemeral, iv).decryptor()
    padded = decryptor.update(ciphertext[1]) + decryptor.finalize()
    unpadder = padding.PKCS7(len(iv) * 8).unpadder()
    key_block = unpadder.update(padded) + unpadder.finalize()

    kb_version, kb_kdh, kb_key, kb_header = fields(one(key_block, 0x30), 0x02, 0x30, 0x04, 0x30)
    check(kb_version[1] == b"\x01" and kb_kdh[2] == identity(kdh), "key block identity")
    check(kb_header[2] == attribute(OID_DATA, octets(header)), "key block header")
    print(json.dumps({"key": kb_key[1].hex().upper(), "header": header.decode("ascii")}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("import-token")
    make.add_argument("--krd-cert", required=True)
    make.add_argument("--key", required=True)
    make.add_argument("--header", required=True)
    make.add_argument("--form", choices=FORMS, default=FORMS[0])
    make.add_argument("--out-dir", required=True)
    opener = commands.add_parser("open-token")
    for name in ("--token", "--nonce", "--krd-key", "--krd-cert", "--kdh-cert", "--ca-cert"):
        opener.add_argument(name, required=True)
    opener.add_argument("--form", choices=FORMS, default=FORMS[0])
    args = parser.parse_args()
    {"import-token": import_token, "open-token": open_token}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
