"""The sandbox's SSO portal, SSO OIDC device flow and console sign-in, over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.aws_clients import error_of, sandbox_client

# -- SSO portal -------------------------------------------------------------------------------


def test_role_credentials_for_the_assigned_role(sandbox: Any) -> None:
    import time

    token = sandbox.sso_access_token()
    assert token in sandbox.issued_secrets()
    sso = sandbox_client(sandbox, "sso")
    before_ms = time.time() * 1000
    creds = sso.get_role_credentials(
        accountId=sandbox.sso_account_id, roleName=sandbox.sso_role_name, accessToken=token
    )["roleCredentials"]
    assert creds["accessKeyId"].startswith("ASIA") and len(creds["accessKeyId"]) == 20
    assert len(creds["secretAccessKey"]) == 40
    # epoch milliseconds, one hour ahead
    assert 3590_000 <= creds["expiration"] - before_ms <= 3610_000
    who = sandbox_client(sandbox, "sts", creds).get_caller_identity()
    assert who["Arn"] == (
        f"arn:aws:sts::{sandbox.sso_account_id}:assumed-role/"
        f"{sandbox.sso_role_name}/{sandbox.user_name}"
    )
    assert who["Account"] == sandbox.sso_account_id


def test_accounts_and_roles_are_listed(sandbox: Any) -> None:
    token = sandbox.sso_access_token()
    sso = sandbox_client(sandbox, "sso")
    accounts = sso.list_accounts(accessToken=token)["accountList"]
    assert [a["accountId"] for a in accounts] == [sandbox.sso_account_id]
    roles = sso.list_account_roles(accessToken=token, accountId=sandbox.sso_account_id)["roleList"]
    assert sandbox.sso_role_name in [r["roleName"] for r in roles]
    assert {r["accountId"] for r in roles} == {sandbox.sso_account_id}
    with pytest.raises(sso.exceptions.ResourceNotFoundException):
        sso.list_account_roles(accessToken=token, accountId="000000000000")


def test_bad_token_is_unauthorized(sandbox: Any) -> None:
    sso = sandbox_client(sandbox, "sso")
    with pytest.raises(sso.exceptions.UnauthorizedException) as excinfo:
        sso.get_role_credentials(
            accountId=sandbox.sso_account_id, roleName=sandbox.sso_role_name, accessToken="nope"
        )
    assert error_of(excinfo) == (
        "UnauthorizedException",
        "Session token not found or invalid",
        401,
    )
    with pytest.raises(sso.exceptions.UnauthorizedException):
        sso.list_accounts(accessToken="nope")


@pytest.mark.parametrize("which", ["role", "account"])
def test_unassigned_role_or_account_is_forbidden(sandbox: Any, which: str) -> None:
    sso = sandbox_client(sandbox, "sso")
    account = "000000000000" if which == "account" else sandbox.sso_account_id
    role = "Admin" if which == "role" else sandbox.sso_role_name
    with pytest.raises(ClientError) as excinfo:
        sso.get_role_credentials(
            accountId=account, roleName=role, accessToken=sandbox.sso_access_token()
        )
    assert error_of(excinfo) == ("ForbiddenException", "No access", 403)


def test_logout_ends_the_token(sandbox: Any) -> None:
    token = sandbox.sso_access_token()
    sso = sandbox_client(sandbox, "sso")
    sso.logout(accessToken=token)
    with pytest.raises(sso.exceptions.UnauthorizedException):
        sso.list_accounts(accessToken=token)


# -- SSO OIDC device flow ---------------------------------------------------------------------


def test_device_flow_until_approved_then_refresh(sandbox: Any) -> None:
    oidc = sandbox_client(sandbox, "sso-oidc")
    client = oidc.register_client(clientName="stsmagic-test", clientType="public")
    assert client["clientSecret"] in sandbox.issued_secrets()
    assert client["clientSecretExpiresAt"] > client["clientIdIssuedAt"]
    ids = {"clientId": client["clientId"], "clientSecret": client["clientSecret"]}
    device = oidc.start_device_authorization(startUrl=sandbox.sso_start_url, **ids)
    assert device["verificationUriComplete"].endswith(device["userCode"])
    assert device["interval"] >= 1
    grant = {"grantType": "urn:ietf:params:oauth:grant-type:device_code", **ids}
    with pytest.raises(oidc.exceptions.AuthorizationPendingException) as excinfo:
        oidc.create_token(deviceCode=device["deviceCode"], **grant)
    assert excinfo.value.response["error"] == "authorization_pending"
    sandbox.approve_device(device["userCode"])
    token = oidc.create_token(deviceCode=device["deviceCode"], **grant)
    assert token["tokenType"] == "Bearer"
    assert token["expiresIn"] == 28800
    accounts = sandbox_client(sandbox, "sso").list_accounts(accessToken=token["accessToken"])
    assert accounts["accountList"][0]["accountId"] == sandbox.sso_account_id
    with pytest.raises(oidc.exceptions.InvalidGrantException):  # a device code is used once
        oidc.create_token(deviceCode=device["deviceCode"], **grant)
    refreshed = oidc.create_token(
        grantType="refresh_token", refreshToken=token["refreshToken"], **ids
    )
    assert refreshed["accessToken"] != token["accessToken"]
    with pytest.raises(oidc.exceptions.InvalidGrantException):  # refresh tokens rotate
        oidc.create_token(grantType="refresh_token", refreshToken=token["refreshToken"], **ids)


def test_device_flow_refusals(sandbox: Any) -> None:
    oidc = sandbox_client(sandbox, "sso-oidc")
    client = oidc.register_client(clientName="stsmagic-test", clientType="public")
    ids = {"clientId": client["clientId"], "clientSecret": client["clientSecret"]}
    with pytest.raises(oidc.exceptions.InvalidClientException):
        oidc.start_device_authorization(
            clientId=client["clientId"], clientSecret="wrong", startUrl=sandbox.sso_start_url
        )
    with pytest.raises(oidc.exceptions.InvalidRequestException):
        oidc.start_device_authorization(startUrl="https://elsewhere.awsapps.com/start", **ids)
    with pytest.raises(oidc.exceptions.UnsupportedGrantTypeException):
        oidc.create_token(grantType="password", **ids)
    with pytest.raises(ValueError, match="no pending device authorization"):
        sandbox.approve_device("ZZZZ-ZZZZ")


# -- console federation -----------------------------------------------------------------------


def federation(sandbox: Any, creds: dict[str, str], **extra: str) -> tuple[int, dict[str, Any]]:
    session = json.dumps(
        {
            "sessionId": creds["AccessKeyId"],
            "sessionKey": creds["SecretAccessKey"],
            "sessionToken": creds["SessionToken"],
        }
    )
    query = urllib.parse.urlencode({"Action": "getSigninToken", "Session": session, **extra})
    try:
        with urllib.request.urlopen(f"{sandbox.endpoint_url}/federation?{query}") as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_signin_token_for_federation_credentials(sandbox: Any) -> None:
    sts = sandbox_client(sandbox, "sts", sandbox.source_credentials)
    fed = sts.get_federation_token(Name="console")["Credentials"]
    status, body = federation(sandbox, fed)
    assert status == 200
    assert len(body["SigninToken"]) > 100
    assert body["SigninToken"] in sandbox.issued_secrets()
    bad = dict(fed, SecretAccessKey="x" * 40)
    assert federation(sandbox, bad)[0] == 400
    session = sts.get_session_token()["Credentials"]
    status, body = federation(sandbox, session)
    assert (status, body["code"]) == (400, "AccessDenied")
    # SessionDuration: AWS refuses it with federation credentials, whatever its value
    status, body = federation(sandbox, fed, SessionDuration="3600")
    assert (status, body["code"]) == (400, "InvalidParameter")
    assert "GetFederationToken" in body["message"]
