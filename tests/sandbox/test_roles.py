"""The sandbox's AssumeRole, over HTTP with raw boto3: roles, trust, limits, chaining."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.aws_clients import error_of, sandbox_client


def source_sts(sandbox: Any) -> Any:
    return sandbox_client(sandbox, "sts", sandbox.source_credentials)


def sts_of(sandbox: Any, creds: dict[str, Any]) -> Any:
    return sandbox_client(sandbox, "sts", creds)


def test_plain_role_answers_as_aws_does(sandbox: Any) -> None:
    answer = source_sts(sandbox).assume_role(
        RoleArn=sandbox.role_arn("plain"),
        RoleSessionName="alice",
        SourceIdentity="alice@example.com",
        Tags=[{"Key": "team", "Value": "data"}],
        TransitiveTagKeys=["team"],
    )
    arn = f"arn:aws:sts::{sandbox.account_id}:assumed-role/stsmagic-plain/alice"
    assert answer["AssumedRoleUser"]["Arn"] == arn
    assert answer["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    assert answer["AssumedRoleUser"]["AssumedRoleId"].endswith(":alice")
    assert answer["SourceIdentity"] == "alice@example.com"
    assert answer["PackedPolicySize"] > 0  # the tags are packed
    creds = answer["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert sts_of(sandbox, creds).get_caller_identity()["Arn"] == arn
    again = source_sts(sandbox).assume_role(RoleArn=sandbox.role_arn("plain"), RoleSessionName="a2")
    assert again["Credentials"]["AccessKeyId"] != creds["AccessKeyId"]
    assert again["Credentials"]["SecretAccessKey"] != creds["SecretAccessKey"]


def test_default_duration_is_an_hour(sandbox: Any) -> None:
    import time

    creds = source_sts(sandbox).assume_role(
        RoleArn=sandbox.role_arn("plain"), RoleSessionName="hour"
    )["Credentials"]
    assert abs(creds["Expiration"].timestamp() - time.time() - 3600) < 60


def test_mfa_role_needs_a_valid_code(sandbox: Any) -> None:
    sts = source_sts(sandbox)
    role = sandbox.role_arn("mfa")
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(RoleArn=role, RoleSessionName="no-mfa")
    assert error_of(excinfo)[:2] == (
        "AccessDenied",
        f"User: {sandbox.user_arn} is not authorized to perform: sts:AssumeRole on resource: "
        + role,
    )
    wrong = "000000" if sandbox.mfa_code() != "000000" else "111111"
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(
            RoleArn=role, RoleSessionName="bad", SerialNumber=sandbox.mfa_serial, TokenCode=wrong
        )
    assert error_of(excinfo).code == "AccessDenied"
    answer = sts.assume_role(
        RoleArn=role,
        RoleSessionName="mfa",
        SerialNumber=sandbox.mfa_serial,
        TokenCode=sandbox.mfa_code(),
    )
    assert answer["AssumedRoleUser"]["Arn"].endswith(":assumed-role/stsmagic-mfa/mfa")


def test_external_id_role_needs_the_external_id(sandbox: Any) -> None:
    sts = source_sts(sandbox)
    role = sandbox.role_arn("external-id")
    for extra in ({}, {"ExternalId": "not-the-one"}):
        with pytest.raises(ClientError) as excinfo:
            sts.assume_role(RoleArn=role, RoleSessionName="x-id", **extra)
        code, message, _ = error_of(excinfo)
        assert code == "AccessDenied" and message.endswith(f"on resource: {role}")
    answer = sts.assume_role(RoleArn=role, RoleSessionName="x-id", ExternalId=sandbox.external_id)
    assert answer["AssumedRoleUser"]["Arn"].endswith("/stsmagic-external-id/x-id")


def test_unknown_role_is_access_denied(sandbox: Any) -> None:
    role = f"arn:aws:iam::{sandbox.account_id}:role/no-such-role"
    with pytest.raises(ClientError) as excinfo:
        source_sts(sandbox).assume_role(RoleArn=role, RoleSessionName="nobody")
    assert error_of(excinfo)[:2] == (
        "AccessDenied",
        f"User: {sandbox.user_arn} is not authorized to perform: sts:AssumeRole on resource: "
        + role,
    )


def test_chained_role_is_limited_to_one_hour(sandbox: Any) -> None:
    first = source_sts(sandbox).assume_role(
        RoleArn=sandbox.role_arn("plain"), RoleSessionName="first"
    )["Credentials"]
    chained = sts_of(sandbox, first)
    with pytest.raises(ClientError) as excinfo:
        chained.assume_role(
            RoleArn=sandbox.role_arn("plain"), RoleSessionName="second", DurationSeconds=3601
        )
    assert error_of(excinfo)[:2] == (
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
        "role chaining.",
    )
    answer = chained.assume_role(
        RoleArn=sandbox.role_arn("plain"), RoleSessionName="second", DurationSeconds=3600
    )
    assert answer["AssumedRoleUser"]["Arn"].endswith("/stsmagic-plain/second")
    # not chained: the plain role allows 12 hours, the external-id role its own 1-hour maximum
    long = source_sts(sandbox).assume_role(
        RoleArn=sandbox.role_arn("plain"), RoleSessionName="long", DurationSeconds=43200
    )
    assert long["AssumedRoleUser"]
    with pytest.raises(ClientError) as excinfo:
        source_sts(sandbox).assume_role(
            RoleArn=sandbox.role_arn("external-id"),
            RoleSessionName="long",
            ExternalId=sandbox.external_id,
            DurationSeconds=7200,
        )
    assert error_of(excinfo).code == "ValidationError"
    assert "MaxSessionDuration" in error_of(excinfo).message


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"DurationSeconds": 43201}, "durationSeconds"),
        ({"ExternalId": "bad id!"}, "externalId"),
        ({"SourceIdentity": "bad identity"}, "sourceIdentity"),
        ({"RoleSessionName": "bad name"}, "roleSessionName"),
        # the session policies' limits, shared with GetFederationToken
        ({"Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]}, "tags"),
        (
            {"PolicyArns": [{"arn": f"arn:aws:iam::aws:policy/p{i}"} for i in range(11)]},
            "policyArns",
        ),
    ],
)
def test_limits_are_validation_errors(sandbox: Any, extra: dict[str, Any], words: str) -> None:
    request = {"RoleArn": sandbox.role_arn("plain"), "RoleSessionName": "limits", **extra}
    with pytest.raises(ClientError) as excinfo:
        source_sts(sandbox).assume_role(**request)
    code, message, _ = error_of(excinfo)
    assert code == "ValidationError" and f"at '{words}'" in message


def test_transitive_keys_must_be_tags(sandbox: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        source_sts(sandbox).assume_role(
            RoleArn=sandbox.role_arn("plain"), RoleSessionName="tt", TransitiveTagKeys=["team"]
        )
    assert error_of(excinfo).code == "InvalidParameterValue"


def test_signature_is_checked(sandbox: Any) -> None:
    keys = sandbox.source_credentials
    wrong = {"AccessKeyId": keys.access_key, "SecretAccessKey": "x" * 40, "SessionToken": None}
    with pytest.raises(ClientError) as excinfo:
        sts_of(sandbox, wrong).assume_role(RoleArn=sandbox.role_arn("plain"), RoleSessionName="sig")
    assert error_of(excinfo).code == "SignatureDoesNotMatch"


def test_role_arns_through_the_control_api(sandbox: Any) -> None:
    from stsmagic.sandbox import connect

    box = connect(sandbox.endpoint_url)
    for which in ("plain", "mfa", "external-id"):
        assert box.role_arn(which) == sandbox.role_arn(which)
    assert box.external_id == sandbox.external_id
    with pytest.raises(ValueError):
        sandbox.role_arn("admin")
