#!/usr/bin/env bash
# payhsm in five minutes, on the embedded default store: create a store, a card verification
# key, PIN encryption keys and a MAC key; generate and verify a CVV; translate a PIN block;
# generate and verify a MAC; replicate keys to a second region. CI runs this script: every
# step must succeed.
#
#   PAYHSM=target/debug/payhsm bash examples/walkthrough.sh
set -euo pipefail

payhsm() { "${PAYHSM:-payhsm}" "$@"; }

# A fresh store in a temporary folder (a real one would live in ./payhsm-data).
export PAYHSM_HOME="$(mktemp -d)/payhsm-data"
trap 'rm -rf "$(dirname "$PAYHSM_HOME")"' EXIT

# 1. The store, with a development master key (a production one: init --components 2).
payhsm init --dev-master-key

# 2. Keys, with the attributes AWS Payment Cryptography uses (shorthand or JSON).
CVK=$(payhsm create-key --exportable --query Key.KeyArn --output text \
  --key-attributes KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_C0_CARD_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse='{Generate=true,Verify=true}')
PVK=$(payhsm create-key --no-exportable --query Key.KeyArn --output text \
  --key-attributes KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_V2_VISA_PIN_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse='{Generate=true,Verify=true}')
PEK_ACQUIRER=$(payhsm create-key --no-exportable --query Key.KeyArn --output text \
  --key-attributes KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_P0_PIN_ENCRYPTION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse='{Encrypt=true,Decrypt=true,Wrap=true,Unwrap=true}')
PEK_ISSUER=$(payhsm create-key --no-exportable --query Key.KeyArn --output text \
  --key-attributes '{"KeyAlgorithm":"AES_128","KeyUsage":"TR31_P0_PIN_ENCRYPTION_KEY","KeyClass":"SYMMETRIC_KEY","KeyModesOfUse":{"Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true}}')
MAC_KEY=$(payhsm create-key --no-exportable --query Key.KeyArn --output text \
  --key-attributes KeyAlgorithm=AES_256,KeyUsage=TR31_M6_ISO_9797_5_CMAC_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse='{Generate=true,Verify=true}')
payhsm create-alias --alias-name alias/issuer-cvk --key-arn "$CVK"
payhsm get-key --key-identifier alias/issuer-cvk

# 3. A CVV2, generated and verified by key id.
CVV2=$(payhsm generate-card-validation-data --key-identifier alias/issuer-cvk \
  --primary-account-number 4111111111111111 \
  --generation-attributes CardVerificationValue2='{CardExpiryDate=1230}' \
  --query ValidationData --output text)
payhsm verify-card-validation-data --key-identifier alias/issuer-cvk \
  --primary-account-number 4111111111111111 \
  --verification-attributes CardVerificationValue2='{CardExpiryDate=1230}' \
  --validation-data "$CVV2"

# 4. A PIN: a random PIN and its PVV under the acquirer's PEK (ISO format 0), translated to
#    the issuer's AES PEK (ISO format 4), then verified there against the PVV.
PIN=$(payhsm generate-pin-data --generation-key-identifier "$PVK" \
  --encryption-key-identifier "$PEK_ACQUIRER" --pin-block-format ISO_FORMAT_0 \
  --primary-account-number 4111111111111111 \
  --generation-attributes VisaPin='{PinVerificationKeyIndex=1}')
BLOCK=$(printf '%s' "$PIN" | sed -n 's/.*"EncryptedPinBlock": "\([0-9A-F]*\)".*/\1/p')
PVV=$(printf '%s' "$PIN" | sed -n 's/.*"VerificationValue": "\([0-9]*\)".*/\1/p')
ISO4=$(payhsm translate-pin-data --incoming-key-identifier "$PEK_ACQUIRER" \
  --outgoing-key-identifier "$PEK_ISSUER" --encrypted-pin-block "$BLOCK" \
  --incoming-translation-attributes IsoFormat0='{PrimaryAccountNumber=4111111111111111}' \
  --outgoing-translation-attributes IsoFormat4='{PrimaryAccountNumber=4111111111111111}' \
  --query PinBlock --output text)
payhsm verify-pin-data --verification-key-identifier "$PVK" \
  --encryption-key-identifier "$PEK_ISSUER" --encrypted-pin-block "$ISO4" \
  --pin-block-format ISO_FORMAT_4 --primary-account-number 4111111111111111 \
  --verification-attributes VisaPin="{PinVerificationKeyIndex=1,VerificationValue=$PVV}"

# 5. A MAC over a message, generated and verified.
MAC=$(payhsm generate-mac --key-identifier "$MAC_KEY" --message-data 4E6F77206973207468652074696D65 \
  --generation-attributes Algorithm=CMAC --query Mac --output text)
payhsm verify-mac --key-identifier "$MAC_KEY" --message-data 4E6F77206973207468652074696D65 \
  --verification-attributes Algorithm=CMAC --mac "$MAC"

# 6. A wrong value is refused with the service's error (exit 1 for a failed verification).
if payhsm verify-mac --key-identifier "$MAC_KEY" --message-data 4E6F77206973207468652074696D65 \
  --verification-attributes Algorithm=CMAC --mac 00000000; then
  echo "a wrong MAC verified" >&2; exit 1
fi
# 7. A multi-region key: replicated from us-east-1 to us-west-2 (a second region of the store)
#    with a KEK the regions exchange once with TR-34, then as a TR-31 block under it. The
#    command returns with the replica IN_PROGRESS and drains the replication before it exits.
payhsm --region us-west-2 init --dev-master-key
payhsm --region us-east-1 create-key --exportable --key-attributes KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_C0_CARD_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse='{Generate=true,Verify=true}' --replication-regions us-west-2 > "$PAYHSM_HOME/primary.json"
PRIMARY=$(sed -n 's/.*"KeyArn": "\([^"]*\)".*/\1/p' "$PAYHSM_HOME/primary.json")
REPLICA=${PRIMARY/:us-east-1:/:us-west-2:}
payhsm replicate --wait
payhsm --region us-east-1 get-key --key-identifier "$PRIMARY"
payhsm --region us-west-2 get-key --key-identifier "$REPLICA"
test "$(payhsm --region us-east-1 get-key --key-identifier "$PRIMARY" \
  --query Key.ReplicationStatus.us-west-2.Status --output text)" = SYNCHRONIZED
test "$(payhsm --region us-west-2 get-key --key-identifier "$REPLICA" \
  --query Key.MultiRegionKeyType --output text)" = REPLICA
#    The replica computes the same CVV2 as the primary, and is read-only.
cvv2() {
  payhsm --region "$1" generate-card-validation-data --key-identifier "$2" \
    --primary-account-number 4111111111111111 \
    --generation-attributes CardVerificationValue2='{CardExpiryDate=1230}' \
    --query ValidationData --output text
}
test "$(cvv2 us-east-1 "$PRIMARY")" = "$(cvv2 us-west-2 "$REPLICA")"
if payhsm --region us-west-2 stop-key-usage --key-identifier "$REPLICA"; then
  echo "a replica was changed" >&2; exit 1
fi
#    An AES-256 key travels under the regions' second KEK, agreed with ECDH on P-521 (TR-34
#    cannot carry a 256-bit key at full strength); its replica computes the same CMAC.
CMAC_KEY=$(payhsm --region us-east-1 create-key --exportable --query Key.KeyArn --output text \
  --key-attributes KeyAlgorithm=AES_256,KeyUsage=TR31_M6_ISO_9797_5_CMAC_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse='{Generate=true,Verify=true}' \
  --replication-regions us-west-2)
payhsm replicate --wait
cmac() {
  payhsm --region "$1" generate-mac --key-identifier "$2" --message-data 4E6F77206973207468652074696D65 \
    --generation-attributes Algorithm=CMAC --query Mac --output text
}
test "$(cmac us-east-1 "$CMAC_KEY")" = "$(cmac us-west-2 "${CMAC_KEY/:us-east-1:/:us-west-2:}")"

echo "walkthrough: all steps passed"
