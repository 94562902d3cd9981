"""Regions in two processes: server A holds us-east-1 and reaches us-west-2, which server B
holds, through `--region-endpoint` (payhsm's remote region client, signing with SigV4).

A call for us-west-2 sent to A must do exactly what the same call sent to B does.
"""

import os

import boto3

from common import check, clients, done, fails

ENDPOINT_B = os.environ["PAYHSM_ENDPOINT_B"]
west_via_a_cp, west_via_a_dp = clients("us-west-2")
session = boto3.Session(region_name="us-west-2")
west_b_cp = session.client("payment-cryptography", endpoint_url=ENDPOINT_B)
west_b_dp = session.client("payment-cryptography-data", endpoint_url=ENDPOINT_B)
east_cp, _ = clients("us-east-1")
count = 0


def ok(what):
    global count
    count += 1
    print(f"ok {count} {what}")


key = west_via_a_cp.create_key(
    KeyAttributes={"KeyAlgorithm": "TDES_2KEY", "KeyClass": "SYMMETRIC_KEY",
                   "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
                   "KeyModesOfUse": {"Generate": True, "Verify": True}},
    Exportable=True)["Key"]
check(":us-west-2:111122223333:key/" in key["KeyArn"], key["KeyArn"])
on_b = west_b_cp.get_key(KeyIdentifier=key["KeyArn"])["Key"]
check(on_b["KeyCheckValue"] == key["KeyCheckValue"], (on_b, key))
ok("CreateKey for us-west-2 through A makes the key in B's store")
fails("ResourceNotFoundException", east_cp.get_key, KeyIdentifier=key["KeyArn"].replace("us-west-2", "us-east-1"))
ok("us-east-1 (A's own store) does not have it")

attrs = {"CardVerificationValue2": {"CardExpiryDate": "0730"}}
via_a = west_via_a_dp.generate_card_validation_data(
    KeyIdentifier=key["KeyArn"], PrimaryAccountNumber="5413330089020011", GenerationAttributes=attrs)
via_b = west_b_dp.generate_card_validation_data(
    KeyIdentifier=key["KeyArn"], PrimaryAccountNumber="5413330089020011", GenerationAttributes=attrs)
check(via_a["ValidationData"] == via_b["ValidationData"], (via_a, via_b))
ok("a data-plane call through A answers as B does")

r = fails("VerificationFailedException", west_via_a_dp.verify_card_validation_data,
          KeyIdentifier=key["KeyArn"], PrimaryAccountNumber="5413330089020011",
          VerificationAttributes=attrs,
          ValidationData="%03d" % ((int(via_b["ValidationData"]) + 1) % 1000))
check(r["Reason"] == "INVALID_VALIDATION_DATA", r)
r = fails("ResourceNotFoundException", west_via_a_cp.get_key, KeyIdentifier="alias/none-here")
check(r["ResourceId"] == "alias/none-here", r)
fails("ValidationException", west_via_a_cp.get_key, KeyIdentifier="not an id")
ok("B's errors come back through A with their shape and members")

aliases = west_via_a_cp.create_alias(AliasName="alias/remote", KeyArn=key["KeyArn"])
check(west_b_cp.get_alias(AliasName="alias/remote")["Alias"]["KeyArn"] == key["KeyArn"], aliases)
ok("CreateAlias through A is B's alias")
# A multi-region key whose replica region is another process's: A's background drain runs the
# TR-34 KEK exchange and sends the TR-31 replica to B over the service's API, signed.
import time

primary = east_cp.create_key(
    KeyAttributes={"KeyAlgorithm": "TDES_2KEY", "KeyClass": "SYMMETRIC_KEY",
                   "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
                   "KeyModesOfUse": {"Generate": True, "Verify": True}},
    Exportable=True, ReplicationRegions=["us-west-2"])["Key"]
deadline = time.time() + 30
while True:
    got = east_cp.get_key(KeyIdentifier=primary["KeyArn"])["Key"]
    status = got["ReplicationStatus"]["us-west-2"]
    if status["Status"] == "SYNCHRONIZED":
        break
    check(status["Status"] == "IN_PROGRESS" and time.time() < deadline, got)
    time.sleep(0.2)
replica = west_b_cp.get_key(KeyIdentifier=primary["KeyArn"].replace(":us-east-1:", ":us-west-2:"))["Key"]
check(replica["KeyCheckValue"] == primary["KeyCheckValue"]
      and replica["MultiRegionKeyType"] == "REPLICA" and replica["PrimaryRegion"] == "us-east-1", replica)
east_dp = boto3.Session(region_name="us-east-1").client(
    "payment-cryptography-data", endpoint_url=os.environ["PAYHSM_ENDPOINT"])
cvv_a = east_dp.generate_card_validation_data(
    KeyIdentifier=primary["KeyArn"], PrimaryAccountNumber="5413330089020011", GenerationAttributes=attrs)
cvv_b = west_b_dp.generate_card_validation_data(
    KeyIdentifier=replica["KeyArn"], PrimaryAccountNumber="5413330089020011", GenerationAttributes=attrs)
check(cvv_a["ValidationData"] == cvv_b["ValidationData"], (cvv_a, cvv_b))
ok("a key of A's us-east-1 replicates to B's us-west-2: same KCV, same CVV2")
done("cross_process", count)
