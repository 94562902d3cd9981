#!/usr/bin/env python3
"""The other party of an ECDH key exchange with payhsm, written from the standards and the
service's documentation, not from payhsm's code: pyca/cryptography for the curves, the X.509
certificates and the KDFs (ConcatKDFHash is NIST SP 800-56C one-step with a hash; X963KDF is
ANSI X9.63), psec for the TR-31 key blocks.

Reads one JSON object on stdin and writes one on stdout.
  party   {"curve", "chain"}  -> a key pair and its certificates: a self-signed CA (as the
          service's samples make it) and, with "chain", a leaf for key agreement signed by it.
          {"key": PEM, "ca": B64 PEM, "leaf": B64 PEM}
  derive  {"key", "peer", "kdf", "hash", "length", "shared_info"} -> {"kbpk": HEX};
          with "aes" (true for an AES key, false for TDES) also its "kcv"
  wrap    derive's members (or "clear": the KBPK in clear) + {"header", "clear_key"}
          -> {"block", "kcv"}
  unwrap  wrap's key members + {"block"} -> {"header", "clear_key", "kcv"}
  pin_encrypt  derive's members (or "clear": HEX, a key known in clear) + {"pin", "pan",
          "format"} -> {"block"}: an ISO 9564 format 0 (TDES) or 4 (AES) PIN block
  pin_decrypt  the same + {"block"} -> {"pin"}
  crypt   the same + {"mode": "ECB"|"CBC", "iv", "data", "encrypt"} -> {"data"}: TDES or AES
  pvv     {"pvk", "pvki", "pin", "pan"} -> {"pvv"}: the Visa PIN verification value
"peer" is the other side's certificate as the service returns it (base64 of the PEM text).
"""
import base64
import datetime
import json
import sys
import warnings

warnings.filterwarnings("ignore")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import cmac, hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash  # noqa: E402
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
import psec.pin  # noqa: E402
import psec.pinblock  # noqa: E402
import psec.tr31  # noqa: E402

CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
HASHES = {"SHA_256": hashes.SHA256, "SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512}


def b64(cert):
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Interop Party"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def certificate(subject, issuer, public_key, signer, ca):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=3650)))
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
    return builder.sign(signer, hashes.SHA256())


def party(req):
    curve = CURVES[req["curve"]]()
    ca_key = ec.generate_private_key(curve)
    ca = certificate(name("Interop CA"), name("Interop CA"), ca_key.public_key(), ca_key, True)
    out = {"ca": b64(ca)}
    if req.get("chain"):
        key = ec.generate_private_key(curve)
        out["leaf"] = b64(certificate(name("Interop party"), ca.subject, key.public_key(), ca_key, False))
    else:
        key, out["leaf"] = ca_key, out["ca"]
    out["key"] = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()).decode()
    return out


def kbpk(req):
    key = serialization.load_pem_private_key(req["key"].encode(), password=None)
    peer = x509.load_pem_x509_certificate(base64.b64decode(req["peer"])).public_key()
    z = key.exchange(ec.ECDH(), peer)
    info = bytes.fromhex(req["shared_info"])
    algorithm = HASHES[req["hash"]]()
    if req["kdf"] == "NIST_SP800":
        kdf = ConcatKDFHash(algorithm=algorithm, length=req["length"], otherinfo=info)
    else:
        kdf = X963KDF(algorithm=algorithm, length=req["length"], sharedinfo=info)
    return kdf.derive(z)


def kcv(key, algorithm):
    """The service's KCV: CMAC of a zero block for AES, TDES ECB of a zero block for TDES (none
    here for HMAC keys)."""
    if algorithm == "H":
        return None
    if algorithm == "A":
        c = cmac.CMAC(algorithms.AES(key))
        c.update(bytes(16))
        return c.finalize()[:3].hex().upper()
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    e = Cipher(TripleDES(key), modes.ECB()).encryptor()
    return (e.update(bytes(8)) + e.finalize())[:3].hex().upper()


def derive(req):
    key = kbpk(req)
    out = {"kbpk": key.hex().upper()}
    if "aes" in req:  # the derived key's algorithm is known: its KCV too
        out["kcv"] = kcv(key, "A" if req["aes"] else "T")
    return out


def wrap(req):
    clear = bytes.fromhex(req["clear_key"])
    block = psec.tr31.wrap(working_key(req), req["header"], clear)
    return {"block": block, "kcv": kcv(clear, req["header"][7])}


def unwrap(req):
    header, clear = psec.tr31.unwrap(working_key(req), req["block"])
    return {"header": str(header), "clear_key": clear.hex().upper(), "kcv": kcv(clear, str(header)[7])}


def working_key(req):
    """The key a data-plane request works with: derived by ECDH, or given in clear."""
    return bytes.fromhex(req["clear"]) if "clear" in req else kbpk(req)


def block_cipher(req, key):
    """AES if the request says so ("aes": true), else TDES."""
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    return algorithms.AES(key) if req.get("aes") else TripleDES(key)


def pin_encrypt(req):
    key = working_key(req)
    if req["format"] == "ISO_FORMAT_4":
        block = psec.pinblock.encipher_pinblock_iso_4(key, req["pin"], req["pan"])
    else:
        clear = psec.pinblock.encode_pinblock_iso_0(req["pin"], req["pan"])
        e = Cipher(block_cipher({}, key), modes.ECB()).encryptor()
        block = e.update(clear) + e.finalize()
    return {"block": block.hex().upper()}


def pin_decrypt(req):
    key = working_key(req)
    block = bytes.fromhex(req["block"])
    if req["format"] == "ISO_FORMAT_4":
        return {"pin": psec.pinblock.decipher_pinblock_iso_4(key, block, req["pan"])}
    d = Cipher(block_cipher({}, key), modes.ECB()).decryptor()
    return {"pin": psec.pinblock.decode_pinblock_iso_0(d.update(block) + d.finalize(), req["pan"])}


def crypt(req):
    key = working_key(req)
    mode = modes.ECB() if req["mode"] == "ECB" else modes.CBC(bytes.fromhex(req["iv"]))
    c = Cipher(block_cipher(req, key), mode)
    op = c.encryptor() if req["encrypt"] else c.decryptor()
    return {"data": (op.update(bytes.fromhex(req["data"])) + op.finalize()).hex().upper()}


def pvv(req):
    return {"pvv": psec.pin.generate_visa_pvv(bytes.fromhex(req["pvk"]), req["pvki"], req["pin"], req["pan"])}


def main():
    op = {"party": party, "derive": derive, "wrap": wrap, "unwrap": unwrap,
          "pin_encrypt": pin_encrypt, "pin_decrypt": pin_decrypt, "crypt": crypt,
          "pvv": pvv}[sys.argv[1]]
    json.dump(op(json.load(sys.stdin)), sys.stdout)


if __name__ == "__main__":
    main()
