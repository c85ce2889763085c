"""Broker.assume_role and %sts_role against the sandbox: plain, MFA (code and form),
ExternalId, chaining, and who signs what afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

import stsmagic
from stsmagic.broker import Broker, default_role_session_name
from stsmagic.errors import ParameterError, RequestRefused
from tests.helpers.aws_clients import caller_arn


def test_broker_assume_role_is_a_role_session(sandbox: Any, aws_profile: Path) -> None:
    session = Broker().assume_role(
        RoleArn=sandbox.role_arn("plain"), RoleSessionName="broker", SourceIdentity="me"
    )
    assert session.kind == "role"
    assert session.principal == (
        f"arn:aws:sts::{sandbox.account_id}:assumed-role/stsmagic-plain/broker"
    )
    assert session.packed_policy_size == 0
    assert 3500 < session.remaining.total_seconds() <= 3600  # none sent: AWS's default hour
    stsmagic.sessions.add(session)
    assert caller_arn() == session.principal


def test_default_session_name_is_within_the_limits(sandbox: Any, aws_profile: Path) -> None:
    name = default_role_session_name()
    assert name.startswith("stsmagic-") and 2 <= len(name) <= 64
    session = Broker().assume_role(RoleArn=sandbox.role_arn("plain"))
    assert session.principal is not None and session.principal.endswith("/" + name)


def test_mfa_role_with_a_code_and_refused_without(sandbox: Any, aws_profile: Path) -> None:
    broker = Broker()
    with pytest.raises(RequestRefused) as caught:
        broker.assume_role(RoleArn=sandbox.role_arn("mfa"), RoleSessionName="no-code")
    assert caught.value.code == "AccessDenied"
    assert "is not authorized to perform: sts:AssumeRole" in str(caught.value)
    session = broker.assume_role(
        RoleArn=sandbox.role_arn("mfa"),
        RoleSessionName="coded",
        SerialNumber=sandbox.mfa_serial,
        TokenCode=sandbox.mfa_code(),
    )
    assert session.principal is not None and session.principal.endswith("stsmagic-mfa/coded")


def test_chained_broker_signs_with_the_given_session(sandbox: Any, aws_profile: Path) -> None:
    broker = Broker()
    first = broker.assume_role(RoleArn=sandbox.role_arn("plain"), RoleSessionName="first")
    sandbox.reset_requests()
    with pytest.raises(ParameterError) as caught:
        broker.assume_role(RoleArn=sandbox.role_arn("plain"), DurationSeconds=3601, signed_by=first)
    assert "3600" in str(caught.value) and "chaining" in str(caught.value)
    assert sandbox.requests == []  # refused before sending
    second = broker.assume_role(
        RoleArn=sandbox.role_arn("external-id"),
        RoleSessionName="second",
        ExternalId=sandbox.external_id,
        signed_by=first,
    )
    assert [r.access_key_id for r in sandbox.requests if r.operation == "AssumeRole"] == [
        first.access_key_id
    ]
    assert second.principal is not None and second.principal.endswith("external-id/second")


def test_magic_assumes_and_activates(sandbox: Any, ip: Any) -> None:
    session = ip.run_line_magic(
        "sts_role",
        f"--role-arn {sandbox.role_arn('external-id')} --external-id {sandbox.external_id} "
        "--role-session-name nb --tags team=data --transitive-tag-keys team",
    )
    assert session.label == "role-1" and stsmagic.sessions.active is session
    assert caller_arn().endswith(":assumed-role/stsmagic-external-id/nb")


def test_magic_chain_signs_with_the_active_session(sandbox: Any, ip: Any) -> None:
    first = ip.run_line_magic("sts_role", f"--role-arn {sandbox.role_arn('plain')} --label a")
    sandbox.reset_requests()
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic(
            "sts_role", f"--role-arn {sandbox.role_arn('plain')} --chain --duration-seconds 7200"
        )
    message = str(caught.value)
    assert message.startswith("%sts_role: --duration-seconds (DurationSeconds): 7200 is too long")
    assert "\n" not in message and sandbox.requests == []
    second = ip.run_line_magic(
        "sts_role", f"--role-arn {sandbox.role_arn('plain')} --chain --role-session-name bb"
    )
    signed = [r.access_key_id for r in sandbox.requests if r.operation == "AssumeRole"]
    assert signed == [first.access_key_id]
    assert stsmagic.sessions.active is second


def test_magic_chain_needs_an_active_session(sandbox: Any, ip: Any) -> None:
    with pytest.raises(UsageError, match="--chain signs with the active session"):
        ip.run_line_magic("sts_role", f"--role-arn {sandbox.role_arn('plain')} --chain")


def test_magic_serial_without_code_shows_the_assume_role_form(sandbox: Any, ip: Any) -> None:
    form = ip.run_line_magic(
        "sts_role",
        f"--role-arn {sandbox.role_arn('mfa')} --serial-number {sandbox.mfa_serial} "
        "--label guarded",
    )
    assert form.submit.description == "Assume role"
    assert form.duration.value == 3600
    assert stsmagic.sessions.sessions == ()
    form.token_code.value = "000000" if sandbox.mfa_code() != "000000" else "111111"
    form.submit.click()
    assert form.error is not None and "AccessDenied" in form.error
    assert stsmagic.sessions.sessions == ()
    form.token_code.value = sandbox.mfa_code()
    form.submit.click()
    assert form.error is None and form.session is not None
    assert form.session.label == "guarded" and form.session.kind == "role"
    assert caller_arn().endswith(":assumed-role/stsmagic-mfa/" + default_role_session_name())


def test_magic_form_refuses_bad_input_before_showing(sandbox: Any, ip: Any) -> None:
    with pytest.raises(UsageError, match="--external-id"):
        ip.run_line_magic(
            "sts_role",
            f"--role-arn {sandbox.role_arn('mfa')} --serial-number {sandbox.mfa_serial} "
            "--external-id 'no spaces'",
        )


def test_magic_aws_refusal_is_one_line(sandbox: Any, ip: Any) -> None:
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("sts_role", f"--role-arn {sandbox.role_arn('external-id')}")
    message = str(caught.value)
    assert message.startswith("%sts_role: AssumeRole refused: AccessDenied: User: ")
    assert "\n" not in message and stsmagic.sessions.sessions == ()
    # the likely cause, which AWS does not say: the flags the line did not give
    assert message.endswith(
        "; if the role trusts you, try --serial-number and --token-code (the trust policy may "
        "ask for MFA), or --external-id (it may ask for an external id)"
    )


def test_an_access_denied_with_mfa_and_an_external_id_given_names_no_flag(
    sandbox: Any, ip: Any
) -> None:
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic(
            "sts_role",
            f"--role-arn {sandbox.role_arn('external-id')} --external-id wrong-one "
            f"--serial-number {sandbox.mfa_serial} --token-code {sandbox.mfa_code()}",
        )
    assert "AccessDenied" in str(caught.value) and "try --" not in str(caught.value)
