"""The magics end to end: an InteractiveShell with `%load_ext stsmagic`, the sandbox behind it.

Every issuing test goes over HTTP to the sandbox; every refusal is checked to have sent nothing
and changed nothing (ledger, active session).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from traitlets import TraitError

import stsmagic
from stsmagic.session import IssuedSession
from tests.helpers.new_shell import run_in_new_shell
from tests.helpers.refusals import fails_cleanly

FEDERATION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


@pytest.fixture
def ip(ip: Any) -> Iterator[Any]:
    """conftest's loaded shell, without the variables these tests put in the namespace."""
    yield ip
    for name in ("tok", "pol", "pol_text", "sso_tok"):
        ip.user_ns.pop(name, None)


def magics_of(shell: Any) -> Any:
    return shell.magics_manager.registry["StsMagics"]


def add_profile(aws: Path, name: str, sandbox: Any, **config: str) -> None:
    """Append a profile with the sandbox user's keys and the given config lines."""
    keys = sandbox.source_credentials
    with (aws / "credentials").open("a") as f:
        f.write(
            f"\n[{name}]\naws_access_key_id = {keys.access_key}\n"
            f"aws_secret_access_key = {keys.secret_key}\n"
        )
    with (aws / "config").open("a") as f:
        f.write(f"\n[profile {name}]\n" + "".join(f"{k} = {v}\n" for k, v in config.items()))


def sent(sandbox: Any, operation: str) -> list[Any]:
    return [r for r in sandbox.requests if r.operation == operation]


def refused(sandbox: Any, ip: Any, magic: str, line: str) -> str:
    """Run a magic that must fail: one UsageError line, nothing sent, nothing changed."""
    return str(fails_cleanly(sandbox, lambda: ip.run_line_magic(magic, line), UsageError))


# -- loading --------------------------------------------------------------------------------


def test_load_ext_imports_boto3_but_neither_pandas_nor_ipywidgets(aws_profile: Path) -> None:
    code = (
        "import sys\n"
        "ip.run_line_magic('load_ext', 'stsmagic')\n"
        "from stsmagic.outlets import live\n"
        "print(live.installed(), 'boto3' in sys.modules, 'pandas' in sys.modules,"
        " 'ipywidgets' in sys.modules, sorted(ip.magics_manager.magics['line'])[0:0])\n"
    )
    assert run_in_new_shell(code).split() == ["True", "True", "False", "False", "[]"]


def test_unload_restores_boto3_default_session_and_removes_the_magics(
    shell: Any, aws_profile: Path
) -> None:
    import boto3

    from stsmagic.outlets import live

    boto3.setup_default_session(region_name="eu-west-1")
    before = boto3.DEFAULT_SESSION
    provider_names = [
        p.METHOD for p in before._session.get_component("credential_provider").providers
    ]

    shell.run_line_magic("load_ext", "stsmagic")
    assert live.installed()
    assert any(isinstance(c, type(magics_of(shell))) for c in shell.configurables)

    shell.run_line_magic("unload_ext", "stsmagic")
    assert not live.installed()
    assert boto3.DEFAULT_SESSION is before
    after = [p.METHOD for p in before._session.get_component("credential_provider").providers]
    assert after == provider_names
    assert "sts_session" not in shell.magics_manager.magics["line"]
    assert "StsMagics" not in [type(c).__name__ for c in shell.configurables]
    assert "StsMagics" not in shell.magics_manager.registry


def test_help_is_written_for_a_user(ip: Any) -> None:
    for magic, flags in [
        ("sts_session", ["--serial-number", "--token-code", "--duration-seconds"]),
        ("sts_federation", ["--name", "--policy", "--policy-arns", "--tags"]),
        ("sts_delegated", ["--trade-in-token"]),
        ("sso_role", ["--account-id", "--role-name", "--access-token"]),
    ]:
        doc = ip.find_line_magic(magic).__doc__
        common = ["--profile", "--region", "--endpoint-url", "--label", "--no-activate", "--env"]
        for flag in flags + common:
            assert flag in doc, (magic, flag)
        assert "Returns the IssuedSession" in doc
    assert "aws sso login --profile NAME" in ip.find_line_magic("sso_role").__doc__
    assert "--source" in ip.find_line_magic("sts_use").__doc__
    assert "--all" in ip.find_line_magic("sts_forget").__doc__
    assert "Default: the token %sso_login (or `aws sso login`)" in " ".join(
        ip.find_line_magic("sso_role").__doc__.split()
    )


def test_question_mark_shows_the_help(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell("%sts_delegated?")
    out = capsys.readouterr().out
    assert "GetDelegatedAccessToken" in out and "--trade-in-token T" in out


# -- the four requests ---------------------------------------------------------------------------


def test_sts_session_with_a_code_uses_the_profiles_device(sandbox: Any, ip: Any) -> None:
    import boto3

    sts = boto3.client("sts", endpoint_url=sandbox.endpoint_url)  # made before: switches too
    before = len(sent(sandbox, "GetSessionToken"))
    session = ip.run_line_magic(
        "sts_session", f"--token-code {sandbox.mfa_code()} --duration-seconds 3600"
    )
    assert isinstance(session, IssuedSession)
    assert (session.kind, session.label) == ("session", "session-1")
    assert stsmagic.sessions.active == session
    assert timedelta(minutes=59) < session.remaining <= timedelta(hours=1)
    calls = sent(sandbox, "GetSessionToken")
    assert len(calls) == before + 1
    assert calls[-1].access_key_id == sandbox.source_credentials.access_key
    assert calls[-1].status == 200

    sts.get_caller_identity()
    assert sandbox.requests[-1].access_key_id == session.access_key_id


def test_sts_session_serial_number_flag_with_a_code(
    sandbox: Any, ip: Any, clean_environ: Path
) -> None:
    add_profile(clean_environ, "plain", sandbox, endpoint_url=sandbox.endpoint_url)
    session = ip.run_line_magic(
        "sts_session",
        f"--profile plain --serial-number {sandbox.mfa_serial} --token-code {sandbox.mfa_code()}",
    )
    assert session.kind == "session" and stsmagic.sessions.active == session
    assert sent(sandbox, "GetSessionToken")[-1].status == 200


def test_sts_session_without_a_code_returns_the_mfa_form(sandbox: Any, ip: Any) -> None:
    from stsmagic.widgets.mfa_form import MfaForm

    count = len(sandbox.requests)
    form = ip.run_line_magic("sts_session", "--duration-seconds 1800 --label mine")
    assert isinstance(form, MfaForm)
    assert form.serial_number.value == sandbox.mfa_serial
    assert form.duration.value == 1800
    assert len(sandbox.requests) == count
    assert stsmagic.sessions.sessions == ()

    form.token_code.value = sandbox.mfa_code()
    form.submit.click()
    assert form.error is None
    assert form.session is not None and form.session.label == "mine"
    assert stsmagic.sessions.active == form.session


def test_sts_session_form_takes_the_serial_number_flag_and_no_activate(
    sandbox: Any, ip: Any
) -> None:
    other = f"arn:aws:iam::{sandbox.account_id}:mfa/other-device"
    form = ip.run_line_magic("sts_session", f"--serial-number {other} --no-activate")
    assert form.serial_number.value == other
    assert form.activate is False
    assert form.export_env is False


def test_sts_session_without_device_or_code_asks_without_mfa(
    sandbox: Any, ip: Any, clean_environ: Path
) -> None:
    add_profile(clean_environ, "plain", sandbox, region="us-east-1")
    session = ip.run_line_magic(
        "sts_session", f"--profile plain --endpoint-url {sandbox.endpoint_url}"
    )
    assert isinstance(session, IssuedSession) and session.kind == "session"
    assert (session.profile, session.region) == ("plain", "us-east-1")
    assert stsmagic.sessions.active == session


def test_sts_federation_with_every_flag(sandbox: Any, ip: Any, tmp_path: Path) -> None:
    ip.user_ns["pol"] = FEDERATION_POLICY
    session = ip.run_line_magic(
        "sts_federation",
        f"--name alice --policy pol --policy-arns {READ_ONLY} "
        "--tags Key=team,Value=data project=demo --duration-seconds 7200 --label fed",
    )
    assert (session.kind, session.label) == ("federation", "fed")
    assert session.principal is not None and session.principal.endswith("federated-user/alice")
    assert session.packed_policy_size is not None and session.packed_policy_size > 0
    assert timedelta(minutes=119) < session.remaining <= timedelta(hours=2)
    assert stsmagic.sessions.active == session


@pytest.mark.parametrize("form", ["text", "file", "text_variable", "dollar_variable"])
def test_sts_federation_policy_forms(sandbox: Any, ip: Any, tmp_path: Path, form: str) -> None:
    text = json.dumps(FEDERATION_POLICY)
    (tmp_path / "policy.json").write_text(text)
    ip.user_ns["pol_text"] = text
    policy = {
        "text": f"'{text}'",
        "file": f"@{tmp_path / 'policy.json'}",
        "text_variable": "pol_text",
        # not expanded by IPython (that would paste the dict's repr): the magic looks it up
        "dollar_variable": "$pol",
    }
    ip.user_ns["pol"] = FEDERATION_POLICY
    session = ip.run_line_magic("sts_federation", f"--name bob --policy {policy[form]}")
    assert session.kind == "federation" and session.packed_policy_size


def test_sts_federation_keeps_policy_variables_unexpanded(sandbox: Any, ip: Any) -> None:
    # `${aws:username}` would be mangled by IPython's $-expansion; the magic opts out of it.
    ip.user_ns["aws"] = "oops"
    try:
        session = ip.run_line_magic(
            "sts_federation",
            """--name carol --policy '{"Version": "2012-10-17", "Statement": [{"Effect": """
            """"Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}/*"}]}'""",
        )
    finally:
        ip.user_ns.pop("aws")
    assert session.kind == "federation"


def test_sts_delegated_from_a_variable_and_literally(sandbox: Any, ip: Any) -> None:
    ip.user_ns["tok"] = sandbox.mint_trade_in_token()
    first = ip.run_line_magic("sts_delegated", "--trade-in-token tok")
    assert (first.kind, first.label) == ("delegated", "delegated-1")
    assert stsmagic.sessions.active == first

    literal = sandbox.mint_trade_in_token()
    second = ip.run_line_magic("sts_delegated", f"--trade-in-token {literal} --no-activate")
    assert second.kind == "delegated"
    assert stsmagic.sessions.active == first  # --no-activate kept the first one active


def test_sso_role_with_a_token_variable(sandbox: Any, ip: Any) -> None:
    ip.user_ns["sso_tok"] = sandbox.sso_access_token()
    ip.user_ns["acct"] = sandbox.sso_account_id  # $name expands here, as in any magic
    try:
        session = ip.run_line_magic(
            "sso_role",
            f"--account-id $acct --role-name {sandbox.sso_role_name} --access-token sso_tok",
        )
    finally:
        ip.user_ns.pop("acct")
    assert session.kind == "sso"
    assert stsmagic.sessions.active == session
    assert sent(sandbox, "GetRoleCredentials")[-1].status == 200


def sso_profile(aws: Path, sandbox: Any) -> None:
    with (aws / "config").open("a") as f:
        f.write(
            "\n[profile work]\nsso_session = corp\n"
            f"sso_account_id = {sandbox.sso_account_id}\nsso_role_name = {sandbox.sso_role_name}\n"
            f"region = us-east-1\nendpoint_url = {sandbox.endpoint_url}\n"
            f"\n[sso-session corp]\nsso_start_url = {sandbox.sso_start_url}\n"
            f"sso_region = {sandbox.sso_region}\nsso_registration_scopes = sso:account:access\n"
        )


def test_sso_role_reads_the_cli_cache(sandbox: Any, ip: Any, clean_environ: Path) -> None:
    from stsmagic.sso import cache as sso_cache

    sso_profile(clean_environ, sandbox)
    sso_cache.write_token(
        start_url=sandbox.sso_start_url,
        access_token=sandbox.sso_access_token(),
        expires_at=datetime.now(timezone.utc) + timedelta(hours=1),
        region=sandbox.sso_region,
        session_name="corp",
    )
    session = ip.run_line_magic(
        "sso_role",
        f"--account-id {sandbox.sso_account_id} --role-name {sandbox.sso_role_name} --profile work",
    )
    assert session.kind == "sso"


def test_sso_role_with_an_expired_cached_token_says_what_to_run(
    sandbox: Any, ip: Any, clean_environ: Path
) -> None:
    from stsmagic.sso import cache as sso_cache

    sso_profile(clean_environ, sandbox)
    sso_cache.write_token(
        start_url=sandbox.sso_start_url,
        access_token=sandbox.sso_access_token(),
        expires_at=datetime.now(timezone.utc) - timedelta(minutes=1),
        region=sandbox.sso_region,
        session_name="corp",
    )
    line = f"--account-id {sandbox.sso_account_id} --role-name {sandbox.sso_role_name}"
    message = refused(sandbox, ip, "sso_role", f"{line} --profile work")
    assert "expired" in message and "%sso_login --profile work" in message


def test_sso_role_without_a_cached_token_says_what_to_run(
    sandbox: Any, ip: Any, clean_environ: Path
) -> None:
    sso_profile(clean_environ, sandbox)
    message = refused(
        sandbox,
        ip,
        "sso_role",
        f"--account-id {sandbox.sso_account_id} --role-name {sandbox.sso_role_name} --profile work",
    )
    assert message.startswith("%sso_role: ")
    assert "%sso_login --profile work" in message


# -- the flags every issuing magic takes -----------------------------------------------------------


def test_env_exports_the_session_and_no_activate_leaves_it_standby(sandbox: Any, ip: Any) -> None:
    session = ip.run_line_magic("sts_session", f"--token-code {sandbox.mfa_code()} --env")
    assert os.environ["AWS_ACCESS_KEY_ID"] == session.access_key_id
    assert os.environ["AWS_SESSION_TOKEN"] == session.credentials.token
    ip.user_ns["tok"] = sandbox.mint_trade_in_token()
    standby = ip.run_line_magic("sts_delegated", "--trade-in-token tok --no-activate")
    assert stsmagic.sessions.active == session
    assert standby in stsmagic.sessions.sessions
    assert os.environ["AWS_ACCESS_KEY_ID"] == session.access_key_id

    ip.run_line_magic("sts_use", "--source")
    assert "AWS_ACCESS_KEY_ID" not in os.environ


def test_region_and_endpoint_flags_choose_the_broker_and_brokers_are_cached(
    sandbox: Any, ip: Any, clean_environ: Path
) -> None:
    add_profile(clean_environ, "bare", sandbox)  # no region, no endpoint_url
    ip.user_ns["tok"] = sandbox.mint_trade_in_token()
    line = f"--profile bare --region eu-west-1 --endpoint-url {sandbox.endpoint_url}"
    session = ip.run_line_magic("sts_delegated", f"--trade-in-token tok {line}")
    assert session.region == "eu-west-1"
    first = magics_of(ip)._brokers[("bare", "eu-west-1", sandbox.endpoint_url, False)]
    ip.user_ns["tok"] = sandbox.mint_trade_in_token()
    ip.run_line_magic("sts_delegated", f"--trade-in-token tok {line}")
    assert magics_of(ip)._brokers[("bare", "eu-west-1", sandbox.endpoint_url, False)] is first
    ip.run_line_magic("sts_session", f"--token-code {sandbox.mfa_code()}")
    brokers = magics_of(ip)._brokers
    assert set(brokers) == {
        ("bare", "eu-west-1", sandbox.endpoint_url, False),
        (None, None, None, False),
    }
    assert brokers[("bare", "eu-west-1", sandbox.endpoint_url, False)].region_name == "eu-west-1"


# -- using and forgetting ------------------------------------------------------------------------


def test_sts_use_and_sts_forget_print_one_line_each(
    sandbox: Any, ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # trailing comments, as pasted from the docs
    first = ip.run_line_magic(
        "sts_session", f"--token-code {sandbox.mfa_code()} --label a  # the MFA session"
    )
    ip.user_ns["tok"] = sandbox.mint_trade_in_token()
    second = ip.run_line_magic("sts_delegated", "--trade-in-token tok --label b # traded in")
    capsys.readouterr()

    assert ip.run_line_magic("sts_use", "a  # back to the MFA one") is None
    assert stsmagic.sessions.active == first
    ip.run_line_magic("sts_use", "--source # my own keys")
    assert stsmagic.sessions.active is None
    ip.run_line_magic("sts_use", "b")
    ip.run_line_magic("sts_forget", "b")
    assert stsmagic.sessions.active is None and stsmagic.sessions.labels == ("a",)
    ip.run_line_magic("sts_forget", "--all")
    assert stsmagic.sessions.sessions == ()

    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"Using a (session, {first.masked_access_key}, expires "
        f"{first.expiration:%Y-%m-%d %H:%M:%S} UTC, in {lines[0].rsplit('in ', 1)[1]}",
        "Using the source credentials (no stsmagic session is active)",
        lines[2],
        "Forgot b; using the source credentials",
        "Forgot 1 session",
    ]
    assert lines[2].startswith(f"Using b (delegated, {second.masked_access_key}, expires ")


def test_sts_panel_shows_the_ledger(sandbox: Any, ip: Any) -> None:
    from stsmagic.widgets.panel import SessionPanel

    session = ip.run_line_magic("sts_session", f"--token-code {sandbox.mfa_code()}")
    panel = ip.run_line_magic("sts_panel", "")
    try:
        assert isinstance(panel, SessionPanel)
        assert panel.ledger is stsmagic.sessions
        assert session.label in panel._repr_html_()
        assert session.masked_access_key in panel._repr_html_()
    finally:
        panel.close()


def test_a_new_panel_closes_the_last_one_and_its_countdown(sandbox: Any, ip: Any) -> None:
    first = ip.run_line_magic("sts_panel", "")
    second = ip.run_line_magic("sts_panel", "")
    try:
        assert first.timer is not None
        first.timer.join(timeout=5)
        assert not first.timer.is_alive()
        assert second.timer is not None and second.timer.is_alive()
    finally:
        second.close()
    third = ip.run_line_magic("sts_panel", "")
    ip.run_line_magic("unload_ext", "stsmagic")
    ip.run_line_magic("load_ext", "stsmagic")
    assert third.timer is not None
    third.timer.join(timeout=5)
    assert not third.timer.is_alive()


# -- configuration -------------------------------------------------------------------------------


def test_read_timeout_trait_gives_up_on_a_hanging_endpoint(sandbox: Any, ip: Any) -> None:
    import time

    ip.run_line_magic("config", "StsMagics.read_timeout = 0.5")
    since = len(sandbox.requests)
    sandbox.hang_next("GetSessionToken", 2)
    session = ip.run_line_magic("sts_session", f"--token-code {sandbox.mfa_code()}")
    assert stsmagic.sessions.active == session
    # The hung request was abandoned after 0.5 s and botocore retried: the sandbox saw two
    # (with botocore's 60 s default it would have waited the hang out and seen one).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        seen = [r for r in sandbox.requests[since:] if r.operation == "GetSessionToken"]
        if len(seen) == 2:
            break
        time.sleep(0.05)
    assert len(seen) == 2


@pytest.mark.parametrize("value", ["0", "-1", "7200"])
def test_timeouts_are_checked(ip: Any, value: str) -> None:
    magics = magics_of(ip)
    with pytest.raises(TraitError, match="read_timeout"):
        magics.read_timeout = float(value)
    assert magics.read_timeout == 30.0


def test_config_lists_the_traits_with_help(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_line_magic("config", "StsMagics")
    out = capsys.readouterr().out
    for trait in ("duration_seconds", "profile", "region", "endpoint_url", "export_env"):
        assert f"StsMagics.{trait}" in out
    assert "Default --duration-seconds" in out and "900-129600" in out


def test_config_sets_defaults_for_the_magics(sandbox: Any, ip: Any) -> None:
    ip.run_line_magic("config", "StsMagics.duration_seconds = 1800")
    ip.run_line_magic("config", "StsMagics.export_env = True")
    session = ip.run_line_magic("sts_session", f"--token-code {sandbox.mfa_code()}")
    assert timedelta(minutes=29) < session.remaining <= timedelta(minutes=30)
    assert os.environ["AWS_ACCESS_KEY_ID"] == session.access_key_id
    # a flag still wins over the trait
    later = ip.run_line_magic(
        "sts_session", f"--token-code {sandbox.mfa_code()} --duration-seconds 900 --label x"
    )
    assert later.remaining <= timedelta(minutes=15)


def test_config_refuses_a_bad_value_and_keeps_the_old(
    ip: Any, caplog: pytest.LogCaptureFixture
) -> None:
    magics = magics_of(ip)
    ip.run_line_magic("config", "StsMagics.duration_seconds = 3600")
    for bad, problem in (("60", "too short"), ("200000", "too long")):
        caplog.clear()
        ip.run_line_magic("config", f"StsMagics.duration_seconds = {bad}")
        assert magics.duration_seconds == 3600
        assert [r.getMessage() for r in caplog.records] == [
            f"StsMagics.duration_seconds: {bad} is {problem}; must be a whole number of seconds "
            "from 900 to 129600"
        ]
    with pytest.raises(TraitError, match="not an http"):
        magics.endpoint_url = "localhost:4566"
    assert magics.endpoint_url is None


def test_ipython_config_reaches_the_magics(sandbox: Any, shell: Any, clean_environ: Path) -> None:
    add_profile(clean_environ, "bare", sandbox)
    shell.config.StsMagics.profile = "bare"
    shell.config.StsMagics.region = "us-west-2"
    shell.config.StsMagics.endpoint_url = sandbox.endpoint_url
    shell.config.StsMagics.duration_seconds = 2700
    shell.config.StsMagics.read_timeout = 12.5
    try:
        shell.run_line_magic("load_ext", "stsmagic")
        magics = magics_of(shell)
        assert (magics.profile, magics.region, magics.duration_seconds) == (
            "bare",
            "us-west-2",
            2700,
        )
        session = shell.run_line_magic("sts_session", "")
        assert session.region == "us-west-2"
        assert timedelta(minutes=44) < session.remaining <= timedelta(minutes=45)
        assert set(magics._brokers) == {("bare", "us-west-2", sandbox.endpoint_url, False)}
        assert magics.read_timeout == 12.5
        (broker,) = magics._brokers.values()
        assert broker.client("sts").meta.config.read_timeout == 12.5
    finally:
        del shell.config["StsMagics"]
        shell.run_line_magic("unload_ext", "stsmagic")


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("magic", "line", "expected"),
    [
        ("sts_session", "--token-code 123456 --env --no-activate", "--env exports the active"),
        ("sts_session", "--profile nosuch --token-code 123456", "nosuch"),
        ("sts_session", "--endpoint-url localhost:1", "argument --endpoint-url: 'localhost:1'"),
        (
            "sts_session",
            "--token-code 123456 --label ' '",
            "--label: ' ' is empty; give a non-empty name",
        ),
        ("sts_session", "--token-code 123456 --label good", "--label: 'good' is taken"),
        ("sts_session", "--token-code 12345", "--token-code (TokenCode)"),
        ("sts_session", "--serial-number bad", "--serial-number (SerialNumber): 'bad' is 3"),
        ("sts_session", "--duration-seconds 60", "argument --duration-seconds: 60 is too short"),
        ("sts_federation", "--name ab --tags Key=a", "--tags: 'Key=a' is half of the shorthand"),
        ("sts_federation", "--name ab --policy '[1]'", "--policy (Policy): is JSON, but"),
        ("sts_federation", "--name ab --tags a=1 A=2", "--tags (Tags): keys 'a' and 'A'"),
        ("sts_delegated", "--trade-in-token tokn", "--trade-in-token: no notebook variable"),
        ("sso_role", "--account-id 1 --role-name R --access-token tok", "--access-token: no"),
        ("sts_use", "", "give either LABEL or --source"),
        ("sts_use", "good --source", "give either LABEL or --source"),
        ("sts_use", "nope", "label: no session is labelled 'nope'; known: good"),
        ("sts_forget", "", "give either LABEL or --all"),
        ("sts_forget", "nope", "label: no session is labelled 'nope'; known: good"),
        ("sts_panel", "--bogus", "unrecognized argument --bogus;"),
    ],
)
def test_refusals_are_one_line_and_change_nothing(
    sandbox: Any, ip: Any, magic: str, line: str, expected: str
) -> None:
    good = ip.run_line_magic("sts_session", f"--token-code {sandbox.mfa_code()} --label good")
    message = refused(sandbox, ip, magic, line)
    assert message.startswith(f"%{magic}: ")
    assert expected in message
    assert stsmagic.sessions.active == good


def test_sts_session_code_without_any_device_is_refused(
    sandbox: Any, ip: Any, clean_environ: Path
) -> None:
    add_profile(clean_environ, "plain", sandbox, endpoint_url=sandbox.endpoint_url)
    message = refused(sandbox, ip, "sts_session", "--profile plain --token-code 123456")
    assert "--token-code needs an MFA device: give --serial-number" in message


def test_aws_refusals_are_one_line_and_change_nothing(sandbox: Any, ip: Any) -> None:
    good = ip.run_line_magic("sts_session", f"--token-code {sandbox.mfa_code()} --label good")
    wrong = f"{(int(sandbox.mfa_code()) + 500000) % 1000000:06d}"
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("sts_session", f"--token-code {wrong}")
    assert str(caught.value).startswith("%sts_session: GetSessionToken refused: AccessDenied")
    assert "\n" not in str(caught.value)

    ip.user_ns["tok"] = token = sandbox.mint_trade_in_token()
    used = ip.run_line_magic("sts_delegated", "--trade-in-token tok --no-activate")
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("sts_delegated", "--trade-in-token tok")
    assert str(caught.value).startswith("%sts_delegated: GetDelegatedAccessToken refused: ")
    assert token not in str(caught.value)
    assert stsmagic.sessions.active == good
    assert stsmagic.sessions.sessions == (good, used)


# -- no secret becomes text ------------------------------------------------------------------------


def test_no_secret_reaches_output_history_namespace_or_errors(
    sandbox: Any, ip: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="stsmagic")
    ip.user_ns["tok"] = sandbox.mint_trade_in_token()
    ip.user_ns["sso_tok"] = sandbox.sso_access_token()
    ip.user_ns["pol"] = FEDERATION_POLICY
    cells = [
        f"%sts_session --token-code {sandbox.mfa_code()} --env",
        "%sts_delegated --trade-in-token tok",
        "%sts_delegated --trade-in-token tok",  # used already: refused
        "%sts_delegated --trade-in-token tok extra words",
        f"%sso_role --account-id {sandbox.sso_account_id} --role-name {sandbox.sso_role_name}"
        " --access-token sso_tok --label sso",
        "%sts_federation --name dave --policy pol",
        "%sts_use session-1",
        "%sts_forget sso",
        "import stsmagic; stsmagic.sessions.active",
        "stsmagic.sessions",
        "stsmagic.sessions.to_frame()",
        "%sts_panel",
        "%sts_session",  # the MFA form
    ]
    results = [ip.run_cell(cell, store_history=True) for cell in cells]
    errors = [r.error_in_exec or r.error_before_exec for r in results]
    assert [e is not None for e in errors] == [False, False, True, True] + [False] * 9
    assert [type(r.result).__name__ for r in results[:2]] == ["IssuedSession"] * 2
    printed = capsys.readouterr()

    texts = [printed.out, printed.err, caplog.text] + [str(e) for e in errors if e is not None]
    shown = [r.result for r in results if r.result is not None]
    for value in shown:
        data, _metadata = ip.display_formatter.format(value)
        texts.extend(str(v) for v in data.values())
        texts.append(repr(value))
        if hasattr(value, "get_state"):  # a widget: its state, and its children's
            texts.append(repr(value.get_state()))
            texts.extend(repr(child.get_state()) for child in getattr(value, "children", ()))
    history = ip.history_manager
    texts += [repr(history.input_hist_raw), repr(history.input_hist_parsed)]
    texts += [repr(history.output_hist), repr(ip.user_ns.get("Out"))]
    texts += [
        f"{name}={value!r}"
        for name, value in ip.user_ns.items()
        if name not in ("tok", "sso_tok", "__builtins__", "__builtin__")
    ]
    for value in shown:
        if hasattr(value, "close"):
            value.close()
    # the scan is not vacuous: the cells, their results and the errors are all in it
    assert "sts_delegated --trade-in-token tok" in repr(history.input_hist_raw)
    assert any(isinstance(v, IssuedSession) for v in ip.user_ns["Out"].values())
    assert "session-1" in printed.out and "GetDelegatedAccessToken refused" in printed.err

    everything = "\n".join(texts)
    secrets = [*sandbox.issued_secrets(), sandbox.source_credentials.secret_key]
    assert len(secrets) > 5
    # a secret's middle and its end, so that a part of one counts as a leak too
    pieces = {s[len(s) // 2 - 8 : len(s) // 2 + 8] for s in secrets} | {s[-16:] for s in secrets}
    assert all(len(p) == 16 for p in pieces)
    leaked = [p for p in pieces if p in everything]
    assert leaked == []


def test_sts_use_refuses_an_expired_session(sandbox: Any, ip: Any) -> None:
    import dataclasses

    good = ip.run_line_magic("sts_session", f"--token-code {sandbox.mfa_code()} --label good")
    past = good.issued_at - timedelta(seconds=1)
    stsmagic.sessions.add(dataclasses.replace(good, label="old", expiration=past), activate=False)
    message = refused(sandbox, ip, "sts_use", "old")
    assert message.startswith("%sts_use: session 'old' expired at ")
    assert "renew it with %sts_session" in message
    assert stsmagic.sessions.active == good


def test_load_ext_with_a_missing_aws_profile_loads_and_boto3_says_so_as_ever(
    shell: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from botocore.exceptions import ProfileNotFound

    boto3.DEFAULT_SESSION = None
    monkeypatch.setenv("AWS_PROFILE", "nowhere")
    shell.run_line_magic("load_ext", "stsmagic")
    try:
        assert "sts_session" in shell.magics_manager.magics["line"]
        # boto3's default session is made on first use, as without stsmagic, and fails the same
        with pytest.raises(ProfileNotFound, match="nowhere"):
            boto3.client("sts")
    finally:
        shell.run_line_magic("unload_ext", "stsmagic")


def test_a_missing_profile_is_blamed_on_where_it_came_from(
    sandbox: Any, ip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "elsewhere")
    message = refused(sandbox, ip, "sts_session", "--token-code 123456")
    assert message == (
        "%sts_session: AWS_PROFILE: 'elsewhere' is not in the AWS config files; known "
        "profiles: default; set AWS_PROFILE to one (or unset it)"
    )
    ip.run_line_magic("config", "StsMagics.profile = 'nearby'")
    message = refused(sandbox, ip, "sts_session", "--token-code 123456")
    assert message == (
        "%sts_session: StsMagics.profile: 'nearby' is not in the AWS config files; known "
        "profiles: default; %config StsMagics.profile = NAME"
    )
    message = refused(sandbox, ip, "sts_session", "--profile far --token-code 123456")
    assert message.startswith(
        "%sts_session: --profile (profile): 'far' is not in the AWS config files; known"
    )
    monkeypatch.delenv("AWS_PROFILE")
    message = refused(sandbox, ip, "sts_federation", "--name a --profile far")
    assert "--profile (profile): 'far'" in message


def test_no_credentials_at_all_says_so_and_how_to_add_them(
    sandbox: Any, shell: Any, clean_environ: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No keys anywhere (a fresh machine): nothing was sent, so nothing was refused."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    shell.run_line_magic("load_ext", "stsmagic")
    try:
        for magic, line in (("sts_session", ""), ("sts_federation", "--name alice")):
            message = refused(sandbox, shell, magic, line)
            operation = "GetSessionToken" if magic == "sts_session" else "GetFederationToken"
            assert message == (
                f"%{magic}: {operation} was not sent: profile 'default' has no credentials to "
                "sign it; add keys with `aws configure`, or set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY"
            )
        (clean_environ / "config").write_text("[profile empty]\nregion = us-east-1\n")
        message = refused(sandbox, shell, "sts_session", "--profile empty")
        assert "profile 'empty' has no credentials" in message
        assert "`aws configure --profile empty`" in message and "refused" not in message
    finally:
        shell.run_line_magic("unload_ext", "stsmagic")


def test_two_threads_with_one_label_redeem_one_trade_in_token(sandbox: Any, ip: Any) -> None:
    """Issue 12 item 11: the label is held before sending; the second thread sends nothing and
    its single-use trade-in token is not spent."""
    import threading

    from IPython.core.error import UsageError

    ip.user_ns["tok1"] = sandbox.mint_trade_in_token()
    ip.user_ns["tok2"] = sandbox.mint_trade_in_token()
    before = [r for r in sandbox.requests if r.operation == "GetDelegatedAccessToken"]
    start = threading.Barrier(2)
    errors: list[str] = []

    def redeem(name: str) -> None:
        start.wait()
        try:
            ip.run_line_magic("sts_delegated", f"--trade-in-token {name} --label same")
        except UsageError as e:
            errors.append(str(e))

    threads = [threading.Thread(target=redeem, args=(n,)) for n in ("tok1", "tok2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    after = [r for r in sandbox.requests if r.operation == "GetDelegatedAccessToken"]
    assert len(after) - len(before) == 1, "both threads sent a trade-in token"
    assert len(errors) == 1 and "'same'" in errors[0], errors
    assert stsmagic_labels() == ("same",)


def stsmagic_labels() -> tuple[str, ...]:
    import stsmagic

    return stsmagic.sessions.labels


def test_help_starts_with_the_usage_line(ip: Any) -> None:
    """Issue 12 item 18: `%sts_session?` starts with the usage, not a stray `::`."""
    from stsmagic.magics import StsMagics

    names = sorted(StsMagics.magics["line"])
    assert "sts_session" in names
    for name in names:
        doc = ip.find_line_magic(name).__doc__
        assert doc.startswith(f"%{name}"), (name, doc[:40])
        assert "::" not in doc.split("\n\n")[0]
        # argparse formats help with %: an unescaped `%sso_login` prints its internals
        assert "option_strings" not in doc and "'prog'" not in doc, name
    assert "\n  %" not in ip.find_line_magic("sts_session").__doc__.split("\n\n")[0]
