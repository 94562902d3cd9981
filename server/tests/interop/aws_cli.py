"""The AWS CLI v1 against the server with only --endpoint-url: a CVK, get-key, a CVV2
generated and verified, a PIN block translated, a MAC generated and verified.

The PIN translation is checked end to end: generate-pin-data gives a PIN block under PEK1 and
its Visa PVV, translate-pin-data moves the block to PEK2 (ISO 0 to ISO 3), and
verify-pin-data checks the translated block under PEK2 against the PVV.
"""

import json
import os
import subprocess
import sys
import time

from common import ENDPOINT, check, done

AWS = os.path.join(os.path.dirname(sys.executable), "aws")
count = 0


def aws(*args, expect=0):
    global count
    run = subprocess.run([AWS, *args, "--endpoint-url", ENDPOINT, "--output", "json"],
                         capture_output=True, text=True, env={**os.environ, "AWS_PAGER": ""})
    check(run.returncode == expect, f"aws {' '.join(args)}: rc {run.returncode}: {run.stderr}")
    count += 1
    print(f"ok {count} aws {args[0]} {args[1]}")
    return json.loads(run.stdout) if run.stdout.strip() else run.stderr


def create(usage, modes, *extra):
    return aws("payment-cryptography", "create-key", "--exportable", "--key-attributes",
               f"KeyAlgorithm=TDES_2KEY,KeyUsage={usage},KeyClass=SYMMETRIC_KEY,KeyModesOfUse={{{modes}}}",
               *extra)["Key"]


# The seed walkthrough: a CVK replicated to us-west-2, then get-key in both regions.
cvk = create("TR31_C0_CARD_VERIFICATION_KEY", "Generate=true,Verify=true",
             "--replication-regions", "us-west-2")
check(cvk["MultiRegionKeyType"] == "PRIMARY", cvk)
check(cvk["KeyArn"].startswith("arn:aws:payment-cryptography:us-east-1:111122223333:key/"), cvk)
deadline = time.time() + 30
while True:
    got = aws("payment-cryptography", "get-key", "--key-identifier", cvk["KeyArn"])["Key"]
    if got["ReplicationStatus"]["us-west-2"]["Status"] == "SYNCHRONIZED":
        break
    check(time.time() < deadline, got)
    time.sleep(0.3)
check(got["KeyCheckValue"] == cvk["KeyCheckValue"] and got["KeyState"] == "CREATE_COMPLETE", got)
west = aws("payment-cryptography", "get-key", "--region", "us-west-2", "--key-identifier",
           cvk["KeyArn"].replace(":us-east-1:", ":us-west-2:"))["Key"]
check(west["KeyCheckValue"] == cvk["KeyCheckValue"] and west["MultiRegionKeyType"] == "REPLICA", west)

PAN = "171234567890123"
cvv = aws("payment-cryptography-data", "generate-card-validation-data", "--key-identifier",
          cvk["KeyArn"], "--primary-account-number", PAN, "--generation-attributes",
          "CardVerificationValue2={CardExpiryDate=0123}")
aws("payment-cryptography-data", "verify-card-validation-data", "--key-identifier", cvk["KeyArn"],
    "--primary-account-number", PAN, "--verification-attributes",
    "CardVerificationValue2={CardExpiryDate=0123}", "--validation-data", cvv["ValidationData"])
wrong = "%03d" % ((int(cvv["ValidationData"]) + 1) % 1000)
err = aws("payment-cryptography-data", "verify-card-validation-data", "--key-identifier",
          cvk["KeyArn"], "--primary-account-number", PAN, "--verification-attributes",
          "CardVerificationValue2={CardExpiryDate=0123}", "--validation-data", wrong, expect=255)
check("VerificationFailedException" in err, err)

pvk = create("TR31_V2_VISA_PIN_VERIFICATION_KEY", "Generate=true,Verify=true")
pek1 = create("TR31_P0_PIN_ENCRYPTION_KEY", "Encrypt=true,Decrypt=true,Wrap=true,Unwrap=true")
pek2 = create("TR31_P0_PIN_ENCRYPTION_KEY", "Encrypt=true,Decrypt=true,Wrap=true,Unwrap=true")
pin = aws("payment-cryptography-data", "generate-pin-data", "--generation-key-identifier",
          pvk["KeyArn"], "--encryption-key-identifier", pek1["KeyArn"],
          "--primary-account-number", PAN, "--pin-block-format", "ISO_FORMAT_0",
          "--generation-attributes", "VisaPin={PinVerificationKeyIndex=1}")
moved = aws("payment-cryptography-data", "translate-pin-data", "--incoming-key-identifier",
            pek1["KeyArn"], "--outgoing-key-identifier", pek2["KeyArn"],
            "--incoming-translation-attributes", f"IsoFormat0={{PrimaryAccountNumber={PAN}}}",
            "--outgoing-translation-attributes", f"IsoFormat3={{PrimaryAccountNumber={PAN}}}",
            "--encrypted-pin-block", pin["EncryptedPinBlock"])
check(moved["PinBlock"] != pin["EncryptedPinBlock"] and moved["KeyArn"] == pek2["KeyArn"], moved)
aws("payment-cryptography-data", "verify-pin-data", "--verification-key-identifier", pvk["KeyArn"],
    "--encryption-key-identifier", pek2["KeyArn"], "--primary-account-number", PAN,
    "--pin-block-format", "ISO_FORMAT_3", "--encrypted-pin-block", moved["PinBlock"],
    "--verification-attributes",
    f"VisaPin={{PinVerificationKeyIndex=1,VerificationValue={pin['PinData']['VerificationValue']}}}")

mac_key = create("TR31_M3_ISO_9797_3_MAC_KEY", "Generate=true,Verify=true")
msg = "3b313038393736353433323130"
mac = aws("payment-cryptography-data", "generate-mac", "--key-identifier", mac_key["KeyArn"],
          "--message-data", msg, "--generation-attributes", "Algorithm=ISO9797_ALGORITHM3")
aws("payment-cryptography-data", "verify-mac", "--key-identifier", mac_key["KeyArn"],
    "--message-data", msg, "--mac", mac["Mac"], "--verification-attributes",
    "Algorithm=ISO9797_ALGORITHM3")
err = aws("payment-cryptography-data", "verify-mac", "--key-identifier", mac_key["KeyArn"],
          "--message-data", msg[:-2] + "31", "--mac", mac["Mac"], "--verification-attributes",
          "Algorithm=ISO9797_ALGORITHM3", expect=255)
check("INVALID_MAC" in err or "VerificationFailedException" in err, err)

listed = aws("payment-cryptography", "list-keys")
check({k["KeyArn"] for k in listed["Keys"]} >= {cvk["KeyArn"], pvk["KeyArn"], mac_key["KeyArn"]}, listed)
done("aws_cli", count)
