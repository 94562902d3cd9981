#!/usr/bin/env python3
"""Writes the seed corpora. tr31_unwrap: from the published vectors (vectors/data/tr31.json),
every key block, and every header alone. pin_block_decode, ksn_parse, cli_shorthand: a few
well-formed inputs each. x509_cert and cms: the TR-34 samples of tr34_import's seeds
(which tr34/tests/fuzz_body.rs writes). Run from the repository root:
    python3 fuzz/seeds/make_seeds.py
"""
import base64
import json
import pathlib

root = pathlib.Path(__file__).resolve().parents[2]
out = root / "fuzz" / "seeds" / "tr31_unwrap"
out.mkdir(parents=True, exist_ok=True)
for entry in json.loads((root / "vectors" / "data" / "tr31.json").read_text()):
    block = entry["expected"].get("key_block")
    if block is None:
        continue
    (out / f"{entry['id']}.block").write_text(block)
    (out / f"{entry['id']}.header").write_text(entry["inputs"]["header"])


def write(target, name, data):
    d = root / "fuzz" / "seeds" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


# PAN 4111111111111111: its 12 rightmost digits without the check digit, behind 0000.
pan_field = bytes.fromhex("0000111111111111")
write("pin_block_decode", "iso0_pin1234", xor(bytes.fromhex("041234FFFFFFFFFF"), pan_field))
write("pin_block_decode", "iso0_pin123456789012", xor(bytes.fromhex("0C123456789012FF"), pan_field))
write("pin_block_decode", "iso1_pin1234", bytes.fromhex("141234A1B2C3D4E5"))
write("pin_block_decode", "iso3_pin1234", xor(bytes.fromhex("341234ABCDEFABCD"), pan_field))
write("pin_block_decode", "iso4_pin1234", bytes.fromhex("441234AAAAAAAAAA0123456789ABCDEF"))
write("pin_block_decode", "hex_text", "C1D8B7E1A2F0C3D4")
write("ksn_parse", "tdes_bytes", bytes.fromhex("FFFF9876543210E00001"))
write("ksn_parse", "tdes_text", "FFFF9876543210E00001")
write("ksn_parse", "aes_bytes", bytes.fromhex("123456789012345600000001"))
write("ksn_parse", "aes_text", "123456789012345600000001")
tr34 = root / "fuzz" / "seeds" / "tr34_import"
for name in ["ca_kdh.cert", "kdh1.cert", "krd1.cert", "kdh1.csr"]:
    write("x509_cert", name, (tr34 / name).read_bytes())
b64 = base64.b64encode((tr34 / "kdh1.cert").read_bytes()).decode()
lines = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
write("x509_cert", "kdh1.pem", f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n")
for name in ["X9_TR34_2012.token", "X9_TR34_2019.token"]:
    write("cms", name, (tr34 / name).read_bytes())
write(
    "cli_shorthand",
    "create_key",
    "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_C0_CARD_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,"
    "KeyModesOfUse={Generate=true,Verify=true}",
)
write(
    "cli_shorthand",
    "nested_list",
    "CardVerificationValue2={CardExpiryDate=0926},Tags=[{Key=a,Value='x,y'},{Key=b,Value=\"}\"}]",
)
write(
    "cli_shorthand",
    "json",
    '{"KeyIdentifier":"alias/k","MessageData":"00112233","GenerationAttributes":{"Algorithm":"CMAC"}}',
)

# dispatch_json: the operation's name, a newline, the request (keys under the aliases that
# fuzz/src/dispatch_json.rs creates).
dispatch = {
    "create_key": ("CreateKey", {"KeyAttributes": {"KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": {"Generate": True, "Verify": True}}, "Exportable": False}),
    "cvv2": ("GenerateCardValidationData", {"KeyIdentifier": "alias/cvk", "PrimaryAccountNumber": "4111111111111111", "GenerationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "1230"}}}),
    "verify_cvv2": ("VerifyCardValidationData", {"KeyIdentifier": "alias/cvk", "PrimaryAccountNumber": "4111111111111111", "ValidationData": "123", "VerificationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "1230"}}}),
    "pin": ("GeneratePinData", {"GenerationKeyIdentifier": "alias/pvk", "EncryptionKeyIdentifier": "alias/pek", "GenerationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 1}}, "PinBlockFormat": "ISO_FORMAT_0", "PrimaryAccountNumber": "4111111111111111"}),
    "translate_pin": ("TranslatePinData", {"IncomingKeyIdentifier": "alias/pek", "OutgoingKeyIdentifier": "alias/pek", "IncomingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": "4111111111111111"}}, "OutgoingTranslationAttributes": {"IsoFormat3": {"PrimaryAccountNumber": "4111111111111111"}}, "EncryptedPinBlock": "0123456789ABCDEF"}),
    "mac": ("GenerateMac", {"KeyIdentifier": "alias/mac", "MessageData": "00112233", "GenerationAttributes": {"Algorithm": "CMAC"}}),
    "encrypt": ("EncryptData", {"KeyIdentifier": "alias/dek", "PlainText": "00112233445566778899AABBCCDDEEFF", "EncryptionAttributes": {"Symmetric": {"Mode": "CBC", "InitializationVector": "00000000000000000000000000000000"}}}),
    "export": ("ExportKey", {"ExportKeyIdentifier": "alias/cvk", "KeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": "alias/kbpk"}}}),
    "list_keys": ("ListKeys", {"MaxResults": 2}),
    "aliases": ("ListAliases", {"MaxResults": 10}),
}
for name, (operation, request) in dispatch.items():
    write("dispatch_json", name, operation + "\n" + json.dumps(request))
