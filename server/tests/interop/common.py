"""What the server's interop scripts share: clients for the server under test, and checks.

The Rust test (cli/tests/serve.rs) starts `payhsm serve` on a fresh store and passes its
endpoint and an access key of the store in the environment: PAYHSM_ENDPOINT and the
standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_DEFAULT_REGION.
"""

import os
import sys

import boto3
import botocore.exceptions

ENDPOINT = os.environ["PAYHSM_ENDPOINT"]
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_TOKEN = os.path.join(HERE, "..", "..", "..", "tr34", "tests", "interop", "make_token.py")


def clients(region=REGION):
    """The control-plane and data-plane clients for `region`, pointed at the server."""
    session = boto3.Session(region_name=region)
    return (session.client("payment-cryptography", endpoint_url=ENDPOINT),
            session.client("payment-cryptography-data", endpoint_url=ENDPOINT))


def fails(code, call, *args, **kwargs):
    """Runs `call`, which must fail with the service error `code`; returns the error response."""
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        check(got == code, f"expected {code}, got {got}: {e}")
        check(e.response["ResponseMetadata"].get("RequestId"), "no request id")
        return e.response
    raise AssertionError(f"expected {code}, the call succeeded")


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def done(name, count):
    print(f"{name}: {count} passed, 0 failed")
    sys.stdout.flush()


def raw(method, path, body, headers=None, sign=True, secret=None, region=REGION, sent=None):
    """A request built and (unless `sign` is false) SigV4-signed by botocore's own signer, for
    what boto3's clients would refuse to send; `sent` replaces the body after signing. Returns
    (status, headers, parsed JSON body)."""
    import http.client
    import json
    import urllib.parse

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = ENDPOINT + path
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = AWSRequest(method=method, url=url, data=data, headers=dict(headers or {}))
    if sign:
        creds = Credentials(os.environ["AWS_ACCESS_KEY_ID"],
                            secret or os.environ["AWS_SECRET_ACCESS_KEY"])
        SigV4Auth(creds, "payment-cryptography", region).add_auth(request)
    parts = urllib.parse.urlsplit(ENDPOINT)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(method, path, body=data if sent is None else sent,
                 headers=dict(request.headers.items()))
    response = conn.getresponse()
    text = response.read()
    conn.close()
    try:
        parsed = json.loads(text)
    except ValueError:
        raise AssertionError(f"{method} {path}: not JSON: {text[:200]!r}")
    return response.status, {k.lower(): v for k, v in response.getheaders()}, parsed
