"""Faults on the way to AWS: each is one clear line, and nothing is lost.

Endpoint refused, endpoint hanging past a timeout the user set, HTTP 500, throttling (retried by
botocore's standard retry mode, then given up), expired trade-in and SSO tokens, a skewed clock
and a wrong MFA code. Through the Python API each is a ``StsMagicError`` (a ``RequestRefused``
keeping the AWS code); through a magic a one-line ``UsageError``. The ledger, its active session
and boto3's live credentials are as they were.

Every fault queued at the shared sandbox is used up inside the test that queued it.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.answering_server import AnsweringServer
from tests.helpers.refusals import fails_cleanly


@pytest.fixture(autouse=True)
def profile(aws_profile: Path) -> Path:
    """Every test here: the sandbox user's profile, failing fast (botocore's standard retry
    mode, 2 attempts), written before conftest's `good` and `ip` are made."""
    with aws_profile.open("a") as config:
        config.write("retry_mode = standard\nmax_attempts = 2\n")
    return aws_profile


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fast_config(**kwargs: Any) -> Any:
    from botocore.config import Config

    # botocore's Config counts retries in max_attempts; total_max_attempts counts every try.
    return Config(retries={"mode": "standard", "total_max_attempts": 1}, **kwargs)


def wrong_code(sandbox: Any) -> str:
    """A well-formed code the device shows in none of the windows the sandbox accepts now.

    The sandbox accepts a few 30 s windows either side of its own clock (which tests move);
    the windows around real time are excluded exactly, and the code is derived from the
    current one, so a clash with a window around a moved clock is a one-in-10^5 chance.
    """
    now = datetime.now(timezone.utc)
    current = sandbox.mfa_code()
    valid = {current} | {sandbox.mfa_code(at=now + timedelta(seconds=30 * k)) for k in range(-6, 7)}
    candidates = (f"{(int(current) + step) % 1_000_000:06d}" for step in range(1, 100))
    return next(code for code in candidates if code not in valid)


def refused(sandbox: Any, good: Any, attempt: Callable[[], object], code: str) -> Any:
    """``attempt`` (which may send) is refused with AWS's ``code``, in one clean line."""
    from stsmagic.errors import RequestRefused

    error = fails_cleanly(sandbox, attempt, RequestRefused, active=good, may_send=True)
    assert error.code == code, str(error)
    assert code in str(error)
    return error


def usage_error(sandbox: Any, good: Any, ip: Any, magic: str, line: str) -> str:
    """``%magic line`` (which may send) fails with one clean UsageError line."""
    from IPython.core.error import UsageError

    def run() -> object:
        return ip.run_line_magic(magic, line)

    return str(fails_cleanly(sandbox, run, UsageError, active=good, may_send=True))


def new_requests(sandbox: Any, since: int, operation: str) -> list[Any]:
    return [r for r in sandbox.requests[since:] if r.operation == operation]


# ---- endpoint refused ------------------------------------------------------------------


def test_endpoint_refused(sandbox: Any, good: Any, closed_port: int) -> None:
    from stsmagic import Broker

    broker = Broker(endpoint_url=f"http://127.0.0.1:{closed_port}", config=fast_config())
    error = refused(
        sandbox,
        good,
        lambda: broker.get_session_token(TokenCode=sandbox.mfa_code()),
        "EndpointConnectionError",
    )
    assert error.operation == "GetSessionToken"


def test_endpoint_refused_magic(sandbox: Any, good: Any, ip: Any, closed_port: int) -> None:
    line = f"--endpoint-url http://127.0.0.1:{closed_port} --token-code {sandbox.mfa_code()}"
    message = usage_error(sandbox, good, ip, "sts_session", line)
    assert "EndpointConnectionError" in message or "connect" in message.lower()


NOT_AWS = {
    "html-502": (502, b"<html><body><h1>502 Bad Gateway</h1>\n<p>upstream</p></body></html>"),
    "text-500": (500, b"A server error occurred.  Please contact the administrator."),
}


@pytest.fixture(params=sorted(NOT_AWS))
def html_proxy(request: pytest.FixtureRequest) -> Iterator[str]:
    """An endpoint that is not AWS: a proxy answering every request with its own error page."""
    status, body = NOT_AWS[request.param]
    with AnsweringServer(body, status, "text/html") as server:
        yield server.url


def test_endpoint_that_is_not_aws(sandbox: Any, good: Any, html_proxy: str) -> None:
    """A proxy's error page (HTML, or plain text that botocore cannot parse) is one line."""
    from stsmagic import Broker, RequestRefused

    broker = Broker(endpoint_url=html_proxy, config=fast_config())
    fails_cleanly(
        sandbox,
        lambda: broker.get_session_token(TokenCode=sandbox.mfa_code()),
        RequestRefused,
        active=good,
        may_send=True,
    )


def test_endpoint_that_is_not_aws_magic(sandbox: Any, good: Any, ip: Any, html_proxy: str) -> None:
    message = usage_error(
        sandbox, good, ip, "sts_session", f"--endpoint-url {html_proxy} --token-code 123456"
    )
    assert "GetSessionToken" in message


# ---- endpoint hanging ------------------------------------------------------------------


def test_endpoint_hanging_times_out_as_the_user_set(sandbox: Any, good: Any) -> None:
    import time

    from stsmagic import Broker

    broker = Broker(endpoint_url=sandbox.endpoint_url, config=fast_config(read_timeout=0.5))
    since = len(sandbox.requests)
    sandbox.hang_next("GetSessionToken", 2)
    refused(
        sandbox,
        good,
        lambda: broker.get_session_token(TokenCode=sandbox.mfa_code()),
        "ReadTimeoutError",
    )
    # The sandbox records the request on arrival and its status when it answers, after the
    # hang: the client gave up before that, so it used the user's read timeout (botocore's own
    # is 60 s), whatever the machine's speed.
    sent = new_requests(sandbox, since, "GetSessionToken")
    assert [r.status for r in sent] == [0], "the client waited the hang out"
    # Wait for that answer, so that the held request is done before the next test.
    deadline = time.monotonic() + 10
    while new_requests(sandbox, since, "GetSessionToken")[0].status == 0:
        assert time.monotonic() < deadline, "the sandbox never answered the held request"
        time.sleep(0.05)
    assert len(new_requests(sandbox, since, "GetSessionToken")) == 1, "the timeout was retried"


# ---- HTTP 500 --------------------------------------------------------------------------


def test_http_500_once_is_retried_then_issued(sandbox: Any, good: Any) -> None:
    from botocore.config import Config

    from stsmagic import Broker

    broker = Broker(config=Config(retries={"mode": "standard", "total_max_attempts": 2}))
    since = len(sandbox.requests)
    sandbox.fail_next("GetSessionToken", status=500, times=1)
    session = broker.get_session_token(TokenCode=sandbox.mfa_code())
    statuses = [r.status for r in new_requests(sandbox, since, "GetSessionToken")]
    assert statuses == [500, 200]
    assert session.kind == "session" and session.access_key_id != good.access_key_id


def test_http_500_every_time(sandbox: Any, good: Any) -> None:
    from botocore.config import Config

    from stsmagic import Broker

    broker = Broker(config=Config(retries={"mode": "standard", "total_max_attempts": 2}))
    since = len(sandbox.requests)
    sandbox.fail_next("GetSessionToken", status=500, times=2)
    refused(
        sandbox,
        good,
        lambda: broker.get_session_token(TokenCode=sandbox.mfa_code()),
        "InternalFailure",
    )
    assert [r.status for r in new_requests(sandbox, since, "GetSessionToken")] == [500, 500]


def test_http_500_magic(sandbox: Any, good: Any, ip: Any) -> None:
    since = len(sandbox.requests)
    sandbox.fail_next("GetSessionToken", status=500, times=2)  # the profile allows 2 attempts
    message = usage_error(sandbox, good, ip, "sts_session", f"--token-code {sandbox.mfa_code()}")
    assert "InternalFailure" in message
    assert len(new_requests(sandbox, since, "GetSessionToken")) == 2


# ---- throttling ------------------------------------------------------------------------


def test_throttling_is_retried_by_standard_mode(sandbox: Any, good: Any) -> None:
    from botocore.config import Config

    from stsmagic import Broker

    broker = Broker(config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    since = len(sandbox.requests)
    sandbox.fail_next("GetSessionToken", code="Throttling", status=400, times=2)
    session = broker.get_session_token(TokenCode=sandbox.mfa_code())
    assert [r.status for r in new_requests(sandbox, since, "GetSessionToken")] == [400, 400, 200]
    assert session.access_key_id.startswith("ASIA")


def drain(sandbox: Any, operation: str, code: str, most: int) -> int:
    """Use up faults still queued for ``operation``; how many there were."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    keys = sandbox.source_credentials
    sts = boto3.Session(
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        region_name="us-east-1",
    ).client(
        "sts",
        endpoint_url=sandbox.endpoint_url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    for drained in range(most + 1):
        try:
            sts.get_session_token(SerialNumber=sandbox.mfa_serial, TokenCode=sandbox.mfa_code())
        except ClientError as e:
            if e.response["Error"]["Code"] != code:
                raise
        else:
            return drained
    raise AssertionError(f"more than {most} {code} faults were queued")


def test_throttling_that_does_not_stop(sandbox: Any, good: Any) -> None:
    from botocore.config import Config

    from stsmagic import Broker

    broker = Broker(config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    sandbox.fail_next("GetSessionToken", code="Throttling", status=400, times=10)
    try:
        refused(
            sandbox,
            good,
            lambda: broker.get_session_token(TokenCode=sandbox.mfa_code()),
            "Throttling",
        )
    finally:
        left = drain(sandbox, "GetSessionToken", "Throttling", 10)
    assert left == 7, "botocore's standard mode makes 3 attempts"


def test_throttling_that_does_not_stop_magic(sandbox: Any, good: Any, ip: Any) -> None:
    sandbox.fail_next("GetSessionToken", code="Throttling", status=400, times=10)
    try:
        message = usage_error(
            sandbox, good, ip, "sts_session", f"--token-code {sandbox.mfa_code()}"
        )
    finally:
        left = drain(sandbox, "GetSessionToken", "Throttling", 10)
    assert "Throttling" in message
    assert left == 8, "the profile's max_attempts = 2 was not used"


# ---- expired tokens --------------------------------------------------------------------


def test_expired_trade_in_token(sandbox: Any, good: Any) -> None:
    from stsmagic import Broker

    token = sandbox.mint_trade_in_token(expires_in=-1)  # expired: the shared clock stays put
    broker = Broker()
    refused(
        sandbox,
        good,
        lambda: broker.get_delegated_access_token(TradeInToken=token),
        "ExpiredTradeInTokenException",
    )


def test_expired_trade_in_token_magic(sandbox: Any, good: Any, ip: Any) -> None:
    token = sandbox.mint_trade_in_token(expires_in=-1)  # expired: the shared clock stays put
    ip.user_ns["trade_in"] = token
    try:
        message = usage_error(sandbox, good, ip, "sts_delegated", "--trade-in-token trade_in")
    finally:
        del ip.user_ns["trade_in"]
    assert "ExpiredTradeInTokenException" in message


def test_expired_sso_token(sandbox: Any, good: Any) -> None:
    from stsmagic import Broker

    token = sandbox.sso_access_token(expires_in=-1)
    broker = Broker(region_name=sandbox.sso_region)
    refused(
        sandbox,
        good,
        lambda: broker.get_role_credentials(
            accountId=sandbox.sso_account_id, roleName=sandbox.sso_role_name, accessToken=token
        ),
        "UnauthorizedException",
    )


def test_expired_sso_token_in_the_cli_cache_magic(
    sandbox: Any, good: Any, ip: Any, profile: Path, tmp_path: Path
) -> None:
    """An expired AWS CLI cache entry: the magic says to log in again, and sends nothing."""
    with profile.open("a") as config:
        config.write(
            "sso_session = corp\n\n[sso-session corp]\n"
            f"sso_start_url = {sandbox.sso_start_url}\nsso_region = {sandbox.sso_region}\n"
        )
    cache = tmp_path / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    stamp = past.strftime("%Y-%m-%dT%H:%M:%SZ")
    (cache / (hashlib.sha1(b"corp").hexdigest() + ".json")).write_text(
        json.dumps(
            {
                "startUrl": sandbox.sso_start_url,
                "region": sandbox.sso_region,
                "accessToken": sandbox.sso_access_token(),
                "expiresAt": stamp,
            }
        )
    )
    since = len(sandbox.requests)
    line = f"--account-id {sandbox.sso_account_id} --role-name {sandbox.sso_role_name}"
    message = usage_error(sandbox, good, ip, "sso_role", line)
    assert "%sso_login" in message
    assert new_requests(sandbox, since, "GetRoleCredentials") == []


# ---- clock skew ------------------------------------------------------------------------


def test_clock_skew(sandbox: Any, good: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.auth

    from stsmagic import Broker

    skewed = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: skewed)
    broker = Broker(config=fast_config())
    error = refused(
        sandbox,
        good,
        lambda: broker.get_session_token(TokenCode=sandbox.mfa_code()),
        "SignatureDoesNotMatch",
    )
    assert "expired" in str(error).lower() or "clock" in str(error).lower()


def test_clock_skew_magic(
    sandbox: Any, good: Any, ip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.auth

    skewed = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: skewed)
    message = usage_error(sandbox, good, ip, "sts_session", f"--token-code {sandbox.mfa_code()}")
    assert "SignatureDoesNotMatch" in message


# ---- wrong MFA code --------------------------------------------------------------------


def test_wrong_mfa_code(sandbox: Any, good: Any) -> None:
    from stsmagic import Broker

    broker = Broker()
    refused(
        sandbox,
        good,
        lambda: broker.get_session_token(TokenCode=wrong_code(sandbox)),
        "AccessDenied",
    )


def test_wrong_mfa_code_magic(sandbox: Any, good: Any, ip: Any) -> None:
    message = usage_error(sandbox, good, ip, "sts_session", f"--token-code {wrong_code(sandbox)}")
    assert "AccessDenied" in message
