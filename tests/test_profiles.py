"""%sts_profile: what the AWS CLI would do for a profile, against the sandbox over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

import stsmagic
from stsmagic.broker import profiles
from tests.helpers.aws_clients import caller_arn


@pytest.fixture
def role_profiles(sandbox: Any, aws_profile: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Role, chain, SSO and unsupported profiles next to the `default` one."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    plain, mfa, xid = (sandbox.role_arn(w) for w in ("plain", "mfa", "external-id"))
    with aws_profile.open("a") as config:
        config.write(
            f"""
[profile analyst]
role_arn = {plain}
source_profile = default
role_session_name = analyst
duration_seconds = 900

[profile guarded]
role_arn = {mfa}
source_profile = default
mfa_serial = {sandbox.mfa_serial}
duration_seconds = 7200

[profile partner]
role_arn = {xid}
source_profile = default
external_id = {sandbox.external_id}

[profile chained]
role_arn = {xid}
source_profile = analyst
external_id = {sandbox.external_id}
role_session_name = chained

[profile loop-a]
role_arn = {plain}
source_profile = loop-b

[profile loop-b]
role_arn = {plain}
source_profile = loop-a

[profile from-env]
role_arn = {plain}
credential_source = Environment
role_session_name = from-env

[profile from-ec2]
role_arn = {plain}
credential_source = Ec2InstanceMetadata

[profile by-process]
credential_process = /bin/false

[profile web]
role_arn = {plain}
web_identity_token_file = /nonexistent/token

[profile portal]
sso_session = work
sso_account_id = {sandbox.sso_account_id}
sso_role_name = {sandbox.sso_role_name}
region = us-east-1

[profile over-portal]
role_arn = {plain}
source_profile = portal
role_session_name = over-portal

[sso-session work]
sso_start_url = {sandbox.sso_start_url}
sso_region = {sandbox.sso_region}
"""
        )
    return aws_profile


def assumed(sandbox: Any, role: str, session_name: str) -> str:
    return f"arn:aws:sts::{sandbox.account_id}:assumed-role/{role}/{session_name}"


def test_role_profile_with_source_profile(sandbox: Any, ip: Any, role_profiles: Path) -> None:
    session = ip.run_line_magic("sts_profile", "analyst")
    assert session.label == "analyst" and session.kind == "role"
    assert session.principal == assumed(sandbox, "stsmagic-plain", "analyst")
    assert 800 < session.remaining.total_seconds() <= 900  # the profile's duration_seconds
    assert caller_arn() == session.principal


def test_external_id_profile(sandbox: Any, ip: Any, role_profiles: Path) -> None:
    session = ip.run_line_magic("sts_profile", "partner --label p")
    assert session.label == "p"
    assert session.principal is not None and "/stsmagic-external-id/" in session.principal


def test_chain_of_profiles_is_followed(sandbox: Any, ip: Any, role_profiles: Path) -> None:
    sandbox.reset_requests()
    session = ip.run_line_magic("sts_profile", "chained")
    assert session.principal == assumed(sandbox, "stsmagic-external-id", "chained")
    signers = [r.access_key_id for r in sandbox.requests if r.operation == "AssumeRole"]
    assert signers[0] == sandbox.source_credentials.access_key
    assert len(signers) == 2 and signers[1].startswith("ASIA")  # the analyst role's key
    assert [s.label for s in stsmagic.sessions.sessions] == ["chained"]  # only the last


def test_chained_profile_above_an_hour_is_refused(
    sandbox: Any, ip: Any, role_profiles: Path
) -> None:
    sandbox.reset_requests()
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("sts_profile", "chained --duration-seconds 7200")
    message = str(caught.value)
    assert "DurationSeconds" in message and "3600" in message and "\n" not in message
    assert stsmagic.sessions.sessions == ()


def test_mfa_profile_with_code_and_form(sandbox: Any, ip: Any, role_profiles: Path) -> None:
    form = ip.run_line_magic("sts_profile", "guarded")
    assert form.submit.description == "Assume role"
    assert form.serial_number.value == sandbox.mfa_serial
    assert form.duration.value == 7200  # the profile's duration_seconds
    form.token_code.value = sandbox.mfa_code()
    form.submit.click()
    assert form.error is None and form.session is not None
    assert 7100 < form.session.remaining.total_seconds() <= 7200
    assert form.session.label == "guarded" and "/stsmagic-mfa/" in str(form.session.principal)
    ip.run_line_magic("sts_forget", "--all")
    session = ip.run_line_magic("sts_profile", f"guarded --token-code {sandbox.mfa_code()}")
    assert "/stsmagic-mfa/" in str(session.principal)


def test_profile_with_keys_and_mfa_serial_is_a_session_token(
    sandbox: Any, ip: Any, role_profiles: Path
) -> None:
    form = ip.run_line_magic("sts_profile", "default")
    assert form.submit.description == "Get session token"
    session = ip.run_line_magic("sts_profile", f"default --token-code {sandbox.mfa_code()}")
    assert session.kind == "session" and session.label == "default"


def test_credential_source_environment(
    sandbox: Any, ip: Any, role_profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UsageError, match="AWS_ACCESS_KEY_ID"):
        ip.run_line_magic("sts_profile", "from-env")
    keys = sandbox.source_credentials
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys.secret_key)
    sandbox.reset_requests()
    session = ip.run_line_magic("sts_profile", "from-env")
    assert session.principal == assumed(sandbox, "stsmagic-plain", "from-env")
    assert [r.access_key_id for r in sandbox.requests if r.operation == "AssumeRole"] == [
        keys.access_key
    ]


def test_sso_profile_and_a_role_over_it(
    sandbox: Any, ip: Any, role_profiles: Path, sso_logged_in: Path
) -> None:
    session = ip.run_line_magic("sts_profile", "portal")
    assert session.kind == "sso" and session.label == "portal"
    over = ip.run_line_magic("sts_profile", "over-portal")
    assert over.principal == assumed(sandbox, "stsmagic-plain", "over-portal")
    assert over.remaining.total_seconds() <= 3600  # chained: never more than an hour


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("loop-a", "its source_profile chain loops: loop-a -> loop-b -> loop-a"),
        ("from-ec2", "credential_source = Ec2InstanceMetadata is not supported"),
        ("by-process", "uses credential_process, which stsmagic does not support"),
        ("web", "uses web_identity_token_file, which stsmagic does not support"),
        ("nope", "profile 'nope' is not in the AWS config files"),
    ],
)
def test_what_cannot_be_done_is_one_line(
    sandbox: Any, ip: Any, role_profiles: Path, name: str, words: str
) -> None:
    sandbox.reset_requests()
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("sts_profile", name)
    message = str(caught.value)
    assert message.startswith("%sts_profile: ") and words in message, message
    assert "\n" not in message and sandbox.requests == []
    assert stsmagic.sessions.sessions == ()


def test_resolve_and_issue_again_from_python(sandbox: Any, role_profiles: Path) -> None:
    """The plan is plain data: issuing it again makes a new session the same way (renewal)."""
    from stsmagic.broker import Broker

    plan = profiles.resolve("chained")
    assert plan.kind == "role" and plan.source == "keys" and plan.source_profile == "default"
    assert [hop.profile for hop in plan.hops] == ["analyst", "chained"]
    first = profiles.issue(plan, lambda profile: Broker(profile), label="x")
    second = profiles.issue(plan, lambda profile: Broker(profile), label="x")
    assert first.principal == second.principal
    assert first.access_key_id != second.access_key_id


def test_role_and_profile_magics_show_no_secret(
    sandbox: Any,
    ip: Any,
    role_profiles: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    for line in (
        "%sts_role --role-arn " + sandbox.role_arn("plain"),
        "%sts_role --chain --role-arn " + sandbox.role_arn("plain"),
        "%sts_profile chained",
        f"%sts_profile guarded --token-code {sandbox.mfa_code()}",
        "%sts_profile guarded --label g2",
        "%sts_profile loop-a",
        "%sts_role --role-arn " + sandbox.role_arn("external-id"),
        "%sts_panel",
    ):
        result = ip.run_cell(line)
        value = result.result
        shown += [repr(value), str(value), getattr(value, "_repr_html_", lambda: "")()]
    form = ip.run_line_magic("sts_profile", "guarded --label g3")
    form.token_code.value = sandbox.mfa_code()
    form.submit.click()
    shown += [repr(form), form.status.value, repr(form.get_state())]
    captured = capsys.readouterr()
    shown += [captured.out, captured.err, stsmagic.sessions.to_frame().to_string()]
    shown += [r.getMessage() for r in caplog.records] + [repr(r.args) for r in caplog.records]
    assert len(stsmagic.sessions.sessions) == 5  # role-1, role-2, chained, guarded, g3
    secrets = [*sandbox.issued_secrets(), sandbox.source_credentials.secret_key]
    assert [s[:6] for s in secrets if any(s in text for text in shown)] == []


# ---- issue 22 item 10: renewal checks as a fresh %sts_profile does; blank process; chain cap ----


@pytest.fixture
def keyed(sandbox: Any, role_profiles: Path, tmp_path: Path) -> Path:
    """Profile `keyed` (long-term keys in the config file, where botocore reads them after any
    credential_process) and `via-keyed`, a role over it. Returns the config file."""
    keys = sandbox.source_credentials
    with role_profiles.open("a") as config:
        config.write(
            f"\n[profile keyed]\naws_access_key_id = {keys.access_key}\n"
            f"aws_secret_access_key = {keys.secret_key}\n"
            f"\n[profile via-keyed]\nrole_arn = {sandbox.role_arn('plain')}\n"
            "source_profile = keyed\nrole_session_name = first-name\n"
        )
    return role_profiles


def renew(label: str) -> Any:
    from stsmagic.renewal import renew

    return renew(stsmagic.sessions, label)


def test_renewal_refuses_a_credential_process_a_fresh_profile_refuses(
    sandbox: Any, ip: Any, keyed: Path, tmp_path: Path
) -> None:
    import json
    import os
    import sys

    session = ip.run_line_magic("sts_profile", "via-keyed")
    assert renew("via-keyed").access_key_id != session.access_key_id  # renews as it is
    marker = tmp_path / "process-ran"
    keys = sandbox.source_credentials
    answer = {"Version": 1, "AccessKeyId": keys.access_key, "SecretAccessKey": keys.secret_key}
    script = tmp_path / "process.py"
    script.write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\nprint({json.dumps(answer)!r})\n"
    )
    text = keyed.read_text().replace(
        "[profile keyed]\n", f"[profile keyed]\ncredential_process = {sys.executable} {script}\n"
    )
    keyed.write_text(text)
    ip.run_line_magic("config", "StsMagics.read_timeout = 29")  # new Brokers from here on
    with pytest.raises(UsageError, match="uses credential_process, which stsmagic does not"):
        ip.run_line_magic("sts_profile", "via-keyed --label fresh")  # a fresh one refuses
    sandbox.reset_requests()
    with pytest.raises(stsmagic.StsMagicError) as caught:
        renew("via-keyed")  # so does renewal (before: the process ran and signed)
    assert "uses credential_process" in str(caught.value) and "\n" not in str(caught.value)
    assert not marker.exists() and sandbox.requests == []
    assert os.environ.get("AWS_ACCESS_KEY_ID") is None


def test_renewal_refuses_a_profile_changed_since(sandbox: Any, ip: Any, keyed: Path) -> None:
    first = ip.run_line_magic("sts_profile", "via-keyed")
    assert first.principal is not None and first.principal.endswith("/first-name")
    keyed.write_text(keyed.read_text().replace("first-name", "other-name"))
    sandbox.reset_requests()
    with pytest.raises(stsmagic.StsMagicError) as caught:
        renew("via-keyed")
    message = str(caught.value)
    assert "profile 'via-keyed' changed in the AWS config files since" in message
    assert "%sts_profile via-keyed again" in message and sandbox.requests == []
    assert stsmagic.sessions.get("via-keyed") is first  # unchanged
    ip.run_line_magic("sts_forget", "via-keyed")
    again = ip.run_line_magic("sts_profile", "via-keyed")  # a fresh one takes it as it is now
    assert again.principal is not None and again.principal.endswith("/other-name")


def test_a_blank_credential_process_is_one_line(sandbox: Any, ip: Any, role_profiles: Path) -> None:
    with role_profiles.open("a") as config:
        config.write("\n[profile blank]\ncredential_process =\nregion = us-east-1\n")
    sandbox.reset_requests()
    for line, words in (
        ("sts_profile blank", "profile 'blank' has a blank credential_process line"),
        ("sts_session --profile blank", "credential_process (profile blank): is blank"),
        ("sts_federation --name x --profile blank", "credential_process (profile blank)"),
    ):
        magic, _, rest = line.partition(" ")
        with pytest.raises(UsageError) as caught:
            ip.run_line_magic(magic, rest)
        message = str(caught.value)
        assert words in message and "\n" not in message, message
    with pytest.raises(stsmagic.ParameterError, match="is blank"):
        stsmagic.Broker(profile="blank")
    assert sandbox.requests == []


def test_a_role_chain_is_capped(sandbox: Any, ip: Any, role_profiles: Path) -> None:
    """A chain of hundreds of source_profiles would send hundreds of AssumeRoles."""
    cap = 10  # profiles.MAX_ROLE_CHAIN, checked last
    with role_profiles.open("a") as config:
        for n in range(1, cap + 2):
            source = "default" if n == 1 else f"hop-{n - 1}"
            config.write(
                f"\n[profile hop-{n}]\nrole_arn = {sandbox.role_arn('plain')}\n"
                f"source_profile = {source}\n"
            )
    assert len(profiles.resolve(f"hop-{cap}").hops) == cap  # the cap itself is allowed
    sandbox.reset_requests()
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("sts_profile", f"hop-{cap + 1}")
    message = str(caught.value)
    assert f"assumes more than {cap} roles" in message and "\n" not in message
    assert len(message) < 300 and sandbox.requests == []
    assert cap == profiles.MAX_ROLE_CHAIN
