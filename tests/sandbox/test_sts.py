"""The sandbox's STS over HTTP with real boto3 clients: MFA, limits, keys, caller identity.

Every response is parsed by botocore; that is the proof of the wire format.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers.aws_clients import error_of, sandbox_client

NO_VALIDATION = Config(
    parameter_validation=False, retries={"mode": "standard", "total_max_attempts": 1}
)


def client(sandbox: Any, keys: Any = None, *, service: str = "sts", **config: Any) -> Any:
    """A client for ``service`` at the sandbox, signing with ``keys`` (default: the IAM user)."""
    keys = sandbox.source_credentials if keys is None else keys
    return sandbox_client(sandbox, service, keys, config.pop("config", None))


# -- GetSessionToken --------------------------------------------------------------------------


def test_session_token_with_the_right_mfa_code(sandbox: Any) -> None:
    sts = client(sandbox)
    creds = sts.get_session_token(
        SerialNumber=sandbox.mfa_serial, TokenCode=sandbox.mfa_code(), DurationSeconds=900
    )["Credentials"]
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", creds["AccessKeyId"])
    assert len(creds["SecretAccessKey"]) == 40
    assert len(creds["SessionToken"]) > 100
    remaining = (creds["Expiration"] - real_now()).total_seconds()
    assert 890 <= remaining <= 905
    who = client(sandbox, creds).get_caller_identity()
    assert who["Arn"] == sandbox.user_arn
    assert who["Account"] == sandbox.account_id


def sandbox_now(sandbox: Any) -> Any:
    """The sandbox's clock (other tests may have advanced it): what MFA codes follow."""
    return sandbox._context.now()


def real_now() -> Any:
    """What a client compares Expiration with."""
    import datetime

    return datetime.datetime.now(datetime.timezone.utc)


def test_every_issue_gets_fresh_keys(sandbox: Any) -> None:
    sts = client(sandbox)
    first = sts.get_session_token()["Credentials"]
    second = sts.get_session_token()["Credentials"]
    fed = sts.get_federation_token(Name="alice")["Credentials"]
    ids = {first["AccessKeyId"], second["AccessKeyId"], fed["AccessKeyId"]}
    secrets = {first["SecretAccessKey"], second["SecretAccessKey"], fed["SecretAccessKey"]}
    assert len(ids) == 3
    assert len(secrets) == 3
    assert first["SessionToken"] != second["SessionToken"]
    for secret in secrets:
        assert secret in sandbox.issued_secrets()


def test_default_duration_is_twelve_hours(sandbox: Any) -> None:
    creds = client(sandbox).get_session_token()["Credentials"]
    remaining = (creds["Expiration"] - real_now()).total_seconds()
    assert 43190 <= remaining <= 43205


@pytest.mark.parametrize("code", ["000000", "12345a"])
def test_wrong_mfa_code_is_access_denied(sandbox: Any, code: str) -> None:
    if code == sandbox.mfa_code():
        code = "999999"
    sts = client(sandbox, config=NO_VALIDATION)
    with pytest.raises(ClientError) as excinfo:
        sts.get_session_token(SerialNumber=sandbox.mfa_serial, TokenCode=code)
    error = error_of(excinfo)
    if code.isdigit():
        assert error == (
            "AccessDenied",
            "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
            403,
        )
    else:
        assert error[0] == "ValidationError"
        assert "at 'tokenCode' failed to satisfy constraint" in error[1]


def test_stale_mfa_code_is_access_denied(sandbox: Any) -> None:
    import pyotp

    # A code from two windows ago is outside valid_window=1; one window ago is inside.
    now = sandbox_now(sandbox).timestamp()
    stale = sandbox.mfa_code(at=now - 90)
    recent = sandbox.mfa_code(at=now - 30)
    assert pyotp  # the sandbox checks with pyotp's window, not its own arithmetic
    sts = client(sandbox)
    if stale not in (recent, sandbox.mfa_code(), sandbox.mfa_code(at=now + 30)):
        with pytest.raises(ClientError) as excinfo:
            sts.get_session_token(SerialNumber=sandbox.mfa_serial, TokenCode=stale)
        assert error_of(excinfo).code == "AccessDenied"
    assert sts.get_session_token(SerialNumber=sandbox.mfa_serial, TokenCode=recent)["Credentials"]


def test_mfa_serial_without_code_and_unknown_device(sandbox: Any) -> None:
    sts = client(sandbox)
    with pytest.raises(ClientError) as excinfo:
        sts.get_session_token(SerialNumber=sandbox.mfa_serial)
    assert error_of(excinfo)[:2] == (
        "AccessDenied",
        "MultiFactorAuthentication failed, must provide both MFA serial number and one time "
        "pass code.",
    )
    with pytest.raises(ClientError) as excinfo:
        sts.get_session_token(
            SerialNumber=f"arn:aws:iam::{sandbox.account_id}:mfa/nobody", TokenCode="123456"
        )
    code, message, status = error_of(excinfo)
    assert (code, status) == ("AccessDenied", 403)
    assert "unable to validate MFA code" in message


@pytest.mark.parametrize(
    ("seconds", "constraint"),
    [
        (899, "Member must have value greater than or equal to 900"),
        (129601, "Member must have value less than or equal to 129600"),
    ],
)
def test_duration_bounds_are_validation_errors(sandbox: Any, seconds: int, constraint: str) -> None:
    sts = client(sandbox, config=NO_VALIDATION)
    with pytest.raises(ClientError) as excinfo:
        sts.get_session_token(DurationSeconds=seconds)
    assert error_of(excinfo) == (
        "ValidationError",
        f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to "
        f"satisfy constraint: {constraint}",
        400,
    )
    assert client(sandbox).get_session_token(DurationSeconds=129600)["Credentials"]


@pytest.mark.parametrize("operation", ["GetSessionToken", "GetFederationToken"])
def test_session_credentials_cannot_get_more(sandbox: Any, operation: str) -> None:
    creds = client(sandbox).get_session_token()["Credentials"]
    sts = client(sandbox, creds)
    with pytest.raises(ClientError) as excinfo:
        if operation == "GetSessionToken":
            sts.get_session_token()
        else:
            sts.get_federation_token(Name="bob")
    assert error_of(excinfo) == (
        "AccessDenied",
        f"Cannot call {operation} with session credentials",
        403,
    )


# -- GetFederationToken -----------------------------------------------------------------------

POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
)


def test_federation_token_identity_and_packed_size(sandbox: Any) -> None:
    sts = client(sandbox)
    bare = sts.get_federation_token(Name="alice.b@corp")
    assert bare["FederatedUser"] == {
        "FederatedUserId": f"{sandbox.account_id}:alice.b@corp",
        "Arn": f"arn:aws:sts::{sandbox.account_id}:federated-user/alice.b@corp",
    }
    assert bare["PackedPolicySize"] == 0
    small = sts.get_federation_token(Name="alice", Policy=POLICY)["PackedPolicySize"]
    bigger = sts.get_federation_token(
        Name="alice",
        Policy=POLICY,
        PolicyArns=[{"arn": f"arn:aws:iam::aws:policy/Policy{i}"} for i in range(10)],
        Tags=[{"Key": f"team{i}", "Value": f"value-{i}-" + "x" * i} for i in range(20)],
    )
    assert 0 < small < bigger["PackedPolicySize"] <= 100
    creds = bigger["Credentials"]
    who = client(sandbox, creds).get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::{sandbox.account_id}:federated-user/alice"
    assert who["UserId"] == f"{sandbox.account_id}:alice"


def _refusal(sandbox: Any, **params: Any) -> tuple[str, str, int]:
    sts = client(sandbox, config=NO_VALIDATION)
    with pytest.raises(ClientError) as excinfo:
        sts.get_federation_token(**params)
    return error_of(excinfo)


@pytest.mark.parametrize(
    ("params", "where", "constraint"),
    [
        ({"Name": "a"}, "name", "Member must have length greater than or equal to 2"),
        ({"Name": "x" * 33}, "name", "Member must have length less than or equal to 32"),
        ({"Name": "bad name"}, "name", r"pattern: [\w+=,.@-]*"),
        ({"Name": "alice", "DurationSeconds": 600}, "durationSeconds", "greater than or equal"),
        ({"Name": "alice", "DurationSeconds": 200000}, "durationSeconds", "less than or equal"),
        ({"Name": "alice", "Policy": " " * 2049}, "policy", "length less than or equal to 2048"),
        ({"Name": "alice", "Policy": '{"Statement": "\u0100"}'}, "policy", "pattern"),
        (
            {
                "Name": "alice",
                "PolicyArns": [{"arn": f"arn:aws:iam::aws:policy/P{i}"} for i in range(11)],
            },
            "policyArns",
            "length less than or equal to 10",
        ),
        (
            {"Name": "alice", "Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]},
            "tags",
            "length less than or equal to 50",
        ),
        (
            {"Name": "alice", "Tags": [{"Key": "k" * 129, "Value": "v"}]},
            "tags.1.member.key",
            "length less than or equal to 128",
        ),
        (
            {"Name": "alice", "Tags": [{"Key": "k", "Value": "v" * 257}]},
            "tags.1.member.value",
            "length less than or equal to 256",
        ),
    ],
)
def test_federation_limits_are_validation_errors(
    sandbox: Any, params: dict[str, Any], where: str, constraint: str
) -> None:
    code, message, status = _refusal(sandbox, **params)
    assert (code, status) == ("ValidationError", 400)
    assert message.startswith("1 validation error detected: Value ")
    assert f"at '{where}' failed to satisfy constraint" in message
    assert constraint in message


def test_several_violations_are_reported_together(sandbox: Any) -> None:
    code, message, _ = _refusal(sandbox, Name="a b c", DurationSeconds=1)
    assert code == "ValidationError"
    assert message.startswith("2 validation errors detected: ")


def test_duplicate_tag_keys_ignoring_case(sandbox: Any) -> None:
    tags = [{"Key": "Team", "Value": "a"}, {"Key": "team", "Value": "b"}]
    assert _refusal(sandbox, Name="alice", Tags=tags) == (
        "InvalidParameterValue",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        400,
    )


@pytest.mark.parametrize("policy", ["{not json", '["a list"]'])
def test_malformed_policy(sandbox: Any, policy: str) -> None:
    code, _message, status = _refusal(sandbox, Name="alice", Policy=policy)
    assert (code, status) == ("MalformedPolicyDocument", 400)
    sts = client(sandbox)
    with pytest.raises(sts.exceptions.MalformedPolicyDocumentException):
        sts.get_federation_token(Name="alice", Policy=policy)


def test_packed_policy_too_large(sandbox: Any) -> None:
    import secrets

    tags = [
        {"Key": f"k{i}-{secrets.token_hex(8)}", "Value": secrets.token_hex(60)} for i in range(50)
    ]
    sts = client(sandbox)
    with pytest.raises(sts.exceptions.PackedPolicyTooLargeException) as excinfo:
        sts.get_federation_token(Name="alice", Policy=POLICY, Tags=tags)
    code, message, status = error_of(excinfo)
    assert (code, status) == ("PackedPolicyTooLarge", 400)
    assert re.fullmatch(r"Packed policy consumes \d+% of allotted space, .*", message)
    assert int(re.search(r"(\d+)%", message)[1]) > 100  # type: ignore[index]


# -- GetDelegatedAccessToken ------------------------------------------------------------------


def test_delegated_access_token_is_single_use(sandbox: Any) -> None:
    principal = f"arn:aws:iam::{sandbox.account_id}:role/data-reader"
    token = sandbox.mint_trade_in_token(principal_arn=principal, policy=POLICY)
    assert token in sandbox.issued_secrets()
    sts = client(sandbox)
    response = sts.get_delegated_access_token(TradeInToken=token)
    assert response["AssumedPrincipal"] == principal
    assert 0 < response["PackedPolicySize"] <= 100
    creds = response["Credentials"]
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", creds["AccessKeyId"])
    assert client(sandbox, creds).get_caller_identity()["Arn"] == principal
    with pytest.raises(sts.exceptions.ExpiredTradeInTokenException) as excinfo:
        sts.get_delegated_access_token(TradeInToken=token)
    assert error_of(excinfo).message == "The trade-in token has already been used."


def test_unknown_trade_in_token(sandbox: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        client(sandbox).get_delegated_access_token(TradeInToken="tit-not-a-real-token")
    assert error_of(excinfo) == ("AccessDenied", "The trade-in token is not valid.", 403)


def test_delegated_packed_policy_too_large(sandbox: Any) -> None:
    import secrets

    statements = [
        {
            "Effect": "Allow",
            "Action": f"s3:{secrets.token_hex(16)}",
            "Resource": secrets.token_hex(40),
        }
        for _ in range(30)
    ]
    token = sandbox.mint_trade_in_token(policy=json.dumps({"Statement": statements}))
    sts = client(sandbox)
    with pytest.raises(sts.exceptions.PackedPolicyTooLargeException):
        sts.get_delegated_access_token(TradeInToken=token)


# -- signatures and keys ----------------------------------------------------------------------


def test_wrong_secret_is_signature_does_not_match(sandbox: Any) -> None:
    keys = sandbox.source_credentials
    before = sandbox.signature_failures
    wrong = {"AccessKeyId": keys.access_key, "SecretAccessKey": "x" * 40}
    sts = sandbox_client(sandbox, "sts", wrong)
    with pytest.raises(ClientError) as excinfo:
        sts.get_caller_identity()
    code, message, status = error_of(excinfo)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith("The request signature we calculated does not match")
    assert sandbox.signature_failures == before + 1


def test_tampered_session_token_and_unknown_key(sandbox: Any) -> None:
    creds = dict(client(sandbox).get_session_token()["Credentials"])
    creds["SessionToken"] = creds["SessionToken"][:-4] + "AAAA"
    with pytest.raises(ClientError) as excinfo:
        client(sandbox, creds).get_caller_identity()
    assert error_of(excinfo) == (
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
        403,
    )
    unknown = {
        "AccessKeyId": "ASIAZZZZZZZZZZZZZZZZ",
        "SecretAccessKey": "y" * 40,
        "SessionToken": "t",
    }
    with pytest.raises(ClientError) as excinfo:
        client(sandbox, unknown).get_caller_identity()
    assert error_of(excinfo).code == "InvalidClientTokenId"


@pytest.mark.parametrize(
    ("skew", "words"), [(-20, "Signature expired"), (20, "Signature not yet current")]
)
def test_clock_skew_is_refused(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, skew: int, words: str
) -> None:
    import datetime

    import botocore.auth

    real = botocore.auth.get_current_datetime

    def skewed(*args: Any, **kwargs: Any) -> datetime.datetime:
        return real(*args, **kwargs) + datetime.timedelta(minutes=skew)

    sts = client(sandbox)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", skewed)
    with pytest.raises(ClientError) as excinfo:
        sts.get_caller_identity()
    code, message, status = error_of(excinfo)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith(words)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", real)
    assert sts.get_caller_identity()["Arn"] == sandbox.user_arn


def test_unsigned_call_is_missing_authentication_token(sandbox: Any) -> None:
    from botocore import UNSIGNED

    sts = sandbox_client(sandbox, "sts", config=Config(signature_version=UNSIGNED))
    with pytest.raises(ClientError) as excinfo:
        sts.get_caller_identity()
    assert error_of(excinfo) == (
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
        403,
    )


def test_other_sts_actions_reach_moto_signed(sandbox: Any) -> None:
    iam = client(sandbox, service="iam")
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]
    }
    name = "sandbox-test-assume"
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError:
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    creds = client(sandbox).assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    who = client(sandbox, creds).get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::{sandbox.account_id}:assumed-role/{name}/s1"
