"""moto behind the front door: many services, signed with sandbox-issued keys, are checked
(signature, token, expiry) and then answered by moto; nothing well-signed is refused.
What must not reach moto (unsigned, made-up keys, ``/moto-api/``) is in test_closed.py.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.aws_clients import sandbox_client


@pytest.fixture(scope="module")
def box() -> Iterator[Any]:
    from stsmagic.sandbox import Sandbox

    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def creds(box: Any) -> dict[str, Any]:
    source = box.source_credentials
    return dict(sandbox_client(box, "sts", source).get_session_token()["Credentials"])


def test_s3_paths_queries_and_uploads_are_well_checked(box: Any, creds: dict[str, Any]) -> None:
    s3 = sandbox_client(box, "s3", creds)
    box.reset_requests()
    s3.create_bucket(Bucket="pass-bucket")
    keys = ["plain.txt", "a b/c+d=e~f.txt", "unicodé/ñ.csv", "odd%25name&x=y.txt", "(x)!*'.txt"]
    for key in keys:
        s3.put_object(Bucket="pass-bucket", Key=key, Body=key.encode())
        assert s3.get_object(Bucket="pass-bucket", Key=key)["Body"].read() == key.encode()
    listed = s3.list_objects_v2(Bucket="pass-bucket", Prefix="a b/", Delimiter="/")
    assert [o["Key"] for o in listed["Contents"]] == ["a b/c+d=e~f.txt"]
    s3.copy_object(
        Bucket="pass-bucket", Key="copy.txt", CopySource={"Bucket": "pass-bucket", "Key": keys[1]}
    )
    s3.upload_fileobj(io.BytesIO(b"z" * 6_000_000), "pass-bucket", "big one.bin")
    deleted = s3.delete_objects(
        Bucket="pass-bucket", Delete={"Objects": [{"Key": k} for k in keys]}
    )["Deleted"]
    assert len(deleted) == len(keys)
    assert box.signature_failures == 0
    assert all(r.status < 300 for r in box.requests), box.requests


def test_query_and_json_services_are_well_checked(box: Any, creds: dict[str, Any]) -> None:
    box.reset_requests()
    sandbox_client(box, "iam", creds).list_users()
    table = sandbox_client(box, "dynamodb", creds)
    table.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table.put_item(TableName="t", Item={"k": {"S": "a/b c"}})
    sqs = sandbox_client(box, "sqs", creds)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"x": "ü"}))
    ssm = sandbox_client(box, "ssm", creds)
    ssm.put_parameter(Name="/a/b c", Value="v", Type="String")
    assert ssm.get_parameter(Name="/a/b c")["Parameter"]["Value"] == "v"
    secrets = sandbox_client(box, "secretsmanager", creds)
    secrets.create_secret(Name="s/1", SecretString="x")
    assert box.signature_failures == 0
    assert all(r.status < 300 for r in box.requests), box.requests


def test_wrong_secret_and_expired_key_are_refused_before_moto(
    box: Any, creds: dict[str, Any]
) -> None:
    wrong = dict(creds, SecretAccessKey="w" * 40)
    with pytest.raises(ClientError) as excinfo:
        sandbox_client(box, "s3", wrong).list_buckets()
    assert excinfo.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as excinfo:
        sandbox_client(box, "iam", wrong).list_users()
    assert excinfo.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    forged = dict(creds, SessionToken="forged")
    with pytest.raises(ClientError) as excinfo:
        sandbox_client(box, "s3", forged).list_buckets()
    assert excinfo.value.response["Error"]["Code"] == "InvalidToken"
    # keys the sandbox never issued never reach moto
    stranger = {"AccessKeyId": "AKIASTRANGER00000000", "SecretAccessKey": "s" * 40}
    with pytest.raises(ClientError) as excinfo:
        sandbox_client(box, "s3", stranger).list_buckets()
    assert excinfo.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    box.advance(43201)
    with pytest.raises(ClientError) as excinfo:
        sandbox_client(box, "dynamodb", creds).list_tables()
    assert excinfo.value.response["Error"]["Code"] == "ExpiredToken"


def test_users_and_mfa_devices_made_through_iam_are_known_to_sts(box: Any) -> None:
    import pyotp

    keys = box.source_credentials
    iam = sandbox_client(box, "iam", keys)
    iam.create_user(UserName="carol")
    access = iam.create_access_key(UserName="carol")["AccessKey"]
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="carol")["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode()
    if seed.startswith("b'"):  # moto's quirk: the text "b'...'"
        seed = seed[2:-1]
    totp = pyotp.TOTP(seed)
    iam.enable_mfa_device(
        UserName="carol",
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp.at(box._context.now().timestamp() - 30),
        AuthenticationCode2=totp.at(box._context.now()),
    )
    sts = sandbox_client(box, "sts", access)
    assert sts.get_caller_identity()["Arn"].endswith(":user/carol")
    issued = sts.get_session_token(
        SerialNumber=device["SerialNumber"], TokenCode=totp.at(box._context.now())
    )
    assert issued["Credentials"]["AccessKeyId"].startswith("ASIA")
    with pytest.raises(ClientError) as excinfo:  # the seeded user's device is not carol's
        sts.get_session_token(SerialNumber=box.mfa_serial, TokenCode=box.mfa_code())
    assert excinfo.value.response["Error"]["Code"] == "AccessDenied"


def _fetch(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    method = "PUT" if data is not None else "GET"
    headers = {"Content-Type": "application/octet-stream"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def fresh(box: Any) -> dict[str, Any]:
    """New session keys (an earlier test moved this sandbox's clock past the module's)."""
    source = box.source_credentials
    return dict(sandbox_client(box, "sts", source).get_session_token()["Credentials"])


def test_presigned_get_caller_identity(box: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime

    import botocore.auth

    sts = sandbox_client(box, "sts", fresh(box))
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    status, body = _fetch(url)
    assert status == 200
    assert f"<Arn>{box.user_arn}</Arn>".encode() in body
    status, body = _fetch(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    assert (status, b"<Code>SignatureDoesNotMatch</Code>" in body) == (403, True)
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(
        botocore.auth,
        "get_current_datetime",
        lambda *a, **k: real(*a, **k) - datetime.timedelta(minutes=2),
    )
    stale = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    status, body = _fetch(stale)
    assert status == 403
    assert b"<Message>Request has expired</Message>" in body


def test_presigned_s3_urls(box: Any) -> None:
    from botocore.config import Config

    creds = fresh(box)
    s3 = sandbox_client(box, "s3", creds, Config(signature_version="s3v4"))
    s3.create_bucket(Bucket="presigned-bucket")
    params = {"Bucket": "presigned-bucket", "Key": "a b/ü.txt"}
    put = s3.generate_presigned_url("put_object", Params=params, ExpiresIn=60)
    assert _fetch(put, b"hello")[0] == 200
    get = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=60)
    assert _fetch(get) == (200, b"hello")
    status, body = _fetch(get.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    assert (status, b"<Code>SignatureDoesNotMatch</Code>" in body) == (403, True)
