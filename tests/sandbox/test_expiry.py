"""Expiry on the sandbox's own clock: keys, trade-in tokens, SSO tokens and device codes.

These move the clock, so they use a sandbox of their own, never the shared one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.aws_clients import error_of, sandbox_client


@pytest.fixture
def box() -> Iterator[Any]:
    from stsmagic.sandbox import Sandbox

    with Sandbox() as sandbox:
        yield sandbox


def client(box: Any, service: str, creds: dict[str, Any] | None = None) -> Any:
    return sandbox_client(box, service, creds or box.source_credentials)


def test_expired_session_key_is_refused_by_sts_and_passthrough(box: Any) -> None:
    creds = client(box, "sts").get_session_token(DurationSeconds=900)["Credentials"]
    s3 = client(box, "s3", creds)
    s3.create_bucket(Bucket="expiry-bucket")
    box.advance(870)  # 30 s of margin: a loaded machine's real time passes too
    assert client(box, "sts", creds).get_caller_identity()["Arn"] == box.user_arn
    box.advance(31)
    with pytest.raises(ClientError) as excinfo:
        client(box, "sts", creds).get_caller_identity()
    assert error_of(excinfo).code == "ExpiredToken"
    assert excinfo.value.response["Error"]["Message"] == (
        "The security token included in the request is expired"
    )
    with pytest.raises(ClientError) as excinfo:
        s3.list_buckets()
    assert error_of(excinfo).code == "ExpiredToken"
    with pytest.raises(ClientError) as excinfo:
        client(box, "iam", creds).list_users()
    assert error_of(excinfo).code == "ExpiredToken"
    # the long-term keys never expire
    # (moto's state is the process's: other tests' buckets may be there too)
    names = [b["Name"] for b in client(box, "s3").list_buckets()["Buckets"]]
    assert "expiry-bucket" in names


def test_mfa_codes_follow_the_sandbox_clock(box: Any) -> None:
    code = box.mfa_code()
    box.advance(120)
    sts = client(box, "sts")
    if code != box.mfa_code():
        with pytest.raises(ClientError) as excinfo:
            sts.get_session_token(SerialNumber=box.mfa_serial, TokenCode=code)
        assert error_of(excinfo).code == "AccessDenied"
    creds = sts.get_session_token(SerialNumber=box.mfa_serial, TokenCode=box.mfa_code())
    assert creds["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_trade_in_token_expires(box: Any) -> None:
    token = box.mint_trade_in_token(expires_in=60)
    box.advance(61)
    sts = client(box, "sts")
    with pytest.raises(sts.exceptions.ExpiredTradeInTokenException) as excinfo:
        sts.get_delegated_access_token(TradeInToken=token)
    assert excinfo.value.response["Error"]["Message"] == "The trade-in token has expired."


def test_sso_tokens_and_role_credentials_expire(box: Any) -> None:
    sso = sandbox_client(box, "sso")
    token = box.sso_access_token(expires_in=600)
    creds = sso.get_role_credentials(
        accountId=box.sso_account_id, roleName=box.sso_role_name, accessToken=token
    )["roleCredentials"]
    box.advance(601)
    with pytest.raises(sso.exceptions.UnauthorizedException):
        sso.list_accounts(accessToken=token)
    assert client(box, "sts", creds).get_caller_identity()["Account"] == box.sso_account_id
    box.advance(3600)
    with pytest.raises(ClientError) as excinfo:
        client(box, "sts", creds).get_caller_identity()
    assert error_of(excinfo).code == "ExpiredToken"


def test_device_code_expires(box: Any) -> None:
    oidc = sandbox_client(box, "sso-oidc")
    reg = oidc.register_client(clientName="t", clientType="public")
    ids = {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]}
    device = oidc.start_device_authorization(startUrl=box.sso_start_url, **ids)
    box.approve_device(device["userCode"])
    box.advance(device["expiresIn"] + 1)
    with pytest.raises(oidc.exceptions.ExpiredTokenException):
        oidc.create_token(
            grantType="urn:ietf:params:oauth:grant-type:device_code",
            deviceCode=device["deviceCode"],
            **ids,
        )


def test_advance_ages_what_was_issued_not_what_comes_after(box: Any) -> None:
    import datetime

    sts = client(box, "sts")
    before = sts.get_session_token(DurationSeconds=3600)["Credentials"]
    box.advance(1800)
    after = sts.get_session_token(DurationSeconds=3600)["Credentials"]
    now = datetime.datetime.now(datetime.timezone.utc)
    # on the real clock, the new key says one hour, as AWS would
    assert 3590 <= (after["Expiration"] - now).total_seconds() <= 3605
    box.advance(1801)
    with pytest.raises(ClientError) as excinfo:
        client(box, "sts", before).get_caller_identity()
    assert error_of(excinfo).code == "ExpiredToken"
    assert client(box, "sts", after).get_caller_identity()["Arn"] == box.user_arn
