"""What the sandbox never gives away: moto's own API, calls with no key or a made-up one, the
MFA seed and the source secret in IAM's answers; and HEAD answers without a body.
"""

from __future__ import annotations

import base64
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers.aws_clients import sandbox_client

MADE_UP = {"AccessKeyId": "AKIAMADEUP0000000000", "SecretAccessKey": "m" * 40}


def own_secrets(box: Any) -> list[str]:
    """The source secret key and the MFA seed, as text and as IAM's XML encodes a seed."""
    seed = box._context.mfa_seed
    return [box.source_credentials.secret_key, seed, base64.b64encode(seed.encode()).decode()]


def fetch(url: str, method: str = "GET") -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def raw_exchange(port: int, head: str) -> bytes:
    """Everything the server sends back for one request, up to its closing the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head.encode() + b"Connection: close\r\n\r\n")
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/moto-api/data.json"),
        ("GET", "/moto-api/"),
        ("POST", "/moto-api/reset"),
        ("GET", "//moto-api/data.json"),
        ("GET", "/%6Doto-api/data.json"),
    ],
)
def test_moto_api_is_closed(sandbox: Any, method: str, path: str) -> None:
    status, body = fetch(sandbox.endpoint_url + path, method)
    assert status == 404
    assert [s for s in own_secrets(sandbox) if s.encode() in body] == []
    # a refused reset reset nothing: the seeded user still signs
    keys = sandbox.source_credentials
    assert sandbox_client(sandbox, "sts", keys).get_caller_identity()["Arn"] == sandbox.user_arn


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("iam", lambda c: c.list_virtual_mfa_devices(), "InvalidClientTokenId"),
        ("iam", lambda c: c.create_access_key(UserName="stsmagic-user"), "InvalidClientTokenId"),
        ("iam", lambda c: c.list_users(), "InvalidClientTokenId"),
        ("dynamodb", lambda c: c.list_tables(), "InvalidClientTokenId"),
        ("s3", lambda c: c.list_buckets(), "InvalidAccessKeyId"),
    ],
    ids=["ListVirtualMFADevices", "CreateAccessKey", "ListUsers", "ListTables", "ListBuckets"],
)
def test_made_up_keys_never_reach_moto(sandbox: Any, service: str, call: Any, code: str) -> None:
    client = sandbox_client(sandbox, service, MADE_UP)
    sandbox.reset_requests()
    with pytest.raises(ClientError) as excinfo:
        call(client)
    assert error_code(excinfo) == code
    assert {r.access_key_id for r in sandbox.requests} == {MADE_UP["AccessKeyId"]}
    assert str(excinfo.value.response).find(MADE_UP["SecretAccessKey"]) == -1


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("iam", lambda c: c.list_virtual_mfa_devices(), "MissingAuthenticationToken"),
        ("sqs", lambda c: c.list_queues(), "MissingAuthenticationToken"),
        ("dynamodb", lambda c: c.list_tables(), "MissingAuthenticationToken"),
        ("s3", lambda c: c.list_buckets(), "AccessDenied"),
        ("s3", lambda c: c.list_objects_v2(Bucket="anything"), "AccessDenied"),
    ],
    ids=["iam", "sqs", "dynamodb", "s3-buckets", "s3-objects"],
)
def test_unsigned_calls_never_reach_moto(sandbox: Any, service: str, call: Any, code: str) -> None:
    client = sandbox_client(sandbox, service, config=Config(signature_version=UNSIGNED))
    with pytest.raises(ClientError) as excinfo:
        call(client)
    assert error_code(excinfo) == code


def test_sigv2_is_refused_with_the_reason(sandbox: Any) -> None:
    s3 = sandbox_client(sandbox, "s3", sandbox.source_credentials, Config(signature_version="s3"))
    with pytest.raises(ClientError) as excinfo:
        s3.list_buckets()
    assert error_code(excinfo) == "InvalidRequest"
    assert "AWS4-HMAC-SHA256" in str(excinfo.value)


def test_unsigned_sts_web_identity_still_reaches_moto(sandbox: Any) -> None:
    sts = sandbox_client(sandbox, "sts", config=Config(signature_version=UNSIGNED))
    answer = sts.assume_role_with_web_identity(
        RoleArn=f"arn:aws:iam::{sandbox.account_id}:role/web",
        RoleSessionName="web",
        WebIdentityToken="x" * 20,
    )
    assert answer["Credentials"]["AccessKeyId"]


def iam_bodies(client: Any) -> list[str]:
    """Every raw IAM answer body the client receives from now on."""
    bodies: list[str] = []
    client.meta.events.register(
        "after-call.iam.*", lambda http_response, **_: bodies.append(http_response.text)
    )
    return bodies


def test_iam_never_answers_a_known_key_with_the_seed_or_the_source_secret(sandbox: Any) -> None:
    iam = sandbox_client(sandbox, "iam", sandbox.source_credentials)
    bodies = iam_bodies(iam)
    devices = iam.list_virtual_mfa_devices()["VirtualMFADevices"]
    assert sandbox.mfa_serial in [d["SerialNumber"] for d in devices]
    assert all("Base32StringSeed" not in d and "QRCodePNG" not in d for d in devices)
    iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")
    iam.list_mfa_devices(UserName=sandbox.user_name)
    iam.list_users()
    iam.get_user(UserName=sandbox.user_name)
    iam.list_access_keys(UserName=sandbox.user_name)
    iam.get_account_authorization_details()
    assert len(bodies) == 7
    text = "\n".join(bodies)
    assert "Base32StringSeed" not in text
    assert [s for s in own_secrets(sandbox) if s in text] == []


def test_a_new_device_shows_its_own_seed_once_to_its_creator(sandbox: Any) -> None:
    iam = sandbox_client(sandbox, "iam", sandbox.source_credentials)
    made = iam.create_virtual_mfa_device(VirtualMFADeviceName="closed-test")["VirtualMFADevice"]
    seed = made["Base32StringSeed"].decode()
    assert seed in sandbox.issued_secrets()
    listed = iam.list_virtual_mfa_devices()["VirtualMFADevices"]
    mine = [d for d in listed if d["SerialNumber"] == made["SerialNumber"]]
    assert mine and "Base32StringSeed" not in mine[0]


def test_a_known_user_may_create_a_key_and_the_sandbox_learns_it(sandbox: Any) -> None:
    iam = sandbox_client(sandbox, "iam", sandbox.source_credentials)
    iam.create_user(UserName="dora")
    new = iam.create_access_key(UserName="dora")["AccessKey"]
    assert new["SecretAccessKey"] in sandbox.issued_secrets()
    assert new["SecretAccessKey"] != sandbox.source_credentials.secret_key
    sts = sandbox_client(sandbox, "sts", new)
    assert sts.get_caller_identity()["Arn"].endswith(":user/dora")
    sandbox.reset_requests()
    assert "Buckets" in sandbox_client(sandbox, "s3", new).list_buckets()
    assert sandbox.signers("GET /") == [new["AccessKeyId"]]
    iam.delete_access_key(UserName="dora", AccessKeyId=new["AccessKeyId"])
    with pytest.raises(ClientError) as excinfo:  # a deleted key is unknown again
        sandbox_client(sandbox, "s3", new).list_buckets()
    assert error_code(excinfo) == "InvalidAccessKeyId"


def test_signers_name_the_key_of_every_service(sandbox: Any) -> None:
    source = sandbox.source_credentials
    session = sandbox_client(sandbox, "sts", source).get_session_token()["Credentials"]
    sandbox.reset_requests()
    sandbox_client(sandbox, "s3", session).list_buckets()
    sandbox_client(sandbox, "dynamodb", source).list_tables()
    sandbox_client(sandbox, "iam", session).list_users()
    assert sandbox.signers("GET /") == [session["AccessKeyId"]]
    assert sandbox.signers("ListTables") == [source.access_key]
    assert sandbox.signers("ListUsers") == [session["AccessKeyId"]]


def head_request(url: str) -> str:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"HEAD {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"


@pytest.fixture(scope="module")
def head_bucket(sandbox: Any) -> Any:
    keys = sandbox.source_credentials
    s3 = sandbox_client(sandbox, "s3", keys, Config(signature_version="s3v4"))
    s3.create_bucket(Bucket="head-bucket")
    s3.put_object(Bucket="head-bucket", Key="here.txt", Body=b"12345")
    return s3


@pytest.mark.parametrize("case", ["missing", "unsigned", "fault", "control", "present"])
def test_head_answers_have_no_body(sandbox: Any, head_bucket: Any, case: str) -> None:
    key = "here.txt" if case == "present" else "missing.txt"
    url = head_bucket.generate_presigned_url(
        "head_object", Params={"Bucket": "head-bucket", "Key": key}, ExpiresIn=60
    )
    if case == "unsigned":
        url = f"{sandbox.endpoint_url}/head-bucket/missing.txt"
    if case == "control":
        url = f"{sandbox.endpoint_url}/_sandbox/nothing"
    if case == "fault":
        sandbox.fail_next("HEAD /head-bucket/missing.txt", status=503, code="SlowDown")
    answer = raw_exchange(sandbox.port, head_request(url))
    status_line, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    expected = {"missing": 404, "unsigned": 403, "fault": 503, "control": 404, "present": 200}
    assert int(status_line.split()[1]) == expected[case], answer
    assert body == b""
    if case == "present":  # HEAD still tells the object's size
        assert b"content-length: 5" in headers.lower()


def test_s3fs_reads_a_head_refusal_once_and_as_it_is(sandbox: Any, head_bucket: Any) -> None:
    """A body after a HEAD made s3fs drop the connection and retry, and then see another answer."""
    s3fs = pytest.importorskip("s3fs")
    keys = sandbox.source_credentials
    fs = s3fs.S3FileSystem(
        key=keys.access_key,
        secret=keys.secret_key,
        endpoint_url=sandbox.endpoint_url,
        skip_instance_cache=True,
    )
    sandbox.reset_requests()
    sandbox.fail_next("HEAD /head-bucket/locked.csv", status=403, code="AccessDenied")
    with pytest.raises(PermissionError):
        fs.info("head-bucket/locked.csv")
    assert sandbox.count("HEAD /head-bucket/locked.csv") == 1
