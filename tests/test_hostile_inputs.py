"""Hostile inputs: each is refused with one line naming the parameter, before anything is sent.

One good session is issued and made active first; after every bad input the sandbox has seen no
new request, and the ledger, its active session and boto3's live credentials are unchanged.
The table covers the Python API (``Broker``'s four operations, the ledger, ``params.py``) and
every magic, with wrong values, wrong types, empty and huge values, unicode and unknown flags.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers.refusals import fails_cleanly

HUGE = 1_000_000
ARN_PREFIX = "arn:aws:iam::123456789012:"
OK_NAME = "ok-name"
# A literal token long enough that the magics do not take it for a mistyped variable name.
LONG_TOKEN = "t" * 64

SECRET_PARAMETERS = ("TokenCode", "TradeInToken", "accessToken")

# (Broker method, keyword arguments, the AWS parameter the message must name)
API_CASES: list[tuple[str, dict[str, Any], str]] = [
    # GetSessionToken: durations
    ("get_session_token", {"DurationSeconds": 899}, "DurationSeconds"),
    ("get_session_token", {"DurationSeconds": 129601}, "DurationSeconds"),
    ("get_session_token", {"DurationSeconds": -1}, "DurationSeconds"),
    ("get_session_token", {"DurationSeconds": 0}, "DurationSeconds"),
    ("get_session_token", {"DurationSeconds": "forever"}, "DurationSeconds"),
    ("get_session_token", {"DurationSeconds": 3600.5}, "DurationSeconds"),
    ("get_session_token", {"DurationSeconds": True}, "DurationSeconds"),
    ("get_session_token", {"DurationSeconds": 10**100}, "DurationSeconds"),
    # GetSessionToken: MFA codes
    ("get_session_token", {"TokenCode": "12345"}, "TokenCode"),
    ("get_session_token", {"TokenCode": "1234567"}, "TokenCode"),
    ("get_session_token", {"TokenCode": "12a456"}, "TokenCode"),
    ("get_session_token", {"TokenCode": ""}, "TokenCode"),
    ("get_session_token", {"TokenCode": "\u0661\u0662\u0663\u0664\u0665\u0666"}, "TokenCode"),
    ("get_session_token", {"TokenCode": "1" * HUGE}, "TokenCode"),
    ("get_session_token", {"TokenCode": ["123456"]}, "TokenCode"),
    # GetSessionToken: serial numbers
    ("get_session_token", {"SerialNumber": "short", "TokenCode": "123456"}, "SerialNumber"),
    ("get_session_token", {"SerialNumber": "x" * 257, "TokenCode": "123456"}, "SerialNumber"),
    (
        "get_session_token",
        {"SerialNumber": ARN_PREFIX + "mfa/bad name", "TokenCode": "123456"},
        "SerialNumber",
    ),
    (
        "get_session_token",
        {"SerialNumber": ARN_PREFIX + "mfa/ger\u00e4t", "TokenCode": "123456"},
        "SerialNumber",
    ),
    ("get_session_token", {"SerialNumber": "", "TokenCode": "123456"}, "SerialNumber"),
    # GetFederationToken: names
    ("get_federation_token", {"Name": "a"}, "Name"),
    ("get_federation_token", {"Name": "x" * 33}, "Name"),
    ("get_federation_token", {"Name": "bad name"}, "Name"),
    ("get_federation_token", {"Name": "\u03a9mega"}, "Name"),
    ("get_federation_token", {"Name": ""}, "Name"),
    ("get_federation_token", {"Name": "x" * HUGE}, "Name"),
    ("get_federation_token", {"Name": 42}, "Name"),
    # GetFederationToken: policies
    ("get_federation_token", {"Name": OK_NAME, "Policy": "{not json"}, "Policy"),
    (
        "get_federation_token",
        {"Name": OK_NAME, "Policy": '{"Version": "2012-10-17", "Statement": []}' + " " * 2048},
        "Policy",
    ),
    (
        "get_federation_token",
        {"Name": OK_NAME, "Policy": '{"Version": "2012-10-17", "Sid": "\u0101"}'},
        "Policy",
    ),
    ("get_federation_token", {"Name": OK_NAME, "Policy": "{" + " " * HUGE + "}"}, "Policy"),
    ("get_federation_token", {"Name": OK_NAME, "Policy": 42}, "Policy"),
    # GetFederationToken: managed policy ARNs
    (
        "get_federation_token",
        {"Name": OK_NAME, "PolicyArns": [{"arn": "not-an-arn"}]},
        "PolicyArns",
    ),
    (
        "get_federation_token",
        {"Name": OK_NAME, "PolicyArns": [{"arn": f"{ARN_PREFIX}policy/p{i}"} for i in range(11)]},
        "PolicyArns",
    ),
    (
        "get_federation_token",
        {"Name": OK_NAME, "PolicyArns": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        "PolicyArns",
    ),
    # GetFederationToken: tags
    (
        "get_federation_token",
        {"Name": OK_NAME, "Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]},
        "Tags",
    ),
    ("get_federation_token", {"Name": OK_NAME, "Tags": [{"Key": "", "Value": "v"}]}, "Tags"),
    ("get_federation_token", {"Name": OK_NAME, "Tags": [{"Key": "k" * 129, "Value": "v"}]}, "Tags"),
    (
        "get_federation_token",
        {"Name": OK_NAME, "Tags": [{"Key": "k", "Value": "v" * 257}]},
        "Tags",
    ),
    (
        "get_federation_token",
        {"Name": OK_NAME, "Tags": [{"Key": "Team", "Value": "a"}, {"Key": "team", "Value": "b"}]},
        "Tags",
    ),
    ("get_federation_token", {"Name": OK_NAME, "Tags": [{"Key": "k"}]}, "Tags"),
    ("get_federation_token", {"Name": OK_NAME, "Tags": "team=data"}, "Tags"),
    ("get_federation_token", {"Name": OK_NAME, "Tags": {"team": 7}}, "Tags"),
    ("get_federation_token", {"Name": OK_NAME, "DurationSeconds": 129601}, "DurationSeconds"),
    # GetDelegatedAccessToken
    ("get_delegated_access_token", {"TradeInToken": ""}, "TradeInToken"),
    ("get_delegated_access_token", {"TradeInToken": None}, "TradeInToken"),
    ("get_delegated_access_token", {"TradeInToken": 12345}, "TradeInToken"),
    ("get_delegated_access_token", {"TradeInToken": " \t\n "}, "TradeInToken"),
    # SSO GetRoleCredentials: account ids, role names, bearer tokens
    (
        "get_role_credentials",
        {"accountId": "12345", "roleName": "R", "accessToken": LONG_TOKEN},
        "accountId",
    ),
    (
        "get_role_credentials",
        {"accountId": "1234567890123", "roleName": "R", "accessToken": LONG_TOKEN},
        "accountId",
    ),
    (
        "get_role_credentials",
        {"accountId": "12345678901a", "roleName": "R", "accessToken": LONG_TOKEN},
        "accountId",
    ),
    (
        "get_role_credentials",
        {"accountId": "\u0661" * 12, "roleName": "R", "accessToken": LONG_TOKEN},
        "accountId",
    ),
    (
        "get_role_credentials",
        {"accountId": 12345678901, "roleName": "R", "accessToken": LONG_TOKEN},
        "accountId",
    ),
    (
        "get_role_credentials",
        {"accountId": "123456789012", "roleName": "", "accessToken": LONG_TOKEN},
        "roleName",
    ),
    (
        "get_role_credentials",
        {"accountId": "123456789012", "roleName": "R", "accessToken": ""},
        "accessToken",
    ),
]

ROLE = ARN_PREFIX + "role/r"
# AssumeRole: every parameter, each past its limit
API_CASES += [
    ("assume_role", {"RoleArn": "arn:aws:iam::1:r"}, "RoleArn"),
    ("assume_role", {"RoleArn": "arn:" + "x" * 2045}, "RoleArn"),
    ("assume_role", {"RoleArn": "not-an-arn-but-long-enough"}, "RoleArn"),
    ("assume_role", {"RoleArn": 42}, "RoleArn"),
    ("assume_role", {"RoleArn": ROLE, "RoleSessionName": "a"}, "RoleSessionName"),
    ("assume_role", {"RoleArn": ROLE, "RoleSessionName": "x" * 65}, "RoleSessionName"),
    ("assume_role", {"RoleArn": ROLE, "RoleSessionName": "bad name"}, "RoleSessionName"),
    ("assume_role", {"RoleArn": ROLE, "ExternalId": "a"}, "ExternalId"),
    ("assume_role", {"RoleArn": ROLE, "ExternalId": "x" * 1225}, "ExternalId"),
    ("assume_role", {"RoleArn": ROLE, "ExternalId": "bad id"}, "ExternalId"),
    ("assume_role", {"RoleArn": ROLE, "SourceIdentity": "a"}, "SourceIdentity"),
    ("assume_role", {"RoleArn": ROLE, "SourceIdentity": "x" * 65}, "SourceIdentity"),
    ("assume_role", {"RoleArn": ROLE, "SourceIdentity": "a:b"}, "SourceIdentity"),
    ("assume_role", {"RoleArn": ROLE, "DurationSeconds": 899}, "DurationSeconds"),
    ("assume_role", {"RoleArn": ROLE, "DurationSeconds": 43201}, "DurationSeconds"),
    ("assume_role", {"RoleArn": ROLE, "DurationSeconds": "1h"}, "DurationSeconds"),
    (
        "assume_role",
        {"RoleArn": ROLE, "SerialNumber": "short", "TokenCode": "123456"},
        "SerialNumber",
    ),
    ("assume_role", {"RoleArn": ROLE, "SerialNumber": ARN_PREFIX + "mfa/u"}, "TokenCode"),
    ("assume_role", {"RoleArn": ROLE, "TokenCode": "12345"}, "TokenCode"),
    ("assume_role", {"RoleArn": ROLE, "TokenCode": "123456"}, "SerialNumber"),
    ("assume_role", {"RoleArn": ROLE, "Policy": "{not json"}, "Policy"),
    ("assume_role", {"RoleArn": ROLE, "Policy": "{" + " " * 3000 + "}"}, "Policy"),
    ("assume_role", {"RoleArn": ROLE, "PolicyArns": [{"arn": "nope"}]}, "PolicyArns"),
    (
        "assume_role",
        {"RoleArn": ROLE, "PolicyArns": [f"{ARN_PREFIX}policy/p{i}" for i in range(11)]},
        "PolicyArns",
    ),
    ("assume_role", {"RoleArn": ROLE, "Tags": {f"k{i}": "v" for i in range(51)}}, "Tags"),
    ("assume_role", {"RoleArn": ROLE, "Tags": {"Team": "a", "team": "b"}}, "Tags"),
    ("assume_role", {"RoleArn": ROLE, "TransitiveTagKeys": ["team"]}, "TransitiveTagKeys"),
    (
        "assume_role",
        {"RoleArn": ROLE, "Tags": {"team": "a"}, "TransitiveTagKeys": "team"},
        "TransitiveTagKeys",
    ),
]

# (params.py function, the value, the AWS parameter named): the pure checks the broker uses
PARAMS_CASES: list[tuple[str, object, str]] = [
    ("duration_seconds", None, "DurationSeconds"),
    ("duration_seconds", "3600", "DurationSeconds"),
    ("duration_seconds", 899, "DurationSeconds"),
    ("serial_number", None, "SerialNumber"),
    ("serial_number", "arn:aws:iam::123456789012:mfa/\u00fc", "SerialNumber"),
    ("token_code", 123456, "TokenCode"),
    ("token_code", "\uff11\uff12\uff13\uff14\uff15\uff16", "TokenCode"),
    ("federation_name", "a" * 33, "Name"),
    ("federation_name", b"bytes-name", "Name"),
    ("policy", "", "Policy"),
    ("policy", "\x00" * 10, "Policy"),
    ("policy_arns", [{"arn": "x" * 2049}], "PolicyArns"),
    ("policy_arns", [{"notarn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}], "PolicyArns"),
    ("tags", [{"Key": "k\u0000", "Value": "v"}], "Tags"),
    ("tags", ["Key=k,Value=v"], "Tags"),
    ("trade_in_token", " ", "TradeInToken"),
    ("account_id", "", "accountId"),
    ("account_id", " 123456789012", "accountId"),
    ("role_name", None, "roleName"),
    ("access_token", None, "accessToken"),
]

# (magic, line, names of which the message must contain at least one: the flag or AWS's name)
MAGIC_CASES: list[tuple[str, str, tuple[str, ...]]] = [
    ("sts_session", "--bogus", ("--bogus",)),
    ("sts_session", "--token-code 123456 --duration", ("--duration",)),
    ("sts_session", "--duration-seconds 60", ("--duration-seconds", "DurationSeconds")),
    ("sts_session", "--duration-seconds ten", ("--duration-seconds", "DurationSeconds")),
    ("sts_session", "--duration-seconds 1e5", ("--duration-seconds", "DurationSeconds")),
    ("sts_session", "--token-code 12345", ("--token-code", "TokenCode")),
    ("sts_session", "--token-code abcdef", ("--token-code", "TokenCode")),
    ("sts_session", "--token-code 123456 --serial-number bad", ("--serial-number", "SerialNumber")),
    ("sts_session", "--token-code 123456 --region", ("--region",)),
    ("sts_session", "--token-code 123456 --label good", ("--label", "label")),
    ("sts_session", "--token-code '123456", ("%sts_session",)),
    ("sts_federation", "", ("--name",)),
    ("sts_federation", "--name a", ("--name", "Name")),
    ("sts_federation", f"--name {OK_NAME} --policy {{oops", ("--policy", "Policy")),
    (
        "sts_federation",
        f"--name {OK_NAME} --policy @/nonexistent/policy.json",
        ("--policy", "Policy"),
    ),
    ("sts_federation", f"--name {OK_NAME} --policy no_such_variable", ("--policy", "Policy")),
    ("sts_federation", f"--name {OK_NAME} --tags novalue", ("--tags", "Tags")),
    ("sts_federation", f"--name {OK_NAME} --tags Key=team", ("--tags", "Tags")),
    (
        "sts_federation",
        f"--name {OK_NAME} --policy-arns not-an-arn",
        ("--policy-arns", "PolicyArns"),
    ),
    (
        "sts_federation",
        f"--name {OK_NAME} --duration-seconds 200000",
        ("--duration-seconds", "DurationSeconds"),
    ),
    ("sts_delegated", "", ("--trade-in-token",)),
    ("sts_delegated", "--trade-in-token no_such_variable", ("--trade-in-token", "TradeInToken")),
    (
        "sso_role",
        f"--account-id 12345 --role-name R --access-token {LONG_TOKEN}",
        ("--account-id", "accountId"),
    ),
    ("sso_role", f"--account-id 123456789012 --access-token {LONG_TOKEN}", ("--role-name",)),
    ("sts_use", "no-such-label", ("label", "no-such-label")),
    ("sts_forget", "no-such-label", ("label", "no-such-label")),
    ("sts_panel", "--bogus", ("--bogus",)),
    ("sts_session", "--profile nope --token-code 123456", ("--profile", "profile")),
    ("sts_session", "--endpoint-url not-a-url --token-code 123456", ("--endpoint-url",)),
    ("sts_session", "--endpoint-url ftp://127.0.0.1:1 --token-code 123456", ("--endpoint-url",)),
    ("sts_session", "--region 'us east 1' --token-code 123456", ("--region", "region")),
    ("sts_session", "--token-code 123456 --label ''", ("--label",)),
    ("sts_session", "--token-code 123456 --env --no-activate", ("--env", "--no-activate")),
    (
        "sts_federation",
        f"--name {OK_NAME} --policy-arns "
        + " ".join(f"arn:aws:iam::aws:policy/P{i}" for i in range(11)),
        ("--policy-arns", "PolicyArns"),
    ),
    (
        "sts_federation",
        f"--name {OK_NAME} --tags " + " ".join(f"k{i}=v" for i in range(51)),
        ("--tags", "Tags"),
    ),
    ("sts_federation", f"--name {OK_NAME} --tags Team=a team=b", ("--tags", "Tags")),
    ("sts_federation", f"--name {OK_NAME} --policy '[]'", ("--policy", "Policy")),
    ("sts_federation", f"--name '{'x' * 20_000}'", ("--name", "Name")),
    ("sts_delegated", "--trade-in-token ''", ("--trade-in-token", "TradeInToken")),
    ("sso_role", "--account-id 123456789012 --role-name R", ("--access-token", "sso")),
    (
        "sso_role",
        f"--account-id 12345678901\u0662 --role-name R --access-token {LONG_TOKEN}",
        ("--account-id", "accountId"),
    ),
    ("sts_use", "", ("LABEL", "--source")),
    ("sts_use", "good --source", ("LABEL", "--source")),
    ("sts_forget", "", ("LABEL", "--all")),
    ("sts_role", "", ("--role-arn",)),
    ("sts_role", "--role-arn not-an-arn-at-all-here", ("--role-arn", "RoleArn")),
    ("sts_role", f"--role-arn {ROLE} --role-session-name a", ("--role-session-name",)),
    ("sts_role", f"--role-arn {ROLE} --external-id 'a b'", ("--external-id", "ExternalId")),
    ("sts_role", f"--role-arn {ROLE} --source-identity a", ("--source-identity",)),
    ("sts_role", f"--role-arn {ROLE} --duration-seconds 43201", ("--duration-seconds",)),
    ("sts_role", f"--role-arn {ROLE} --duration-seconds ten", ("--duration-seconds",)),
    ("sts_role", f"--role-arn {ROLE} --token-code 123456", ("--serial-number",)),
    ("sts_role", f"--role-arn {ROLE} --serial-number x --token-code 1", ("--serial-number",)),
    ("sts_role", f"--role-arn {ROLE} --policy {{oops", ("--policy", "Policy")),
    ("sts_role", f"--role-arn {ROLE} --tags novalue", ("--tags",)),
    ("sts_role", f"--role-arn {ROLE} --transitive-tag-keys k", ("--transitive-tag-keys",)),
    ("sts_role", f"--role-arn {ROLE} --chain --duration-seconds 100", ("--duration-seconds",)),
    ("sts_role", f"--role-arn {ROLE} --bogus", ("--bogus",)),
    ("sts_profile", "", ("NAME", "name")),
    ("sts_profile", "no-such-profile", ("no-such-profile",)),
    ("sts_profile", "default --token-code 12345", ("--token-code", "TokenCode")),
    ("sts_profile", "default --profile other", ("--profile",)),
    ("sts_profile", "default --duration-seconds 60", ("--duration-seconds",)),
]

# (Broker(...) keyword arguments, a name the message must contain): the source of credentials.
BROKER_CASES: list[Any] = [
    pytest.param({"profile": "nope"}, "profile", id="profile"),
    pytest.param({"region_name": "us east 1"}, "region", id="region"),
    pytest.param(
        {"endpoint_url": "not-a-url"},
        "endpoint",
        id="endpoint-not-a-url",
    ),
    pytest.param(
        {"endpoint_url": "ftp://127.0.0.1:1"},
        "endpoint",
        id="endpoint-ftp",
    ),
]


def refused(sandbox: Any, good: Any, attempt: Callable[[], object], kind: type) -> str:
    """Run ``attempt``, which must raise ``kind`` without any request reaching the sandbox; the
    good session stays active, and no secret (nor the hostile token) is in the one line."""
    secrets = (good.credentials.secret_key, good.credentials.token, LONG_TOKEN)
    return str(fails_cleanly(sandbox, attempt, kind, active=good, secrets=secrets))


@pytest.mark.parametrize(
    ("method", "kwargs", "parameter"),
    API_CASES,
    ids=[f"{m}-{p}-{i}" for i, (m, _, p) in enumerate(API_CASES)],
)
def test_broker_refuses_before_sending(
    sandbox: Any, good: Any, method: str, kwargs: dict[str, Any], parameter: str
) -> None:
    import stsmagic

    broker = stsmagic.Broker()
    attempt = lambda: getattr(broker, method)(**kwargs)  # noqa: E731
    message = refused(sandbox, good, attempt, stsmagic.ParameterError)
    assert parameter in message
    if parameter in SECRET_PARAMETERS:  # a secret's value is never echoed, not even a bad one
        value = kwargs.get(parameter)
        assert not (isinstance(value, str) and len(value) > 2 and value in message), message


@pytest.mark.parametrize(("kwargs", "name"), BROKER_CASES)
def test_broker_source_refuses_before_sending(
    sandbox: Any, good: Any, kwargs: dict[str, Any], name: str
) -> None:
    import stsmagic

    attempt = lambda: stsmagic.Broker(**kwargs).get_session_token(  # noqa: E731
        TokenCode=sandbox.mfa_code()
    )
    message = refused(sandbox, good, attempt, stsmagic.StsMagicError)
    assert name in message


@pytest.mark.parametrize(
    ("magic", "line", "names"),
    MAGIC_CASES,
    ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(MAGIC_CASES)],
)
def test_magic_refuses_with_one_line(
    sandbox: Any, ip: Any, good: Any, magic: str, line: str, names: tuple[str, ...]
) -> None:
    from IPython.core.error import UsageError

    message = refused(sandbox, good, lambda: ip.run_line_magic(magic, line), UsageError)
    assert any(name in message for name in names), f"{message!r} names none of {names}"


@pytest.mark.parametrize(
    ("function", "value", "parameter"),
    PARAMS_CASES,
    ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(PARAMS_CASES)],
)
def test_params_check_names_the_parameter(function: str, value: object, parameter: str) -> None:
    from stsmagic import limits as params
    from stsmagic.errors import ParameterError

    with pytest.raises(ParameterError) as caught:
        getattr(params, function)(value)
    message = str(caught.value)
    assert caught.value.parameter.startswith(parameter)  # "Tags[2]" names the item too
    assert message.startswith(parameter) and "\n" not in message and len(message) < 400


def test_ledger_refuses_unknown_and_duplicate_labels(sandbox: Any, good: Any) -> None:
    import stsmagic
    from stsmagic.errors import ParameterError

    for attempt in (
        lambda: stsmagic.sessions.activate("no-such-label"),
        lambda: stsmagic.sessions.forget("no-such-label"),
        lambda: stsmagic.sessions.add(good.with_label("good")),
    ):
        message = refused(sandbox, good, attempt, ParameterError)
        assert "label" in message


def test_refusal_in_a_cell_is_one_line_without_traceback(
    sandbox: Any, ip: Any, good: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sent_before = len(sandbox.requests)
    result = ip.run_cell("%sts_session --duration-seconds 60")
    captured = capsys.readouterr()
    assert result.error_in_exec is not None or result.error_before_exec is not None
    lines = [line for line in (captured.out + captured.err).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("UsageError:") and "duration-seconds" in lines[0].lower()
    assert "Traceback" not in captured.out + captured.err
    assert len(sandbox.requests) == sent_before


@pytest.mark.timeout(4, method="signal")
def test_a_huge_line_is_refused_at_once(sandbox: Any, ip: Any, good: Any) -> None:
    """A megabyte pasted into a cell is refused in well under a second, not after a freeze."""
    import time

    from IPython.core.error import UsageError

    line = f"--name '{'x' * HUGE}'"
    start = time.perf_counter()
    message = refused(sandbox, good, lambda: ip.run_line_magic("sts_federation", line), UsageError)
    assert "--name" in message or "line" in message
    assert time.perf_counter() - start < 1


# ---- issue 12: secret-shaped flags, --policy @FILE, plain http ------------------------------

# (magic, line, the value that must never be echoed, the flag the message must suggest or name)
SECRET_FLAG_CASES: list[tuple[str, str, str, str]] = [
    ("sts_session", "--token_code=654321", "654321", "--token-code"),
    ("sts_session", "--token_code 654321", "654321", "--token-code"),
    ("sts_session", "--tokencode=654321", "654321", "--token-code"),
    ("sts_session", "--token-code 123456 --duratoin-seconds 900", "123456", "--duration-seconds"),
    (
        "sso_role",
        f"--account-id 123456789012 --role-name R --access_token={LONG_TOKEN}",
        LONG_TOKEN,
        "--access-token",
    ),
    ("sso_role", f"--acc={LONG_TOKEN} --role-name R", LONG_TOKEN, "--access-token"),
    ("sso_role", f"--account-id 123456789012 --role-name R {LONG_TOKEN}", LONG_TOKEN, "flag"),
    (
        "sts_delegated",
        f"--trade-in-token {LONG_TOKEN} --trade_in_token={LONG_TOKEN}x",
        LONG_TOKEN,
        "--trade-in-token",
    ),
    ("sts_delegated", f"--trade-in={LONG_TOKEN} --bogus", LONG_TOKEN, "--bogus"),
]


@pytest.mark.parametrize(
    ("magic", "line", "secret", "flag"),
    SECRET_FLAG_CASES,
    ids=[f"{m}-{i}" for i, (m, _, _, _) in enumerate(SECRET_FLAG_CASES)],
)
def test_mistyped_secret_flag_never_echoes_its_value(
    sandbox: Any, ip: Any, good: Any, magic: str, line: str, secret: str, flag: str
) -> None:
    from IPython.core.error import UsageError

    message = refused(sandbox, good, lambda: ip.run_line_magic(magic, line), UsageError)
    assert secret not in message, message
    assert flag in message, message
    assert "word" not in message and "(not shown: it may be a secret)" not in message
    if "_" in line.split()[-1] or "duratoin" in line:
        assert f"did you mean {flag}?" in message, message


@pytest.fixture
def policy_file(tmp_path: Any, request: pytest.FixtureRequest) -> str:
    """A path for --policy @PATH that is hostile in the way the test's parameter names."""
    import os

    kind = request.param
    path = tmp_path / f"{kind}.json"
    if kind == "dev-zero":
        return "/dev/zero"
    if kind == "directory":
        return str(tmp_path)
    if kind == "fifo":
        os.mkfifo(path)  # nobody ever writes: reading it would block the kernel for ever
    elif kind == "sparse-1GB":
        with open(path, "wb") as f:
            f.truncate(1 << 30)
    elif kind == "binary":
        path.write_bytes(b'{"Version": "\xff\xfe\x00\x81"}')
    elif kind == "deep-3000":
        path.write_text("[" * 3000 + "]" * 3000)
    return str(path)


@pytest.mark.timeout(10, method="signal")
@pytest.mark.parametrize(
    "policy_file",
    ["dev-zero", "directory", "fifo", "sparse-1GB", "binary", "deep-3000"],
    indirect=True,
)
def test_policy_file_that_is_not_a_policy_is_one_line(
    sandbox: Any, ip: Any, good: Any, policy_file: str
) -> None:
    import resource

    from IPython.core.error import UsageError

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    line = f"--name {OK_NAME} --policy @{policy_file}"
    message = refused(sandbox, good, lambda: ip.run_line_magic("sts_federation", line), UsageError)
    assert "--policy" in message
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 50_000, f"reading the file took {grown_kb} KB"


@pytest.mark.parametrize("form", ["dict", "text"])
def test_deeply_nested_policy_is_one_line(sandbox: Any, ip: Any, good: Any, form: str) -> None:
    depth = 3000
    from IPython.core.error import UsageError

    import stsmagic

    nested: Any = []
    for _ in range(depth):
        nested = [nested]
    document: Any = {"Version": "2012-10-17", "Statement": nested}
    if form == "text":
        document = '{"a":' + "[" * depth + "]" * depth + "}"
    ip.user_ns["deep"] = document
    line = f"--name {OK_NAME} --policy deep"
    message = refused(sandbox, good, lambda: ip.run_line_magic("sts_federation", line), UsageError)
    assert "--policy" in message
    broker = stsmagic.Broker()
    attempt = lambda: broker.get_federation_token(Name=OK_NAME, Policy=document)  # noqa: E731
    assert "Policy" in refused(sandbox, good, attempt, stsmagic.ParameterError)


@pytest.mark.parametrize(
    "url",
    ["http://example.com", "http://10.1.2.3:8080", "HTTP://sts.amazonaws.com", "http://[::2]"],
)
def test_plain_http_to_another_host_is_refused(sandbox: Any, ip: Any, good: Any, url: str) -> None:
    from IPython.core.error import UsageError

    import stsmagic

    message = refused(
        sandbox, good, lambda: stsmagic.Broker(endpoint_url=url), stsmagic.StsMagicError
    )
    assert "https://" in message and "clear text" in message and "allow_http" in message
    line = f"--endpoint-url {url} --token-code 123456"
    message = refused(sandbox, good, lambda: ip.run_line_magic("sts_session", line), UsageError)
    assert "--endpoint-url" in message and "https://" in message and "--allow-http" in message


def test_plain_http_is_allowed_on_loopback_or_when_asked(
    sandbox: Any, ip: Any, good: Any, aws_profile: Any
) -> None:
    import stsmagic
    from stsmagic.magics import StsMagics
    from stsmagic.magics import args as magic_args

    for url in (
        "http://127.0.0.1:1",
        "http://localhost:1",
        "http://[::1]:1",
        "https://example.com",
    ):
        stsmagic.Broker(endpoint_url=url).client("sts")
    assert stsmagic.Broker(endpoint_url="http://example.com", allow_http=True).client("sts")
    magics = next(c for c in ip.configurables if isinstance(c, StsMagics))
    args = magic_args.parse_line(
        magics.sts_session, "--endpoint-url http://example.com --allow-http"
    )
    assert magics.broker(args).client("sts").meta.endpoint_url == "http://example.com"
    args = magic_args.parse_line(magics.sts_session, "--endpoint-url http://example.com")
    with pytest.raises(stsmagic.ParameterError):
        magics.broker(args)
    ip.run_line_magic("config", "StsMagics.allow_http = True")
    assert magics.broker(args).client("sts").meta.endpoint_url == "http://example.com"


def test_plain_http_in_the_profile_is_refused(sandbox: Any, good: Any, aws_profile: Any) -> None:
    import stsmagic

    config = aws_profile.read_text().replace(sandbox.endpoint_url, "http://sts.example.com")
    aws_profile.write_text(config)
    message = refused(sandbox, good, lambda: stsmagic.Broker(), stsmagic.ParameterError)
    assert "https://" in message


# ---- issue 22 item 1: URLs read as the HTTP client reads them, loopback, proxies ---------------

# urlsplit reads 127.0.0.1 in each; urllib3, which botocore connects with, reads another host
# (or a password before it), so each would have passed the loopback check and gone elsewhere.
AMBIGUOUS = {
    "backslash": "http://sts.example.com:80\\@127.0.0.1:9/",
    "userinfo": "http://user:password@127.0.0.1:9/",
}
ROUTES = (
    "Broker",
    "--endpoint-url",
    "trait",
    "profile",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "services",
)


def endpoint_by(route: str, url: str, ip: Any, aws_profile: Any, monkeypatch: Any) -> Any:
    """An attempt at GetSessionToken whose endpoint comes by ``route``."""
    import stsmagic
    from stsmagic.magics import StsMagics

    if route == "Broker":
        return lambda: stsmagic.Broker(endpoint_url=url).get_session_token()
    if route == "--endpoint-url":
        line = f"--endpoint-url '{url}' --token-code 123456"
        return lambda: ip.run_line_magic("sts_session", line)
    if route == "trait":

        def attempt() -> None:
            magics = next(c for c in ip.configurables if isinstance(c, StsMagics))
            magics.endpoint_url = url
            ip.run_line_magic("sts_session", "--token-code 123456")

        return attempt
    config = aws_profile.read_text()
    config = "\n".join(x for x in config.splitlines() if not x.startswith("endpoint_url"))
    if route == "profile":
        config += f"\nendpoint_url = {url}\n"
    elif route == "services":
        config += f"\nservices = odd\n\n[services odd]\nsts =\n  endpoint_url = {url}\n"
    else:
        monkeypatch.setenv(route, url)
    aws_profile.write_text(config + "\n")
    return lambda: stsmagic.Broker().get_session_token()


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("kind", list(AMBIGUOUS))
def test_an_ambiguous_endpoint_is_refused_by_every_route(
    sandbox: Any,
    ip: Any,
    good: Any,
    aws_profile: Any,
    proxy: Any,
    monkeypatch: Any,
    route: str,
    kind: str,
) -> None:
    from IPython.core.error import UsageError
    from traitlets import TraitError

    import stsmagic

    attempt = endpoint_by(route, AMBIGUOUS[kind], ip, aws_profile, monkeypatch)
    message = refused(sandbox, good, attempt, (stsmagic.StsMagicError, UsageError, TraitError))
    assert proxy.requests == [], "a request left for the host urllib3 reads"
    assert ("backslash" if kind == "backslash" else "user name or password") in message
    assert "password@" not in message  # the part before @ is never echoed
    if route not in ("Broker", "--endpoint-url", "trait"):
        assert route in message or "profile 'default'" in message, message


@pytest.mark.parametrize("url", ["http://sts.localhost:1", "http://localhost.localhost"])
def test_a_localhost_subdomain_is_not_loopback(sandbox: Any, good: Any, url: str) -> None:
    """*.localhost names are looked up through DNS (or a hosts file): not this machine."""
    import stsmagic

    message = refused(
        sandbox, good, lambda: stsmagic.Broker(endpoint_url=url), stsmagic.ParameterError
    )
    assert "clear text" in message


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"])
def test_plain_http_from_the_environment_is_refused_as_plain_http(
    sandbox: Any, ip: Any, good: Any, aws_profile: Any, proxy: Any, monkeypatch: Any, variable: str
) -> None:
    """Before: AWS_ENDPOINT_URL_STS's refusal came out as "InvalidResponse"."""
    from IPython.core.error import UsageError

    import stsmagic

    attempt = endpoint_by(variable, "http://sts.example.com", ip, aws_profile, monkeypatch)
    message = refused(sandbox, good, attempt, stsmagic.ParameterError)
    assert message.startswith(f"{variable}: http://sts.example.com would carry"), message
    assert "InvalidResponse" not in message and "https://" in message
    line = "--token-code 123456"
    message = refused(sandbox, good, lambda: ip.run_line_magic("sts_session", line), UsageError)
    assert message.startswith(f"%sts_session: {variable}: http://sts.example.com would carry")
    assert proxy.requests == []


def test_a_loopback_endpoint_is_never_reached_through_a_proxy(
    sandbox: Any, aws_profile: Any, proxy: Any
) -> None:
    """HTTP_PROXY would carry a request for 127.0.0.1 (tokens in clear) to the proxy's machine:
    stsmagic's clients connect to a loopback endpoint directly."""
    import stsmagic

    sandbox.reset_requests()
    broker = stsmagic.Broker()
    session = broker.get_session_token(TokenCode=sandbox.mfa_code())
    broker.assume_role(RoleArn=sandbox.role_arn("plain"), signed_by=session)  # signed client
    broker.get_role_credentials(
        accountId=sandbox.sso_account_id,
        roleName=sandbox.sso_role_name,
        accessToken=sandbox.sso_access_token(),
    )
    assert proxy.requests == []
    assert [sandbox.count(op) for op in ("GetSessionToken", "AssumeRole")] == [1, 1]
    assert sandbox.count("GetRoleCredentials") == 1
