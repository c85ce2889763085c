"""The sandbox as a running thing: start and stop, the port, two at once, the control API,
request counting and fault injection, ``stsmagic sandbox`` and ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from tests.helpers.aws_clients import boto3_session, sandbox_client


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def sts(box: Any, **config: Any) -> Any:
    return sandbox_client(box, "sts", box.source_credentials, Config(**config) if config else None)


def test_start_and_stop_are_quick_and_leave_nothing(sandbox: Any) -> None:
    from stsmagic.sandbox import Sandbox

    threads_before = set(threading.enumerate())
    started = time.perf_counter()
    box = Sandbox().start()
    try:
        port = box.port
        assert box.endpoint_url == f"http://127.0.0.1:{port}"
        assert port_open(port)
        assert sts(box).get_caller_identity()["Arn"] == box.user_arn
        # a second live sandbox shares moto but has its own user; the shared one still works
        assert box.user_name != sandbox.user_name
        assert sts(sandbox).get_caller_identity()["Arn"] == sandbox.user_arn
    finally:
        box.stop()
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0
    assert not port_open(port)
    # (a handler thread of the shared sandbox may take a moment to finish closing)
    deadline = time.monotonic() + 2
    while True:
        leftover = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        if not leftover or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert leftover == []
    box.stop()  # idempotent


def test_repr_and_control_info_hold_no_secret(sandbox: Any) -> None:
    with urllib.request.urlopen(f"{sandbox.endpoint_url}/_sandbox/info") as response:
        info = json.loads(response.read())
    assert info["endpoint_url"] == sandbox.endpoint_url
    assert info["mfa_serial"] == sandbox.mfa_serial
    assert info["sso_role_name"] == sandbox.sso_role_name
    text = json.dumps(info) + repr(sandbox)
    assert sandbox.source_credentials.secret_key not in text
    assert sandbox._context.mfa_seed not in text
    for secret in sandbox.issued_secrets():
        assert secret not in text


def test_connect_plays_the_authenticator(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from stsmagic.sandbox import connect

    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    remote = connect()
    assert remote.mfa_serial == sandbox.mfa_serial
    assert remote.account_id == sandbox.account_id
    code = remote.mfa_code()
    assert code == sandbox.mfa_code() or code == sandbox.mfa_code(at=time.time() - 30)
    issued = sts(sandbox).get_session_token(SerialNumber=remote.mfa_serial, TokenCode=code)
    assert issued["Credentials"]["AccessKeyId"].startswith("ASIA")
    token = remote.mint_trade_in_token()
    assert token in sandbox.issued_secrets()
    assert sts(sandbox).get_delegated_access_token(TradeInToken=token)["AssumedPrincipal"]
    bearer = remote.sso_access_token()
    sso = boto3_session().client("sso", region_name="us-east-1")  # AWS_ENDPOINT_URL
    assert sso.list_accounts(accessToken=bearer)["accountList"][0]["accountId"] == (
        remote.sso_account_id
    )
    oidc = boto3_session().client("sso-oidc", region_name="us-east-1")
    reg = oidc.register_client(clientName="t", clientType="public")
    ids = {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]}
    device = oidc.start_device_authorization(startUrl=remote.sso_start_url, **ids)
    remote.approve_device(device["userCode"])
    token_response = oidc.create_token(
        grantType="urn:ietf:params:oauth:grant-type:device_code",
        deviceCode=device["deviceCode"],
        **ids,
    )
    assert token_response["accessToken"] in sandbox.issued_secrets()
    with pytest.raises(RuntimeError, match="no pending device authorization"):
        remote.approve_device("NOPE-NOPE")


def test_aws_endpoint_url_points_plain_boto3_at_it(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = sandbox.source_credentials
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    sandbox.reset_requests()
    assert boto3.client("sts").get_caller_identity()["Arn"] == sandbox.user_arn
    assert [r.operation for r in sandbox.requests] == ["GetCallerIdentity"]


def test_requests_are_counted_by_operation(sandbox: Any) -> None:
    client = sts(sandbox)
    sandbox.reset_requests()
    client.get_caller_identity()
    client.get_session_token()
    with pytest.raises(ClientError):
        client.get_session_token(SerialNumber=sandbox.mfa_serial, TokenCode="000000")
    recorded = sandbox.requests
    assert [(r.service, r.operation, r.status) for r in recorded] == [
        ("sts", "GetCallerIdentity", 200),
        ("sts", "GetSessionToken", 200),
        ("sts", "GetSessionToken", 403),
    ]
    assert {r.access_key_id for r in recorded} == {sandbox.source_credentials.access_key}
    assert sandbox.count("GetSessionToken") == 2
    sandbox.reset_requests()
    assert sandbox.requests == []


def test_fail_next_answers_with_the_aws_error(sandbox: Any) -> None:
    client = sts(sandbox, retries={"mode": "standard", "total_max_attempts": 1})
    sandbox.fail_next(
        "GetSessionToken", status=403, code="RegionDisabledException", message="STS is off"
    )
    with pytest.raises(client.exceptions.RegionDisabledException) as excinfo:
        client.get_session_token()
    assert excinfo.value.response["Error"]["Message"] == "STS is off"
    assert client.get_session_token()["Credentials"]  # only the next one
    sandbox.fail_next("ListAccounts", status=429, code="TooManyRequestsException", times=2)
    retries = Config(retries={"mode": "standard", "total_max_attempts": 1})
    sso = sandbox_client(sandbox, "sso", config=retries)
    token = sandbox.sso_access_token()
    for _ in range(2):
        with pytest.raises(sso.exceptions.TooManyRequestsException):
            sso.list_accounts(accessToken=token)
    assert sso.list_accounts(accessToken=token)["accountList"]


def test_hang_next_makes_the_client_time_out(sandbox: Any) -> None:
    client = sts(sandbox, read_timeout=0.5, retries={"mode": "standard", "total_max_attempts": 1})
    sandbox.hang_next("GetCallerIdentity", 2.0)
    sandbox.reset_requests()
    started = time.perf_counter()
    with pytest.raises(ReadTimeoutError):
        client.get_caller_identity()
    assert time.perf_counter() - started < 1.9
    # counted when it arrived, while the sandbox still holds it (status not yet known)
    assert [(r.operation, r.status) for r in sandbox.requests] == [("GetCallerIdentity", 0)]
    time.sleep(1.8)
    assert [(r.operation, r.status) for r in sandbox.requests] == [("GetCallerIdentity", 200)]
    assert client.get_caller_identity()["Arn"] == sandbox.user_arn


def test_stop_releases_a_hanging_request() -> None:
    from stsmagic.sandbox import Sandbox

    box = Sandbox().start()
    box.hang_next("GetCallerIdentity", 60)
    client = sts(box, read_timeout=30, retries={"mode": "standard", "total_max_attempts": 1})
    outcome: list[str] = []

    def call() -> None:
        try:
            client.get_caller_identity()
            outcome.append("answered")
        except Exception as error:
            outcome.append(type(error).__name__)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)
    started = time.perf_counter()
    box.stop()
    assert time.perf_counter() - started < 2.0
    caller.join(5)
    assert not caller.is_alive()
    assert outcome  # the client got an answer or a closed connection, not a 30 s wait


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_cli_help_and_serve_until_a_signal(
    monkeypatch: pytest.MonkeyPatch, stop_signal: signal.Signals
) -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "stsmagic.cli", "sandbox", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "--port" in help_text
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "stsmagic.cli", "sandbox", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        banner = ""
        while "Ctrl-C" not in banner and process.poll() is None:
            banner += process.stdout.readline()  # type: ignore[union-attr]
        assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port}\n" in banner
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/info", timeout=10) as r:
            info = json.loads(r.read())
        assert info["endpoint_url"] == f"http://127.0.0.1:{port}"
        # the printed exports are a working profile for the IAM user; the secret is not printed
        exports = dict(
            pair.split("=", 1)
            for line in banner.splitlines()
            if line.startswith("export ")
            for pair in line.split()[1:]
        )
        monkeypatch.delenv("AWS_CONFIG_FILE")
        monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE")
        for name, value in exports.items():
            monkeypatch.setenv(name, value)
        session = boto3.session.Session()
        assert session.client("sts").get_caller_identity()["Arn"] == info["user_arn"]
        secret = session.get_credentials().secret_key
        assert len(secret) == 40
        assert secret not in banner
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=15)
        assert process.returncode == 0, err
        assert "stopped" in out
        assert secret not in out + err
        assert not os.path.exists(exports["AWS_SHARED_CREDENTIALS_FILE"])
        assert not port_open(port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_moto_serves_the_rest_without_expect_continue_stalls(sandbox: Any) -> None:
    import io

    s3 = sandbox_client(sandbox, "s3", sandbox.source_credentials)
    s3.create_bucket(Bucket="life-bucket")
    started = time.perf_counter()
    s3.put_object(Bucket="life-bucket", Key="a b/c.txt", Body=io.BytesIO(b"x" * 100_000))
    assert time.perf_counter() - started < 0.8  # botocore waits 1 s for a 100 Continue
    body = s3.get_object(Bucket="life-bucket", Key="a b/c.txt")["Body"].read()
    assert body == b"x" * 100_000
    operations = [r.operation for r in sandbox.requests[-3:]]
    assert operations == [
        "PUT /life-bucket",
        "PUT /life-bucket/a b/c.txt",
        "GET /life-bucket/a b/c.txt",
    ]


def test_starting_and_serving_logs_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    import logging
    import urllib.error

    from stsmagic.sandbox import Sandbox

    caplog.set_level(logging.DEBUG)
    with Sandbox() as box:
        with urllib.request.urlopen(f"{box.endpoint_url}/_sandbox/mfa-code") as response:
            assert len(json.loads(response.read())["code"]) == 6
        box.mint_trade_in_token()
        box.sso_access_token()
        with pytest.raises(urllib.error.HTTPError):  # an SSO refusal, answered and logged nowhere
            urllib.request.urlopen(f"{box.endpoint_url}/federation/credentials?account_id=1")
        secrets = box.issued_secrets()
    assert len(secrets) >= 4  # source secret key, MFA seed, trade-in token, bearer token
    logged = caplog.text + repr([r.__dict__ for r in caplog.records])
    assert [s for s in secrets if s in logged] == []


def test_control_api_refuses_nonsense_in_one_line(sandbox: Any) -> None:
    import urllib.error

    def post(name: str, payload: bytes) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"{sandbox.endpoint_url}/_sandbox/{name}", data=payload, method="POST"
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert post("trade-in-token", b'{"expires_in": "soon"}')[0] == 400
    assert post("approve-device", b'{"user_code": "NOPE-NOPE"}')[0] == 404
    assert post("no-such-thing", b"{}")[0] == 404
    status, body = post("sso-token", b'{"expires_in": 60}')
    assert status == 200
    assert body["accessToken"] in sandbox.issued_secrets()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["expiresAt"])
