"""Bad requests over the wire: each gets the service's error shape for its plane, the right
status, a request id, and changes nothing; the server keeps serving.

Requests are built by hand and signed by botocore's SigV4 signer (an implementation of its
own), so that malformed bodies, wrong headers and bad signatures reach the server as sent.
"""

import json

from common import check, clients, done, raw

cp, dp = clients()
CP = {"Content-Type": "application/x-amz-json-1.0"}
DP = {"Content-Type": "application/json"}
count = 0


def target(op):
    return {**CP, "X-Amz-Target": f"PaymentCryptographyControlPlane.{op}"}


def state():
    keys = cp.list_keys()["Keys"]
    return sorted((k["KeyArn"], k["KeyState"], k["Enabled"]) for k in keys)


def expect(what, status, error, response, plane="data", message=None):
    global count
    got_status, headers, body = response
    check(got_status == status, f"{what}: status {got_status}, want {status}: {body}")
    check(body.get("__type") == error, f"{what}: {body}")
    check(headers.get("x-amzn-errortype") == error, f"{what}: {headers}")
    check(len(headers.get("x-amzn-requestid", "")) == 36, f"{what}: no request id")
    if plane == "control":
        check(headers["content-type"] == "application/x-amz-json-1.0", headers)
        check("Message" in body and "message" not in body and "fieldList" not in body, body)
        text = body["Message"]
    else:
        check(headers["content-type"] == "application/json", headers)
        key = "message" if error == "ValidationException" else "Message"
        check(key in body, f"{what}: {body}")
        text = body[key]
    if message:
        check(message in text, f"{what}: {text!r} lacks {message!r}")
    check(state() == before, f"{what} changed the keys")
    count += 1
    print(f"ok {count} {what}: {error} {text}")


cvk = cp.create_key(KeyAttributes={"KeyAlgorithm": "TDES_2KEY", "KeyClass": "SYMMETRIC_KEY",
                                   "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
                                   "KeyModesOfUse": {"Generate": True, "Verify": True}},
                    Exportable=True)["Key"]["KeyArn"]
before = state()
create = {"KeyAttributes": {"KeyAlgorithm": "TDES_2KEY", "KeyClass": "SYMMETRIC_KEY",
                            "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
                            "KeyModesOfUse": {"Generate": True, "Verify": True}},
          "Exportable": True}

# The control plane.
expect("malformed JSON", 400, "ValidationException",
       raw("POST", "/", b'{"KeyAttributes": {', target("CreateKey")), "control", "not JSON")
expect("a JSON array", 400, "ValidationException",
       raw("POST", "/", b"[1, 2]", target("CreateKey")), "control", "JSON object")
expect("unknown target", 400, "ValidationException",
       raw("POST", "/", create, target("MakeKey")), "control", "MakeKey")
expect("a data-plane operation as a target", 400, "ValidationException",
       raw("POST", "/", {}, target("GenerateMac")), "control", "not an operation of the control plane")
expect("an operation the HSM does not offer", 400, "ValidationException",
       raw("POST", "/as2805kekvalidation/generate",
           {"KekValidationType": {"KekValidationRequest": {"DeriveKeyAlgorithm": "TDES_2KEY"}},
            "KeyIdentifier": cvk, "RandomKeySendVariantMask": "VARIANT_MASK_82C0"}, DP),
       message="GenerateAs2805KekValidation")
expect("missing required member", 400, "ValidationException",
       raw("POST", "/", {"Exportable": True}, target("CreateKey")), "control", "KeyAttributes")
expect("wrong content type", 400, "ValidationException",
       raw("POST", "/", create, {**target("CreateKey"), "Content-Type": "application/json"}),
       "control", "application/x-amz-json-1.0")
expect("oversized body", 400, "ValidationException",
       raw("POST", "/", b'{"Tags": "' + b"x" * 300_000 + b'"}', target("CreateKey")), "control",
       "exceeds")
expect("unsigned", 400, "AccessDeniedException",
       raw("POST", "/", create, target("CreateKey"), sign=False), "control", "not signed")
expect("signed with a wrong secret", 400, "InvalidSignatureException",
       raw("POST", "/", create, target("CreateKey"), secret="0" * 40), "control")
tampered = json.dumps({**create, "Exportable": False}).encode()
expect("a body changed after signing", 400, "InvalidSignatureException",
       raw("POST", "/", create, target("CreateKey"), sent=tampered), "control")

# The data plane.
cvv = {"KeyIdentifier": cvk, "PrimaryAccountNumber": "4111111111111111",
       "GenerationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "1230"}}}
expect("malformed JSON", 400, "ValidationException",
       raw("POST", "/cardvalidationdata/generate", b"{'single': quotes}", DP), message="not JSON")
expect("missing required member", 400, "ValidationException",
       raw("POST", "/cardvalidationdata/generate", {"KeyIdentifier": cvk}, DP),
       message="PrimaryAccountNumber")
expect("wrong content type", 400, "ValidationException",
       raw("POST", "/cardvalidationdata/generate", cvv, {"Content-Type": "text/plain"}),
       message="application/json")
expect("unknown path", 400, "ValidationException",
       raw("POST", "/cardvalidationdata/forge", cvv, DP), message="no operation")
expect("wrong method", 400, "ValidationException",
       raw("GET", "/mac/generate", b"", DP), message="takes POST")
expect("a path label that is not a key id", 400, "ValidationException",
       raw("POST", "/keys/not-a-key!/encrypt",
           {"PlainText": "00" * 8, "EncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}, DP),
       message="KeyIdentifier")
expect("a malformed percent escape in a label", 400, "ValidationException",
       raw("POST", "/keys/alias%2/encrypt",
           {"PlainText": "00" * 8, "EncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}, DP),
       message="percent")
expect("a key ARN of another region", 404, "ResourceNotFoundException",
       raw("POST", "/cardvalidationdata/generate",
           {**cvv, "KeyIdentifier": cvk.replace(":us-east-1:", ":us-west-2:")}, DP))
expect("a key ARN of another account", 404, "ResourceNotFoundException",
       raw("POST", "/cardvalidationdata/generate",
           {**cvv, "KeyIdentifier": cvk.replace(":111122223333:", ":999988887777:")}, DP))
expect("an unknown key", 404, "ResourceNotFoundException",
       raw("POST", "/keys/alias%2Fnothing/encrypt",
           {"PlainText": "00" * 8, "EncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}, DP))
expect("oversized body", 400, "ValidationException",
       raw("POST", "/mac/generate", b"{" + b" " * 300_000 + b"}", DP), message="exceeds")
expect("unsigned", 403, "AccessDeniedException",
       raw("POST", "/cardvalidationdata/generate", cvv, DP, sign=False))
expect("signed with a wrong secret", 403, "InvalidSignatureException",
       raw("POST", "/cardvalidationdata/generate", cvv, DP, secret="A" * 40))


def unknown_key():
    import os
    saved = os.environ["AWS_ACCESS_KEY_ID"]
    os.environ["AWS_ACCESS_KEY_ID"] = "PHSMNOTAKEYOFTHISSTORE"
    try:
        return raw("POST", "/cardvalidationdata/generate", cvv, DP)
    finally:
        os.environ["AWS_ACCESS_KEY_ID"] = saved


expect("an access key the store does not have", 403, "UnrecognizedClientException", unknown_key())
expect("an unknown region in the scope", 404, "ResourceNotFoundException",
       raw("POST", "/cardvalidationdata/generate", cvv, DP, region="ap-south-2"))

# Outside the API: the health check, and any other page is JSON, never HTML.
status, headers, body = raw("GET", "/ping", b"", sign=False)
check(status == 200 and body["Status"] == "OK" and body["Signed"], body)
status, headers, body = raw("GET", "/favicon.ico", b"", sign=False)
check(status == 403 and body["__type"] == "AccessDeniedException", body)
count += 2
print(f"ok {count} /ping answers; other pages are the service's JSON errors")

# The server still serves, and nothing changed.
dp.generate_card_validation_data(**cvv)
check(state() == before, "state")
done("bad_input", count)
