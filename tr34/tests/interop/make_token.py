#!/usr/bin/env python3
"""An independent TR-34 implementation, for payhsm's interoperability tests.

It builds and opens TR-34 key tokens with pyca/cryptography for the cryptography and its own
small DER writer and reader for the structure; it shares no code with payhsm. The
X9_TR34_2012 layout is the one AWS Payment Cryptography's published samples build for
ImportKey and parse from the service's ExportKey output (aws-samples/
samples-for-payment-cryptography-service, key-import-export/tr34/import_app/
import_raw_key_tr34.py and key-import-export/tr34/export-app/export_raw_key_from_apc.py);
X9_TR34_2019 is RFC 5652 CMS.

X9_TR34_2012, as the samples lay it out:

  SEQUENCE { id-signedData, [0] SEQUENCE {
    INTEGER 1, SET { SEQUENCE { sha256 } },
    SEQUENCE { id-envelopedData, [0] { OCTET STRING <envelope> } },
    SET { SEQUENCE { INTEGER 1, <KDH IssuerAndSerialNumber>, SEQUENCE { sha256 },
      [0] { contentType, randomNonce, <key block header>, messageDigest }   (in this order)
      SEQUENCE { rsaEncryption, NULL }, OCTET STRING <signature> } } } }

  <envelope> = INTEGER 0,                       (no SEQUENCE around these three)
    SET { SEQUENCE { INTEGER 0, <KRD IssuerAndSerialNumber>,
      SEQUENCE { id-RSAES-OAEP, SEQUENCE { SEQUENCE { sha256, NULL },
        SEQUENCE { mgf1, SEQUENCE { sha256 } }, SEQUENCE { pSpecified, OCTET STRING '' } } },
      OCTET STRING <encrypted ephemeral key> } },
    SEQUENCE { id-data, SEQUENCE { <cipher>, OCTET STRING <iv>, [0] IMPLICIT <ciphertext> } }

  <key block header> = SEQUENCE { id-data, SET { OCTET STRING <header> } }
  ciphertext = CBC(ephemeral key, PKCS #7 padded
    SEQUENCE { INTEGER 1, <KDH IssuerAndSerialNumber>, OCTET STRING <key>, <key block header> })

No certificates, CRLs or unsigned attributes. X9_TR34_2019 differs in: SignedData version 3,
sha256WithRSAEncryption, the envelope a complete SEQUENCE, RFC 8017 OAEP parameters ([0]/[1]
tagged, the default label omitted), RFC 5652's encryptedContentInfo (SEQUENCE { <cipher>,
OCTET STRING <iv> } followed by [0] IMPLICIT <ciphertext>), and DER-sorted signed attributes.

  make_token.py import-token --krd-cert KRD.pem --key HEX --header H --form F --out-dir DIR
                [--kdh-key KEY.pem --kdh-cert KDH.pem] [--nonce HEX | --signing-time T]
                [--cipher tdes3|aes128] [--ephemeral HEX --iv HEX --oaep-seed HEX]
      Builds a token. Without --kdh-key, creates a KDH CA and a KDH certificate (as the AWS
      sample does: a CA with basicConstraints and keyUsage, a KDH certificate without
      extensions) and writes DIR/kdh_ca.pem and DIR/kdh.pem. Without --nonce or
      --signing-time, a random 8-byte nonce. The last three fix the randomness, so that the
      token's bytes are known. Prints {"token", "nonce"} as JSON.

  make_token.py open-token --token HEX (--nonce HEX | --one-pass) --krd-key KEY.pem
                --krd-cert KRD.pem --kdh-cert KDH.pem --ca-cert CA.pem --form F
      Checks the layout field by field, the KDH certificate under the CA, the signature, the
      message digest, the nonce (or that a signing time is present) and both identities,
      decrypts, and prints {"key", "header"} (and "signing_time") as JSON.

  make_token.py fixtures --vectors vectors/data/tr34.json --data-dir tr34/tests/data
      Writes the fixed tokens of tests/tokens.rs (DATA/tokens.json) from the TR-34 Annex B
      sample KDH 1, CA-KDH and KRD 1 and an RSA-3072 KRD (DATA/krd3072*.pem, made once).
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
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_RANDOM_NONCE = "1.2.840.113549.1.9.25.3"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
OID_RSAES_OAEP = "1.2.840.113549.1.1.7"
OID_MGF1 = "1.2.840.113549.1.1.8"
OID_P_SPECIFIED = "1.2.840.113549.1.1.9"
OID_SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
OID_DES_EDE3_CBC = "1.2.840.113549.3.7"
OID_AES128_CBC = "2.16.840.1.101.3.4.1.2"

FORM_2012, FORM_2019 = "X9_TR34_2012", "X9_TR34_2019"
FORMS = (FORM_2012, FORM_2019)
# name: (OID, ephemeral key length, block length)
CIPHERS = {"tdes3": (OID_DES_EDE3_CBC, 24, 8), "aes128": (OID_AES128_CBC, 16, 16)}


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


def utc_time(t):
    return tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode("ascii"))


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


# --- RSA --------------------------------------------------------------------------------------

def mgf1(seed, length):
    out, counter = b"", 0
    while len(out) < length:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def oaep_encrypt(public_key, message, seed=None):
    """RSAES-OAEP with SHA-256, MGF1-SHA-256 and an empty label. With a seed (RFC 8017
    §7.1.1, written out so that the seed can be fixed), else pyca's."""
    if seed is None:
        return public_key.encrypt(
            message,
            asym_padding.OAEP(asym_padding.MGF1(hashes.SHA256()), hashes.SHA256(), None),
        )
    numbers = public_key.public_numbers()
    k, h = (numbers.n.bit_length() + 7) // 8, 32
    check(len(seed) == h, "OAEP seed length")
    db = hashlib.sha256(b"").digest() + bytes(k - len(message) - 2 * h - 2) + b"\x01" + message
    masked_db = xor(db, mgf1(seed, k - h - 1))
    masked_seed = xor(seed, mgf1(masked_db, h))
    em = int.from_bytes(b"\x00" + masked_seed + masked_db, "big")
    return pow(em, numbers.e, numbers.n).to_bytes(k, "big")


def oaep_decrypt(private_key, ciphertext):
    return private_key.decrypt(
        ciphertext,
        asym_padding.OAEP(asym_padding.MGF1(hashes.SHA256()), hashes.SHA256(), None),
    )


# --- TR-34 ------------------------------------------------------------------------------------

def identity(cert):
    """IssuerAndSerialNumber of a certificate."""
    return seq(cert.issuer.public_bytes(), integer(cert.serial_number))


def attribute(type_oid, value):
    return seq(oid(type_oid), set_of(value))


def oaep_algorithm(form):
    if form == FORM_2012:
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


def signature_oid(form):
    return OID_RSA_ENCRYPTION if form == FORM_2012 else OID_SHA256_WITH_RSA


def envelope(form, recipient, cipher_oid, iv, ciphertext):
    """The eContent octets: the EnvelopedData's fields (2012) or the EnvelopedData (2019)."""
    if form == FORM_2012:
        # The samples: cipher, IV and ciphertext in one SEQUENCE; no SEQUENCE around it all.
        eci = seq(oid(OID_DATA), seq(oid(cipher_oid), octets(iv), tlv(0x80, ciphertext)))
        return integer(0) + set_of(recipient) + eci
    eci = seq(oid(OID_DATA), seq(oid(cipher_oid), octets(iv)), tlv(0x80, ciphertext))
    return seq(integer(0), set_of(recipient), eci)


def signed_attributes(form, attributes):
    """The SET the KDH signs: as given (the samples' order) in 2012, DER-sorted in 2019."""
    if form == FORM_2012:
        return tlv(0x31, b"".join(attributes))
    return set_of(*attributes)


def cbc(cipher_oid, key, iv):
    algorithm = algorithms.AES(key) if cipher_oid == OID_AES128_CBC else TripleDES(key)
    return Cipher(algorithm, modes.CBC(iv))


def build_token(form, kdh_key, kdh, krd, key, header, nonce=None, signing_time=None,
                cipher=None, ephemeral=None, iv=None, oaep_seed=None):
    # An AES key travels under AES-128, a TDES key under three-key TDES unless told otherwise.
    cipher = cipher or ("aes128" if header[7] == "A" else "tdes3")
    cipher_oid, key_len, block = CIPHERS[cipher]
    ephemeral = ephemeral or os.urandom(key_len)
    iv = iv or os.urandom(block)
    check(len(ephemeral) == key_len and len(iv) == block, "ephemeral key and IV lengths")

    header_attr = attribute(OID_DATA, octets(header.encode("ascii")))
    key_block = seq(integer(1), identity(kdh), octets(key), header_attr)
    padder = padding.PKCS7(block * 8).padder()
    padded = padder.update(key_block) + padder.finalize()
    encryptor = cbc(cipher_oid, ephemeral, iv).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    encrypted_key = oaep_encrypt(krd.public_key(), ephemeral, oaep_seed)
    recipient = seq(integer(0), identity(krd), oaep_algorithm(form), octets(encrypted_key))
    content = envelope(form, recipient, cipher_oid, iv, ciphertext)

    freshness = (attribute(OID_RANDOM_NONCE, octets(nonce)) if nonce is not None
                 else attribute(OID_SIGNING_TIME, utc_time(signing_time)))
    attrs = signed_attributes(form, [
        attribute(OID_CONTENT_TYPE, oid(OID_ENVELOPED_DATA)),
        freshness,
        header_attr,
        attribute(OID_MESSAGE_DIGEST, octets(hashlib.sha256(content).digest())),
    ])
    signature = kdh_key.sign(attrs, asym_padding.PKCS1v15(), hashes.SHA256())
    signer = seq(
        integer(1),
        identity(kdh),
        seq(oid(OID_SHA256)),
        b"\xa0" + attrs[1:],
        seq(oid(signature_oid(form)), NULL),
        octets(signature),
    )
    signed_data = seq(
        integer(1 if form == FORM_2012 else 3),
        set_of(seq(oid(OID_SHA256))),
        seq(oid(OID_ENVELOPED_DATA), tlv(0xA0, octets(content))),
        set_of(signer),
    )
    return seq(oid(OID_SIGNED_DATA), tlv(0xA0, signed_data))


def open_token(form, token, nonce, krd_key, krd, kdh, ca):
    """Opens a two-pass token (`nonce`) or a one-pass one (`nonce` None)."""
    kdh.verify_directly_issued_by(ca)
    content_info = one(token, 0x30)
    (_, _, content_type), (_, explicit, _) = fields(content_info, 0x06, 0xA0)
    check(content_type == oid(OID_SIGNED_DATA), "contentType")
    # Exactly these four: no certificates, CRLs.
    version, digests, encap, signers = fields(one(explicit, 0x30), 0x02, 0x31, 0x30, 0x31)
    check(version[1] == bytes([1 if form == FORM_2012 else 3]), "SignedData version")
    check(digests[2] == set_of(seq(oid(OID_SHA256))), "digestAlgorithms")
    e_type, e_content = fields(encap[1], 0x06, 0xA0)
    check(e_type[2] == oid(OID_ENVELOPED_DATA), "eContentType")
    content = one(e_content[1], 0x04)

    # Exactly six: no unsigned attributes.
    s_version, sid, digest_alg, attrs, sig_alg, signature = fields(
        one(signers[1], 0x30), 0x02, 0x30, 0x30, 0xA0, 0x30, 0x04)
    check(s_version[1] == b"\x01" and sid[2] == identity(kdh), "signer")
    check(digest_alg[2] == seq(oid(OID_SHA256)), "digestAlgorithm")
    check(sig_alg[2] == seq(oid(signature_oid(form)), NULL), "signatureAlgorithm")
    kdh.public_key().verify(
        signature[1], b"\x31" + attrs[2][1:], asym_padding.PKCS1v15(), hashes.SHA256())

    elements = [whole for _, _, whole in read(attrs[1])]
    found = {}
    for element in elements:
        (_, _, attr_oid), (_, values, _) = fields(one(element, 0x30), 0x06, 0x31)
        [(_, value, value_der)] = read(values)
        check(attr_oid not in found, "an attribute occurs once")
        found[attr_oid] = (value, value_der)
    freshness = oid(OID_RANDOM_NONCE) if nonce is not None else oid(OID_SIGNING_TIME)
    order = [oid(OID_CONTENT_TYPE), freshness, oid(OID_DATA), oid(OID_MESSAGE_DIGEST)]
    if form == FORM_2012:
        check(list(found) == order, "signed attributes in the samples' order")
    else:
        check(elements == sorted(elements) and set(found) == set(order),
              "signed attributes a DER SET OF")
    check(found[oid(OID_CONTENT_TYPE)][1] == oid(OID_ENVELOPED_DATA), "contentType")
    check(found[oid(OID_MESSAGE_DIGEST)][0] == hashlib.sha256(content).digest(), "messageDigest")
    if nonce is not None:
        check(found[freshness][0] == nonce, "randomNonce")
    header = found[oid(OID_DATA)][0]

    if form == FORM_2019:
        content = one(content, 0x30)
    e_version, recipients, eci = fields(content, 0x02, 0x31, 0x30)
    check(e_version[1] == b"\x00", "EnvelopedData version")
    r_version, rid, key_alg, encrypted_key = fields(one(recipients[1], 0x30), 0x02, 0x30, 0x30, 0x04)
    check(r_version[1] == b"\x00" and rid[2] == identity(krd), "recipient")
    check(key_alg[2] == oaep_algorithm(form), "keyEncryptionAlgorithm")
    if form == FORM_2012:
        c_type, nested = fields(eci[1], 0x06, 0x30)
        c_oid, iv, ciphertext = fields(nested[1], 0x06, 0x04, 0x80)
    else:
        c_type, c_alg, ciphertext = fields(eci[1], 0x06, 0x30, 0x80)
        c_oid, iv = fields(c_alg[1], 0x06, 0x04)
    check(c_type[2] == oid(OID_DATA), "encryptedContentInfo contentType")
    [cipher_oid] = [o for o, _, _ in CIPHERS.values() if oid(o) == c_oid[2]]
    ephemeral = oaep_decrypt(krd_key, encrypted_key[1])
    decryptor = cbc(cipher_oid, ephemeral, iv[1]).decryptor()
    padded = decryptor.update(ciphertext[1]) + decryptor.finalize()
    unpadder = padding.PKCS7(len(iv[1]) * 8).unpadder()
    key_block = unpadder.update(padded) + unpadder.finalize()

    kb_version, kb_kdh, kb_key, kb_header = fields(one(key_block, 0x30), 0x02, 0x30, 0x04, 0x30)
    check(kb_version[1] == b"\x01" and kb_kdh[2] == identity(kdh), "key block identity")
    check(kb_header[2] == attribute(OID_DATA, octets(header)), "key block header")
    out = {"key": kb_key[1].hex().upper(), "header": header.decode("ascii")}
    if nonce is None:
        out["signing_time"] = found[freshness][0].decode("ascii")
    return out


# --- Credentials ------------------------------------------------------------------------------

def load(path):
    with open(path, "rb") as f:
        return f.read()


def name(common_name, organization):
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
    ])


def key_usage(*allowed):
    flags = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{flag: flag in allowed for flag in flags})


def certificate(subject, issuer, public_key, signing_key, serial, valid, extensions=()):
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .serial_number(serial)
        .public_key(public_key)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signing_key, hashes.SHA256())


def make_kdh(out_dir):
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = name("Interop KDH CA", "pyca interop")
    ca = certificate(ca_name, ca_name, ca_key.public_key(), ca_key, 100, (now - day, now + 90 * day), [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
        (key_usage("digital_signature", "content_commitment", "key_encipherment",
                   "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign"), True),
    ])
    kdh_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kdh = certificate(name("Interop KDH", "pyca interop"), ca_name, kdh_key.public_key(), ca_key,
                      200, (now - day, now + 30 * day))
    for file, cert in (("kdh_ca.pem", ca), ("kdh.pem", kdh)):
        with open(os.path.join(out_dir, file), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
    return kdh_key, kdh


def hex_arg(value):
    return bytes.fromhex(value) if value is not None else None


def import_token_command(args):
    krd = x509.load_pem_x509_certificate(load(args.krd_cert))
    if args.kdh_key:
        kdh_key = serialization.load_pem_private_key(load(args.kdh_key), password=None)
        kdh = x509.load_pem_x509_certificate(load(args.kdh_cert))
    else:
        kdh_key, kdh = make_kdh(args.out_dir)
    signing_time = (datetime.datetime.fromisoformat(args.signing_time.replace("Z", "+00:00"))
                    if args.signing_time else None)
    nonce = hex_arg(args.nonce)
    if nonce is None and signing_time is None:
        nonce = os.urandom(8)
    token = build_token(
        args.form, kdh_key, kdh, krd, bytes.fromhex(args.key), args.header, nonce, signing_time,
        args.cipher, hex_arg(args.ephemeral), hex_arg(args.iv), hex_arg(args.oaep_seed))
    out = {"token": token.hex().upper()}
    if nonce is not None:
        out["nonce"] = nonce.hex().upper()
    print(json.dumps(out))


def open_token_command(args):
    out = open_token(
        args.form,
        bytes.fromhex(args.token),
        None if args.one_pass else bytes.fromhex(args.nonce),
        serialization.load_pem_private_key(load(args.krd_key), password=None),
        x509.load_pem_x509_certificate(load(args.krd_cert)),
        x509.load_pem_x509_certificate(load(args.kdh_cert)),
        x509.load_pem_x509_certificate(load(args.ca_cert)),
    )
    print(json.dumps(out))


# --- Fixed tokens -----------------------------------------------------------------------------

# (name, form, KRD, key, header, nonce or None (one-pass), cipher, ephemeral key, IV,
#  whether payhsm's export builds the same bytes). The OAEP seed is derived from the name.
FIXTURES = [
    ("tdes2-2012", FORM_2012, "TR34-sample-KRD-1-cert", "0123456789ABCDEFFEDCBA9876543210",
     "D9999K0TB00E0000", "0102030405060708", "tdes3",
     "0123456789ABCDEF1032547698BADCFE89ABCDEF01234567", "0011223344556677", True),
    # A 16-byte nonce and a header with an optional block: the samples' attribute order is
    # not DER order here.
    ("tdes3-2012", FORM_2012, "TR34-sample-KRD-1-cert",
     "89ABCDEF0123456776543210FEDCBA980011223344556677",
     "D9999B0TX00E0100KS1800604B120F9292800000", "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF", "tdes3",
     "F1E0D3C2B5A49786A5B4C7D6E9F8CBDA01234567FEDCBA98", "8899AABBCCDDEEFF", True),
    ("aes128-2012", FORM_2012, "krd3072", "3F419E1CB7079442AA37474C2EFBF8B8",
     "D9999K0AB00E0000", "1122334455667788", "aes128",
     "000102030405060708090A0B0C0D0E0F", "F0E1D2C3B4A5968778695A4B3C2D1E0F", True),
    # The samples allow AES-128 for any key block; payhsm's export uses TDES for TDES keys.
    ("tdes2-under-aes-2012", FORM_2012, "TR34-sample-KRD-1-cert",
     "0123456789ABCDEFFEDCBA9876543210", "D9999K0TB00E0000", "0102030405060708", "aes128",
     "0F0E0D0C0B0A09080706050403020100", "00112233445566778899AABBCCDDEEFF", False),
    ("tdes2-2019", FORM_2019, "TR34-sample-KRD-1-cert", "0123456789ABCDEFFEDCBA9876543210",
     "D9999K0TB00E0000", "0102030405060708", "tdes3",
     "0123456789ABCDEF1032547698BADCFE89ABCDEF01234567", "0011223344556677", True),
    ("tdes3-2019", FORM_2019, "TR34-sample-KRD-1-cert",
     "89ABCDEF0123456776543210FEDCBA980011223344556677",
     "D9999B0TX00E0100KS1800604B120F9292800000", "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF", "tdes3",
     "F1E0D3C2B5A49786A5B4C7D6E9F8CBDA01234567FEDCBA98", "8899AABBCCDDEEFF", True),
    ("aes128-2019", FORM_2019, "krd3072", "3F419E1CB7079442AA37474C2EFBF8B8",
     "D9999K0AB00E0000", "1122334455667788", "aes128",
     "000102030405060708090A0B0C0D0E0F", "F0E1D2C3B4A5968778695A4B3C2D1E0F", True),
    ("tdes2-one-pass-2019", FORM_2019, "TR34-sample-KRD-1-cert",
     "0123456789ABCDEFFEDCBA9876543210", "D9999K0TB00E0000", None, "tdes3",
     "0123456789ABCDEF1032547698BADCFE89ABCDEF01234567", "0011223344556677", True),
]
SIGNING_TIME = datetime.datetime(2015, 5, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
VERIFICATION_TIME = "2015-06-01T00:00:00Z"


def make_krd3072(data_dir):
    """An RSA-3072 KRD key and a self-signed certificate, made once (an AES-128 key needs an
    RSA-3072 KRD; the Annex B KRD 1 is RSA-2048)."""
    key_path = os.path.join(data_dir, "krd3072.key.pem")
    cert_path = os.path.join(data_dir, "krd3072.pem")
    if not os.path.exists(key_path):
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        subject = name("payhsm fixture KRD 3072", "payhsm fixtures")
        valid = tuple(datetime.datetime(y, 1, 1, tzinfo=datetime.timezone.utc) for y in (2010, 2040))
        cert = certificate(subject, subject, key.public_key(), key, 3072, valid,
                           [(key_usage("key_encipherment"), True)])
        with open(key_path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        with open(cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
    return (serialization.load_pem_private_key(load(key_path), password=None),
            x509.load_pem_x509_certificate(load(cert_path)))


def fixtures_command(args):
    with open(args.vectors) as f:
        vectors = {v["id"]: v["inputs"] for v in json.load(f)}

    def annex_b(name):
        inputs = vectors[name]
        cert = x509.load_der_x509_certificate(bytes.fromhex(inputs["certificate_der"]))
        key = inputs.get("private_key_pkcs8_der")
        return (serialization.load_der_private_key(bytes.fromhex(key), password=None)
                if key else None), cert

    kdh_key, kdh = annex_b("TR34-sample-KDH-1-cert")
    _, ca = annex_b("TR34-sample-CA-KDH-cert")
    krds = {"TR34-sample-KRD-1-cert": annex_b("TR34-sample-KRD-1-cert"),
            "krd3072": make_krd3072(args.data_dir)}
    tokens = []
    for name, form, krd, key, header, nonce, cipher, ephemeral, iv, exported in FIXTURES:
        krd_key, krd_cert = krds[krd]
        seed = hashlib.sha256(name.encode("ascii")).digest()
        token = build_token(
            form, kdh_key, kdh, krd_cert, bytes.fromhex(key), header, hex_arg(nonce),
            SIGNING_TIME if nonce is None else None, cipher, bytes.fromhex(ephemeral),
            bytes.fromhex(iv), seed)
        opened = open_token(form, token, hex_arg(nonce), krd_key, krd_cert, kdh, ca)
        check(opened["key"] == key and opened["header"] == header, f"{name} opens")
        entry = {"name": name, "form": form, "krd": krd, "key": key, "header": header}
        entry.update({"nonce": nonce} if nonce else
                     {"signing_time": SIGNING_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")})
        entry.update({"cipher": cipher, "ephemeral_key": ephemeral, "iv": iv,
                      "oaep_seed": seed.hex().upper(), "payhsm_exports": exported,
                      "token": token.hex().upper()})
        tokens.append(entry)
    out = {
        "about": "TR-34 tokens built by tests/interop/make_token.py in the layout of AWS Payment "
                 "Cryptography's samples (X9_TR34_2012) and RFC 5652 (X9_TR34_2019), with fixed "
                 "randomness. KDH: TR-34 Annex B KDH 1 under CA-KDH (vectors/data/tr34.json).",
        "verification_time": VERIFICATION_TIME,
        "tokens": tokens,
    }
    with open(os.path.join(args.data_dir, "tokens.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("import-token")
    for name in ("--krd-cert", "--key", "--header", "--out-dir"):
        make.add_argument(name, required=True)
    make.add_argument("--form", choices=FORMS, default=FORM_2012)
    for name in ("--kdh-key", "--kdh-cert", "--ephemeral", "--iv", "--oaep-seed"):
        make.add_argument(name)
    freshness = make.add_mutually_exclusive_group()
    freshness.add_argument("--nonce")
    freshness.add_argument("--signing-time")
    make.add_argument("--cipher", choices=sorted(CIPHERS))
    opener = commands.add_parser("open-token")
    for name in ("--token", "--krd-key", "--krd-cert", "--kdh-cert", "--ca-cert"):
        opener.add_argument(name, required=True)
    freshness = opener.add_mutually_exclusive_group(required=True)
    freshness.add_argument("--nonce")
    freshness.add_argument("--one-pass", action="store_true")
    opener.add_argument("--form", choices=FORMS, default=FORM_2012)
    fixtures = commands.add_parser("fixtures")
    fixtures.add_argument("--vectors", required=True)
    fixtures.add_argument("--data-dir", required=True)
    args = parser.parse_args()
    {"import-token": import_token_command, "open-token": open_token_command,
     "fixtures": fixtures_command}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
