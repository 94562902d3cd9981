"""Every operation the server offers, through boto3, each answer checked independently.

Keys of known value come in the way the service's users bring theirs: a KEK by TR-34
(GetParametersForImport, the KDH CA as a root certificate, the token built by the independent
TR-34 implementation tr34/tests/interop/make_token.py), then working keys as TR-31 blocks
that psec builds under the KEK. Every KCV is compared with one computed here from the clear
key; CVVs, PVVs, PIN blocks, MACs, ciphertexts and ARQCs with psec, pyemv and pyca
`cryptography`; exported TR-31 and TR-34 blocks are opened here and must hold the key.
"""

import base64
import datetime
import json
import os
import subprocess
import sys
import tempfile

import psec
import pyemv
from cryptography import x509
from cryptography.hazmat.primitives import cmac, hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

from common import MAKE_TOKEN, check, clients, done, fails, raw

cp, dp = clients()
work = tempfile.mkdtemp(prefix="payhsm-interop-")
count = 0


def ok(what):
    global count
    count += 1
    print(f"ok {count} {what}")


def tdes_kcv(key):
    return psec.des.generate_kcv(key, 3).hex().upper()


def aes_kcv(key):
    c = cmac.CMAC(algorithms.AES(key))
    c.update(bytes(16))
    return c.finalize()[:3].hex().upper()


def b64(pem_bytes):
    return base64.b64encode(pem_bytes).decode()


def unb64(text):
    return base64.b64decode(text)


def write(name, data):
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def make_token(*args):
    out = subprocess.run([sys.executable, MAKE_TOKEN, *args], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout)


def arn(out):
    return out["Key"]["KeyArn"]


# --- TR-34: a TDES KEK of known value ----------------------------------------------------
KEK = bytes.fromhex("0123456789ABCDEFFEDCBA987654321089ABCDEF01234567")
params = cp.get_parameters_for_import(KeyMaterialType="TR34_KEY_BLOCK",
                                      WrappingKeyAlgorithm="RSA_2048")
krd = x509.load_pem_x509_certificate(unb64(params["WrappingKeyCertificate"]))
krd_ca = x509.load_pem_x509_certificate(unb64(params["WrappingKeyCertificateChain"]))
krd_ca.public_key().verify(krd.signature, krd.tbs_certificate_bytes, padding.PKCS1v15(),
                           krd.signature_hash_algorithm)
check(isinstance(params["ParametersValidUntilTimestamp"], datetime.datetime), "timestamp")
ok("GetParametersForImport: a KRD certificate signed by its chain")

token = make_token("import-token", "--krd-cert", write("krd.pem", unb64(params["WrappingKeyCertificate"])),
                   "--key", KEK.hex(), "--header", "D0000K0TB00E0000", "--form", "X9_TR34_2012",
                   "--out-dir", work)
with open(os.path.join(work, "kdh_ca.pem"), "rb") as f:
    kdh_ca_pem = f.read()
with open(os.path.join(work, "kdh.pem"), "rb") as f:
    kdh_pem = f.read()
root_attrs = {"KeyAlgorithm": "RSA_2048", "KeyClass": "PUBLIC_KEY",
              "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
              "KeyModesOfUse": {"Verify": True}}
kdh_ca_arn = arn(cp.import_key(KeyMaterial={"RootCertificatePublicKey": {
    "KeyAttributes": root_attrs, "PublicKeyCertificate": b64(kdh_ca_pem)}}))
ok("ImportKey RootCertificatePublicKey (the KDH's CA)")
kek_key = cp.import_key(KeyMaterial={"Tr34KeyBlock": {
    "CertificateAuthorityPublicKeyIdentifier": kdh_ca_arn, "SigningKeyCertificate": b64(kdh_pem),
    "ImportToken": params["ImportToken"], "WrappedKeyBlock": token["token"],
    "KeyBlockFormat": "X9_TR34_2012", "RandomNonce": token["nonce"]}},
    KeyCheckValueAlgorithm="ANSI_X9_24")["Key"]
kek = kek_key["KeyArn"]
check(kek_key["KeyCheckValue"] == tdes_kcv(KEK), f"KEK KCV {kek_key['KeyCheckValue']}")
check(kek_key["KeyAttributes"]["KeyUsage"] == "TR31_K0_KEY_ENCRYPTION_KEY", "K0")
check(kek_key["KeyOrigin"] == "EXTERNAL", kek_key["KeyOrigin"])
ok("ImportKey Tr34KeyBlock: the KEK's KCV is the clear key's")


# --- TR-31: working keys of known value under the KEK ------------------------------------
def import_tr31(header, key):
    block = psec.tr31.wrap(KEK, header, key)
    out = cp.import_key(KeyMaterial={"Tr31KeyBlock": {
        "WrappingKeyIdentifier": kek, "WrappedKeyBlock": block}})["Key"]
    check(out["KeyCheckValue"] == tdes_kcv(key), f"{header}: KCV {out['KeyCheckValue']}")
    return out["KeyArn"]


CVK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
PVK = bytes.fromhex("0A1B2C3D4E5F60718293A4B5C6D7E8F9")
PEK1 = bytes.fromhex("1F2E3D4C5B6A79880123456789ABCDEF")
PEK2 = bytes.fromhex("89ABCDEF012345670123456789ABCDEF")
MACK = bytes.fromhex("7C2A9E4F01D3B5681A2B3C4D5E6F7081")
DEK = bytes.fromhex("3C3C3C3C3C3C3C3C5A5A5A5A5A5A5A5A")
DEK2 = bytes.fromhex("C4C4C4C4C4C4C4C4A7A7A7A7A7A7A7A7")
IMK = bytes.fromhex("9E15204313F7318ACB79B90BD986AD29")
cvk = import_tr31("B0000C0TC00E0000", CVK)
pvk = import_tr31("B0000V2TC00E0000", PVK)
pek1 = import_tr31("B0000P0TB00E0000", PEK1)
pek2 = import_tr31("B0000P0TB00E0000", PEK2)
mack = import_tr31("B0000M3TC00E0000", MACK)
dek = import_tr31("B0000D0TB00E0000", DEK)
dek2 = import_tr31("B0000D0TB00E0000", DEK2)
imk = import_tr31("B0000E0TX00E0000", IMK)
ok("ImportKey Tr31KeyBlock (psec's blocks): eight working keys, each KCV the clear key's")

# --- Card validation data ------------------------------------------------------------------
PAN = "4111111111111111"
cvv2 = dp.generate_card_validation_data(
    KeyIdentifier=cvk, PrimaryAccountNumber=PAN,
    GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}})
check(cvv2["ValidationData"] == psec.cvv.generate_cvv(CVK, PAN, "1230", "000"), "CVV2")
check(cvv2["KeyCheckValue"] == tdes_kcv(CVK), "CVV2 KCV")
ok("GenerateCardValidationData CVV2 = psec's")
dp.verify_card_validation_data(
    KeyIdentifier=cvk, PrimaryAccountNumber=PAN, ValidationData=cvv2["ValidationData"],
    VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}})
wrong = "%03d" % ((int(cvv2["ValidationData"]) + 1) % 1000)
r = fails("VerificationFailedException", dp.verify_card_validation_data, KeyIdentifier=cvk,
          PrimaryAccountNumber=PAN, ValidationData=wrong,
          VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}})
check(r["Reason"] == "INVALID_VALIDATION_DATA", r)
ok("VerifyCardValidationData: the right CVV2 verifies, another fails with its Reason")

# --- PIN: Visa PVV, translation, verification ----------------------------------------------
gen = dp.generate_pin_data(
    GenerationKeyIdentifier=pvk, EncryptionKeyIdentifier=pek1, PrimaryAccountNumber=PAN,
    PinBlockFormat="ISO_FORMAT_0", GenerationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1}})
block = bytes.fromhex(gen["EncryptedPinBlock"])
pin = psec.pinblock.decode_pinblock_iso_0(psec.des.decrypt_tdes_ecb(PEK1, block), PAN)
check(gen["PinData"]["VerificationValue"] == psec.pin.generate_visa_pvv(PVK, "1", pin, PAN), "PVV")
check(gen["GenerationKeyCheckValue"] == tdes_kcv(PVK) and gen["EncryptionKeyCheckValue"] == tdes_kcv(PEK1), "KCVs")
ok("GeneratePinData VisaPin: the PIN block opens under the PEK, the PVV is psec's for that PIN")

mine = psec.des.encrypt_tdes_ecb(PEK1, psec.pinblock.encode_pinblock_iso_0("4321", PAN))
tr = dp.translate_pin_data(
    IncomingKeyIdentifier=pek1, OutgoingKeyIdentifier=pek2, EncryptedPinBlock=mine.hex().upper(),
    IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
    OutgoingTranslationAttributes={"IsoFormat3": {"PrimaryAccountNumber": PAN}})
out_pin = psec.pinblock.decode_pinblock_iso_3(psec.des.decrypt_tdes_ecb(PEK2, bytes.fromhex(tr["PinBlock"])), PAN)
check(out_pin == "4321", out_pin)
check(tr["KeyCheckValue"] == tdes_kcv(PEK2), "translate KCV")
ok("TranslatePinData ISO 0 under PEK1 -> ISO 3 under PEK2: psec opens the same PIN")

pvv_4321 = psec.pin.generate_visa_pvv(PVK, "1", "4321", PAN)
dp.verify_pin_data(
    VerificationKeyIdentifier=pvk, EncryptionKeyIdentifier=pek1, PrimaryAccountNumber=PAN,
    EncryptedPinBlock=mine.hex().upper(), PinBlockFormat="ISO_FORMAT_0",
    VerificationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": pvv_4321}})
other = psec.des.encrypt_tdes_ecb(PEK1, psec.pinblock.encode_pinblock_iso_0("1234", PAN))
r = fails("VerificationFailedException", dp.verify_pin_data,
          VerificationKeyIdentifier=pvk, EncryptionKeyIdentifier=pek1, PrimaryAccountNumber=PAN,
          EncryptedPinBlock=other.hex().upper(), PinBlockFormat="ISO_FORMAT_0",
          VerificationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": pvv_4321}})
check(r["Reason"] == "INVALID_PIN", r)
ok("VerifyPinData: psec's PIN block verifies against psec's PVV; another PIN fails")

# --- MAC --------------------------------------------------------------------------------------
msg = b"4142434445464748 payment message".hex().upper()
mac = dp.generate_mac(KeyIdentifier=mack, MessageData=msg,
                      GenerationAttributes={"Algorithm": "ISO9797_ALGORITHM3"})
want = psec.mac.generate_retail_mac(MACK[:8], MACK[8:], bytes.fromhex(msg), 1)
check(mac["Mac"] == want.hex().upper(), f"MAC {mac['Mac']} != {want.hex()}")
ok("GenerateMac ISO 9797-1 algorithm 3 = psec's retail MAC")
dp.verify_mac(KeyIdentifier=mack, MessageData=msg, Mac=mac["Mac"],
              VerificationAttributes={"Algorithm": "ISO9797_ALGORITHM3"})
r = fails("VerificationFailedException", dp.verify_mac, KeyIdentifier=mack,
          MessageData=msg[:-2] + "00", Mac=mac["Mac"],
          VerificationAttributes={"Algorithm": "ISO9797_ALGORITHM3"})
check(r["Reason"] == "INVALID_MAC", r)
ok("VerifyMac: the MAC verifies; a changed message fails")

# --- Data encryption --------------------------------------------------------------------------
plain = "00112233445566778899AABBCCDDEEFF"
iv = "0102030405060708"
enc = dp.encrypt_data(KeyIdentifier=dek, PlainText=plain,
                      EncryptionAttributes={"Symmetric": {"Mode": "CBC", "InitializationVector": iv}})
check(enc["CipherText"] == psec.des.encrypt_tdes_cbc(DEK, bytes.fromhex(iv), bytes.fromhex(plain)).hex().upper(), "CBC")
ok("EncryptData TDES CBC (key id in the path label) = psec's")
dec = dp.decrypt_data(KeyIdentifier=dek, CipherText=enc["CipherText"],
                      DecryptionAttributes={"Symmetric": {"Mode": "CBC", "InitializationVector": iv}})
check(dec["PlainText"] == plain, "decrypt")
ok("DecryptData gives the plaintext back")
re = dp.re_encrypt_data(
    IncomingKeyIdentifier=dek, OutgoingKeyIdentifier=dek2, CipherText=enc["CipherText"],
    IncomingEncryptionAttributes={"Symmetric": {"Mode": "CBC", "InitializationVector": iv}},
    OutgoingEncryptionAttributes={"Symmetric": {"Mode": "ECB"}})
check(psec.des.decrypt_tdes_ecb(DEK2, bytes.fromhex(re["CipherText"])).hex().upper() == plain, "re-encrypt")
check(re["KeyCheckValue"] == tdes_kcv(DEK2), "re-encrypt KCV")
ok("ReEncryptData CBC under DEK -> ECB under DEK2: psec decrypts the plaintext")

# --- Dynamic keys: working keys that come with the request (WrappedKey), TR-31 under the KEK --
DYN_DEK = bytes.fromhex("6E6E6E6E6E6E6E6E1F1F1F1F1F1F1F1F")
DYN_PEK = bytes.fromhex("2C2C2C2C2C2C2C2CB3B3B3B3B3B3B3B3")


def dynamic(header, key):
    return {"WrappedKeyMaterial": {"Tr31KeyBlock": psec.tr31.wrap(KEK, header, key)}}


enc = dp.encrypt_data(KeyIdentifier=kek, PlainText=plain, EncryptionAttributes={"Symmetric": {"Mode": "ECB"}},
                      WrappedKey=dynamic("B0000D0TB00E0000", DYN_DEK))
check(enc["CipherText"] == psec.des.encrypt_tdes_ecb(DYN_DEK, bytes.fromhex(plain)).hex().upper(), "dynamic ECB")
check(enc["KeyArn"] == kek and enc["KeyCheckValue"] == tdes_kcv(DYN_DEK), "dynamic KCV")
ok("EncryptData with a WrappedKey (TR-31 D0 under the KEK) = psec's under the clear working key")
tr = dp.translate_pin_data(
    IncomingKeyIdentifier=pek1, OutgoingKeyIdentifier=kek, EncryptedPinBlock=mine.hex().upper(),
    IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
    OutgoingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
    OutgoingWrappedKey=dynamic("B0000P0TB00E0000", DYN_PEK))
out_pin = psec.pinblock.decode_pinblock_iso_0(psec.des.decrypt_tdes_ecb(DYN_PEK, bytes.fromhex(tr["PinBlock"])), PAN)
check(out_pin == "4321" and tr["KeyCheckValue"] == tdes_kcv(DYN_PEK), out_pin)
ok("TranslatePinData to a WrappedKey PEK: psec opens the PIN under the clear working key")
fails("ValidationException", dp.encrypt_data, KeyIdentifier=kek, PlainText=plain,
      EncryptionAttributes={"Symmetric": {"Mode": "ECB"}}, WrappedKey=dynamic("B0000P0TB00E0000", DYN_PEK))
ok("EncryptData with a PIN key as its WrappedKey is refused")

# --- EMV ARQC ---------------------------------------------------------------------------------
tx = "0000000010000000000000000710000000000007101312050030BD7A1C3C" + "5C00" + "00000000"
atc = "000F"
arqc_out = dp.generate_auth_request_cryptogram(
    KeyIdentifier=imk, TransactionData=tx, MajorKeyDerivationMode="EMV_OPTION_A",
    SessionKeyDerivationAttributes={"EmvCommon": {"PrimaryAccountNumber": PAN,
                                                  "PanSequenceNumber": "00",
                                                  "ApplicationTransactionCounter": atc}})
icc = pyemv.kd.derive_icc_mk_a(IMK, PAN, "00")
session = pyemv.kd.derive_common_sk(icc, bytes.fromhex(atc) + bytes(6))
want = pyemv.ac.generate_ac(session, bytes.fromhex(tx), pyemv.ac.PaddingType.EMV)
check(arqc_out["AuthRequestCryptogram"] == want.hex().upper(), f"ARQC {arqc_out} != {want.hex()}")
ok("GenerateAuthRequestCryptogram EMV common session key = pyemv's")
ver = dp.verify_auth_request_cryptogram(
    KeyIdentifier=imk, TransactionData=tx, AuthRequestCryptogram=want.hex().upper(),
    MajorKeyDerivationMode="EMV_OPTION_A",
    SessionKeyDerivationAttributes={"EmvCommon": {"PrimaryAccountNumber": PAN,
                                                  "PanSequenceNumber": "00",
                                                  "ApplicationTransactionCounter": atc}},
    AuthResponseAttributes={"ArpcMethod1": {"AuthResponseCode": "3030"}})
arpc = pyemv.ac.generate_arpc_1(session, want, bytes.fromhex("3030"))
check(ver["AuthResponseValue"] == arpc.hex().upper(), f"ARPC {ver}")
ok("VerifyAuthRequestCryptogram: pyemv's ARQC verifies, the ARPC method 1 is pyemv's")

# --- TR-31 export and translation ------------------------------------------------------------
exported = cp.export_key(ExportKeyIdentifier=cvk,
                         KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek}})
header, key = psec.tr31.unwrap(KEK, exported["WrappedKey"]["KeyMaterial"])
check(key == CVK and header.key_usage == "C0", "TR-31 export")
ok("ExportKey Tr31KeyBlock: psec opens the CVK under the KEK")

created = cp.create_key(KeyAttributes={"KeyAlgorithm": "TDES_2KEY", "KeyClass": "SYMMETRIC_KEY",
                                       "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
                                       "KeyModesOfUse": {"Generate": True, "Verify": True}},
                        Exportable=True, Tags=[{"Key": "team", "Value": "cards"}])["Key"]
_, clear = psec.tr31.unwrap(KEK, cp.export_key(
    ExportKeyIdentifier=created["KeyArn"],
    KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek}})["WrappedKey"]["KeyMaterial"])
check(created["KeyCheckValue"] == tdes_kcv(clear), "created KCV")
check(created["KeyOrigin"] == "AWS_PAYMENT_CRYPTOGRAPHY", created["KeyOrigin"])
check(isinstance(created["CreateTimestamp"], datetime.datetime), "CreateTimestamp")
ok("CreateKey: the KCV is the exported key's")

kek2_clear = bytes.fromhex("F0E1D2C3B4A5968778695A4B3C2D1E0F")
kek2 = import_tr31("B0000K0TB00E0000", kek2_clear)
# The HSM's incoming Tr31KeyBlock is not in the service's model, so boto3 cannot send it: the
# request goes out signed by botocore's SigV4 signer instead.
status, _, translated = raw("POST", "/keymaterial/translate", {
    "IncomingKeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek,
                                             "WrappedKeyBlock": psec.tr31.wrap(KEK, "B0000M3TC00E0000", MACK)}},
    "OutgoingKeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek2}}},
    {"Content-Type": "application/json"})
check(status == 200, translated)
_, key = psec.tr31.unwrap(kek2_clear, translated["WrappedKey"]["WrappedKeyMaterial"])
check(key == MACK and translated["WrappedKey"]["KeyCheckValue"] == tdes_kcv(MACK), "translate")
ok("TranslateKeyMaterial: TR-31 under KEK -> TR-31 under KEK2, psec opens the MAC key")

# --- TR-34 export to a KRD of ours ------------------------------------------------------------
now = datetime.datetime.now(datetime.timezone.utc)
ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
krd_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def cert(subject, issuer, public, signer, is_ca):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(public).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=30)))
    if is_ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return b.sign(signer, hashes.SHA256())


ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Interop KRD CA")])
krd_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Interop KRD")])
our_ca = cert(ca_name, ca_name, ca_key.public_key(), ca_key, True)
our_krd = cert(krd_name, ca_name, krd_key.public_key(), ca_key, False)
pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
our_ca_arn = arn(cp.import_key(KeyMaterial={"RootCertificatePublicKey": {
    "KeyAttributes": root_attrs, "PublicKeyCertificate": b64(pem(our_ca))}}))
export_params = cp.get_parameters_for_export(KeyMaterialType="TR34_KEY_BLOCK",
                                             SigningKeyAlgorithm="RSA_2048")
ok("GetParametersForExport")
nonce = "0F1E2D3C4B5A6978"
tr34 = cp.export_key(ExportKeyIdentifier=cvk, KeyMaterial={"Tr34KeyBlock": {
    "CertificateAuthorityPublicKeyIdentifier": our_ca_arn,
    "WrappingKeyCertificate": b64(pem(our_krd)), "ExportToken": export_params["ExportToken"],
    "KeyBlockFormat": "X9_TR34_2012", "RandomNonce": nonce}})
opened = make_token(
    "open-token", "--token", tr34["WrappedKey"]["KeyMaterial"], "--nonce", nonce,
    "--krd-key", write("krd_key.pem", krd_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
    "--krd-cert", write("our_krd.pem", pem(our_krd)),
    "--kdh-cert", write("apc_kdh.pem", unb64(export_params["SigningKeyCertificate"])),
    "--ca-cert", write("apc_kdh_ca.pem", unb64(export_params["SigningKeyCertificateChain"])),
    "--form", "X9_TR34_2012")
check(bytes.fromhex(opened["key"]) == CVK, "TR-34 export")
ok("ExportKey Tr34KeyBlock: the independent TR-34 opener finds the CVK")

# --- An RSA key pair and its certificate ------------------------------------------------------
pair = cp.create_key(KeyAttributes={"KeyAlgorithm": "RSA_2048", "KeyClass": "ASYMMETRIC_KEY_PAIR",
                                    "KeyUsage": "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
                                    "KeyModesOfUse": {"Encrypt": True, "Decrypt": True,
                                                      "Wrap": True, "Unwrap": True}},
                     Exportable=False)["Key"]
certs = cp.get_public_key_certificate(KeyIdentifier=pair["KeyArn"])
leaf = x509.load_pem_x509_certificate(unb64(certs["KeyCertificate"]))
chain = x509.load_pem_x509_certificate(unb64(certs["KeyCertificateChain"]))
chain.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(),
                          leaf.signature_hash_algorithm)
ok("GetPublicKeyCertificate: the key's certificate is signed by the chain")
check(leaf.public_key().key_size == 2048, "RSA-2048")

# pyca encrypts under the pair's certified public key; the HSM decrypts with its private key.
secret_data = b"interop plaintext for RSA"
for pad_name, pad in [("OAEP_SHA256", padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)),
                      ("PKCS1", padding.PKCS1v15())]:
    ct = leaf.public_key().encrypt(secret_data, pad)
    clear = dp.decrypt_data(KeyIdentifier=pair["KeyArn"], CipherText=ct.hex().upper(),
                            DecryptionAttributes={"Asymmetric": {"PaddingType": pad_name}})
    check(bytes.fromhex(clear["PlainText"]) == secret_data, (pad_name, clear))
ok("DecryptData Asymmetric (OAEP SHA-256, PKCS #1): pyca's ciphertexts open under the HSM's pair")

signer = cp.create_key(KeyAttributes={"KeyAlgorithm": "RSA_2048", "KeyClass": "ASYMMETRIC_KEY_PAIR",
                                      "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                                      "KeyModesOfUse": {"Sign": True}}, Exportable=False)["Key"]
csr_out = cp.get_certificate_signing_request(
    KeyIdentifier=signer["KeyArn"], SigningAlgorithm="SHA256",
    CertificateSubject={"CommonName": "payhsm interop", "Organization": "Example Bank", "Country": "US"})
csr = x509.load_pem_x509_csr(unb64(csr_out["CertificateSigningRequest"]))
check(csr.is_signature_valid, "CSR signature")
check(csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "payhsm interop", csr.subject)
signer_cert = x509.load_pem_x509_certificate(unb64(cp.get_public_key_certificate(
    KeyIdentifier=signer["KeyArn"])["KeyCertificate"]))
check(csr.public_key().public_numbers() == signer_cert.public_key().public_numbers(), "CSR key")
ok("GetCertificateSigningRequest: pyca parses the CSR, its signature checks, the key is the pair's")

params = cp.get_parameters_for_import(KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_3072")
wrap_cert = x509.load_pem_x509_certificate(unb64(params["WrappingKeyCertificate"]))
AES_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
cryptogram = wrap_cert.public_key().encrypt(
    AES_KEY, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
imported = cp.import_key(KeyMaterial={"KeyCryptogram": {
    "KeyAttributes": {"KeyAlgorithm": "AES_128", "KeyClass": "SYMMETRIC_KEY",
                      "KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY",
                      "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}},
    "Exportable": True, "ImportToken": params["ImportToken"],
    "WrappedKeyCryptogram": cryptogram.hex().upper(), "WrappingSpec": "RSA_OAEP_SHA_256"}})["Key"]
check(imported["KeyCheckValue"] == aes_kcv(AES_KEY), (imported, aes_kcv(AES_KEY)))
ok("ImportKey KeyCryptogram: pyca's RSA-OAEP cryptogram of an AES-128 key; the KCV is the clear key's")

# --- Lifecycle, aliases, tags, policies -------------------------------------------------------
key = cp.get_key(KeyIdentifier=cvk)["Key"]
check(key["KeyCheckValue"] == tdes_kcv(CVK) and key["KeyState"] == "CREATE_COMPLETE", key)
ok("GetKey")
seen = [k["KeyArn"] for page in cp.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 3})
        for k in page["Keys"]]
mine = {kek, cvk, pvk, pek1, pek2, mack, dek, dek2, imk, kek2, created["KeyArn"], pair["KeyArn"]}
check(mine <= set(seen) and len(seen) == len(set(seen)), seen)
ok("ListKeys, three a page through boto3's paginator")

cp.stop_key_usage(KeyIdentifier=created["KeyArn"])
fails("ValidationException", dp.generate_card_validation_data, KeyIdentifier=created["KeyArn"],
      PrimaryAccountNumber=PAN, GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}})
check(cp.start_key_usage(KeyIdentifier=created["KeyArn"])["Key"]["Enabled"], "enabled")
ok("StopKeyUsage refuses the key's use; StartKeyUsage allows it again")
deleted = cp.delete_key(KeyIdentifier=created["KeyArn"], DeleteKeyInDays=3)["Key"]
check(deleted["KeyState"] == "DELETE_PENDING" and isinstance(deleted["DeletePendingTimestamp"], datetime.datetime), deleted)
check(cp.restore_key(KeyIdentifier=created["KeyArn"])["Key"]["KeyState"] == "CREATE_COMPLETE", "restore")
ok("DeleteKey (3 days) and RestoreKey")

alias = cp.create_alias(AliasName="alias/interop-cvk", KeyArn=cvk)["Alias"]
check(alias["KeyArn"] == cvk, alias)
by_alias = dp.generate_card_validation_data(
    KeyIdentifier="alias/interop-cvk", PrimaryAccountNumber=PAN,
    GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}})
check(by_alias["ValidationData"] == cvv2["ValidationData"], "by alias")
check(cp.get_alias(AliasName="alias/interop-cvk")["Alias"]["KeyArn"] == cvk, "get alias")
check(cp.update_alias(AliasName="alias/interop-cvk", KeyArn=mack)["Alias"]["KeyArn"] == mack, "update")
check(any(a["AliasName"] == "alias/interop-cvk" for a in cp.list_aliases()["Aliases"]), "list aliases")
cp.delete_alias(AliasName="alias/interop-cvk")
fails("ResourceNotFoundException", cp.get_alias, AliasName="alias/interop-cvk")
ok("CreateAlias, GetAlias, UpdateAlias, ListAliases, DeleteAlias; a key used by its alias")

cp.tag_resource(ResourceArn=cvk, Tags=[{"Key": "env", "Value": "test"}, {"Key": "pci", "Value": "yes"}])
cp.untag_resource(ResourceArn=cvk, TagKeys=["pci"])
tags = cp.list_tags_for_resource(ResourceArn=cvk)["Tags"]
check(tags == [{"Key": "env", "Value": "test"}], tags)
ok("TagResource, UntagResource, ListTagsForResource")

policy = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Sid": "Interop", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
    "Action": "payment-cryptography:GetKey", "Resource": "*"}]})
put = cp.put_resource_policy(ResourceArn=cvk, Policy=policy)
check(put["ResourceArn"] == cvk, put)
check(json.loads(cp.get_resource_policy(ResourceArn=cvk)["Policy"]) == json.loads(policy), "policy")
cp.delete_resource_policy(ResourceArn=cvk)
fails("ResourceNotFoundException", cp.get_resource_policy, ResourceArn=cvk)
ok("PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy")

# --- EMV PIN change (EMV2000 session keys) ---------------------------------------------------
SMI = bytes.fromhex("0123456789ABCDEF1032547698BADCFE")
SMC = bytes.fromhex("FEDCBA98765432100123456789ABCDEF")
smi = import_tr31("B0000E2TX00E0000", SMI)
smc = import_tr31("B0000E1TX00E0000", SMC)
new_pin = psec.des.encrypt_tdes_ecb(PEK1, psec.pinblock.encode_pinblock_iso_0("2468", PAN))
script = "8424000210" + "000F" + "1234567890ABCDEF"
change = dp.generate_mac_emv_pin_change(
    NewPinPekIdentifier=pek1, NewEncryptedPinBlock=new_pin.hex().upper(),
    PinBlockFormat="ISO_FORMAT_0", SecureMessagingIntegrityKeyIdentifier=smi,
    SecureMessagingConfidentialityKeyIdentifier=smc, MessageData=script,
    DerivationMethodAttributes={"Emv2000": {"MajorKeyDerivationMode": "EMV_OPTION_A",
                                            "PrimaryAccountNumber": PAN, "PanSequenceNumber": "00",
                                            "ApplicationTransactionCounter": "000F"}})
sk_smi = pyemv.kd.derive_emv2000_tree_sk(pyemv.kd.derive_icc_mk_a(SMI, PAN, "00"), bytes.fromhex("000F"))
sk_smc = pyemv.kd.derive_emv2000_tree_sk(pyemv.kd.derive_icc_mk_a(SMC, PAN, "00"), bytes.fromhex("000F"))
enciphered = psec.des.encrypt_tdes_ecb(sk_smc, pyemv.sm.format_iso9564_2_pin_block("2468"))
check(change["EncryptedPinBlock"] == enciphered.hex().upper(), f"{change} != {enciphered.hex()}")
want = pyemv.sm.generate_command_mac(sk_smi, bytes.fromhex(script) + enciphered)
check(want.hex().upper().startswith(change["Mac"]) and len(change["Mac"]) >= 8, f"{change} != {want.hex()}")
check(change["NewPinPekKeyCheckValue"] == tdes_kcv(PEK1), change)
ok("GenerateMacEmvPinChange EMV2000: the enciphered PIN and the script MAC are pyemv's")

# --- Multi-region keys: the server replicates in the background ------------------------------
import time

import botocore.exceptions

west_cp, west_dp = clients("us-west-2")


def synchronized(arn, region="us-west-2", timeout=30):
    """The primary's key once its replica in `region` is SYNCHRONIZED (the server drains its
    outbox in the background: nothing here asks it to)."""
    deadline = time.time() + timeout
    while True:
        key = cp.get_key(KeyIdentifier=arn)["Key"]
        status = key.get("ReplicationStatus", {}).get(region, {}).get("Status")
        if status == "SYNCHRONIZED":
            return key
        check(status == "IN_PROGRESS" and time.time() < deadline, key)
        time.sleep(0.2)


CVK_ATTRS = {"KeyAlgorithm": "TDES_2KEY", "KeyClass": "SYMMETRIC_KEY",
             "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
             "KeyModesOfUse": {"Generate": True, "Verify": True}}
multi = cp.create_key(KeyAttributes=CVK_ATTRS, Exportable=True,
                      ReplicationRegions=["us-west-2"])["Key"]
check(multi["MultiRegionKeyType"] == "PRIMARY"
      and multi["ReplicationStatus"]["us-west-2"]["Status"] == "IN_PROGRESS", multi)
primary = synchronized(multi["KeyArn"])
replica_arn = multi["KeyArn"].replace(":us-east-1:", ":us-west-2:")
replica = west_cp.get_key(KeyIdentifier=replica_arn)["Key"]
check(replica["KeyCheckValue"] == primary["KeyCheckValue"]
      and replica["MultiRegionKeyType"] == "REPLICA" and replica["PrimaryRegion"] == "us-east-1"
      and replica["KeyAttributes"] == primary["KeyAttributes"], replica)
cvv_attrs = {"CardVerificationValue2": {"CardExpiryDate": "1230"}}
check(west_dp.generate_card_validation_data(KeyIdentifier=replica_arn, PrimaryAccountNumber=PAN,
                                            GenerationAttributes=cvv_attrs)["ValidationData"]
      == dp.generate_card_validation_data(KeyIdentifier=multi["KeyArn"], PrimaryAccountNumber=PAN,
                                          GenerationAttributes=cvv_attrs)["ValidationData"], "cvv")
try:
    west_cp.stop_key_usage(KeyIdentifier=replica_arn)
    raise AssertionError("StopKeyUsage on a replica succeeded")
except botocore.exceptions.ClientError as e:
    check("us-east-1" in e.response["Error"]["Message"], e.response)
ok("CreateKey ReplicationRegions: the replica in us-west-2 has the KCV, the CVV2; it is read-only")

removed = cp.remove_key_replication_regions(KeyIdentifier=multi["KeyArn"],
                                            ReplicationRegions=["us-west-2"])["Key"]
check(removed.get("ReplicationStatus", {}).get("us-west-2", {}).get("Status")
      in (None, "DELETE_IN_PROGRESS"), removed)
deadline = time.time() + 30
while west_cp.get_key(KeyIdentifier=replica_arn)["Key"]["KeyState"] != "DELETE_COMPLETE":
    check(time.time() < deadline, "the replica is still there")
    time.sleep(0.2)
fails("ValidationException", west_dp.generate_card_validation_data, KeyIdentifier=replica_arn,
      PrimaryAccountNumber=PAN, GenerationAttributes=cvv_attrs)
ok("RemoveKeyReplicationRegions: the replica is deleted (DELETE_COMPLETE) and refuses use")
added = cp.add_key_replication_regions(KeyIdentifier=multi["KeyArn"],
                                       ReplicationRegions=["us-west-2"])["Key"]
check(added["ReplicationStatus"]["us-west-2"]["Status"] in ("IN_PROGRESS", "SYNCHRONIZED"), added)
check(synchronized(multi["KeyArn"])["KeyCheckValue"]
      == west_cp.get_key(KeyIdentifier=replica_arn)["Key"]["KeyCheckValue"], "re-added")
ok("AddKeyReplicationRegions: the replica is back")

check(cp.get_default_key_replication_regions()["EnabledReplicationRegions"] == [], "no defaults")
enabled = cp.enable_default_key_replication_regions(ReplicationRegions=["us-west-2"])
check(enabled["EnabledReplicationRegions"] == ["us-west-2"], enabled)
by_default = cp.create_key(KeyAttributes=CVK_ATTRS, Exportable=True)["Key"]
check(by_default.get("UsingDefaultReplicationRegions") is True, by_default)
synchronized(by_default["KeyArn"])
disabled = cp.disable_default_key_replication_regions(ReplicationRegions=["us-west-2"])
check(disabled["EnabledReplicationRegions"] == [], disabled)
check("ReplicationStatus" not in cp.create_key(KeyAttributes=CVK_ATTRS, Exportable=True)["Key"],
      "defaults off")
ok("Enable/Get/DisableDefaultKeyReplicationRegions: a key made between them replicates")

done("every_operation", count)
