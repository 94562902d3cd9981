#!/usr/bin/env python3
"""The other party of an ECDH key exchange with payhsm, written from the standards and the
service's documentation, not from payhsm's code: pyca/cryptography for the curves, the X.509
certificates and the KDFs (ConcatKDFHash is NIST SP 800-56C one-step with a hash; X963KDF is
ANSI X9.63), psec for the TR-31 key blocks.

Reads one JSON object on stdin and writes one on stdout.
  party   {"curve", "chain"}  -> a key pair and its certificates: a self-signed CA (as the
          service's samples make it) and, with "chain", a leaf for key agreement signed by it.
          {"key": PEM, "ca": B64 PEM, "leaf": B64 PEM}
  derive  {"key", "peer", "kdf", "hash", "length", "shared_info"} -> {"kbpk": HEX}
  wrap    derive's members + {"header", "clear_key"} -> {"block", "kcv"}
  unwrap  derive's members + {"block"} -> {"header", "clear_key", "kcv"}
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
    return {"kbpk": kbpk(req).hex().upper()}


def wrap(req):
    clear = bytes.fromhex(req["clear_key"])
    block = psec.tr31.wrap(kbpk(req), req["header"], clear)
    return {"block": block, "kcv": kcv(clear, req["header"][7])}


def unwrap(req):
    header, clear = psec.tr31.unwrap(kbpk(req), req["block"])
    return {"header": str(header), "clear_key": clear.hex().upper(), "kcv": kcv(clear, str(header)[7])}


def main():
    op = {"party": party, "derive": derive, "wrap": wrap, "unwrap": unwrap}[sys.argv[1]]
    json.dump(op(json.load(sys.stdin)), sys.stdout)


if __name__ == "__main__":
    main()
