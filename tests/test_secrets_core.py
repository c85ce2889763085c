"""No secret the sandbox issued becomes text: reprs, strs, HTML, frames, errors, log records.

Every log record is scanned, botocore's DEBUG wire log included: stsmagic redacts secrets from
botocore's records (request parameters, headers, response bodies, canonical requests).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest

import stsmagic
from stsmagic.broker import Broker
from stsmagic.errors import StsMagicError
from stsmagic.outlets import environ, live
from stsmagic.renewal import without_renewal

POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}],
}


def leaks(texts: list[str], secrets: list[str]) -> list[tuple[str, str]]:
    found = []
    for text in texts:
        for secret in secrets:
            if secret and secret in text:
                found.append((secret[:6] + "…", text[:120]))
    return found


def record_texts(records: list[logging.LogRecord]) -> list[str]:
    texts = []
    for r in records:
        texts.append(r.getMessage())
        texts.append(repr(r.args))
        if r.exc_info:
            texts.append(logging.Formatter().formatException(r.exc_info))
    return texts


def test_no_secret_becomes_text(
    sandbox: Any, aws_profile: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, botocore's wire log included
    texts: list[str] = []
    errors: list[StsMagicError] = []

    def refused(call: Any) -> None:
        with pytest.raises(StsMagicError) as caught:
            call()
        errors.append(caught.value)

    earlier = boto3.client("sts")
    broker = Broker()
    trade_in = sandbox.mint_trade_in_token()
    bearer = sandbox.sso_access_token()
    issued = [
        broker.get_session_token(TokenCode=sandbox.mfa_code()),
        broker.get_federation_token(Name="scan", Policy=POLICY),
        broker.get_delegated_access_token(TradeInToken=trade_in),
        broker.get_role_credentials(
            accountId=sandbox.sso_account_id, roleName=sandbox.sso_role_name, accessToken=bearer
        ),
        broker.assume_role(
            RoleArn=sandbox.role_arn("mfa"),
            SerialNumber=sandbox.mfa_serial,
            TokenCode=sandbox.mfa_code(),
        ),
    ]
    # role chaining: the request is signed with the last session's keys, not the source's
    issued.append(broker.assume_role(RoleArn=sandbox.role_arn("plain"), signed_by=issued[-1]))
    environ.export_environ(True)
    for s in issued:
        s = stsmagic.sessions.add(s)
        earlier.get_caller_identity()  # signed with the live session: token in the headers
        texts += [repr(s), str(s), s._repr_html_(), repr(s.credentials), f"{s!r:>10}"]
    stsmagic.sessions.add(  # not renewable: the refusal's text is what is scanned
        without_renewal(
            dataclasses.replace(
                issued[1], label="stale", expiration=datetime.now(timezone.utc) - timedelta(1)
            )
        )
    )
    refused(earlier.get_caller_identity)  # SessionExpired
    stsmagic.sessions.deactivate()

    refused(
        lambda: broker.get_session_token(
            TokenCode="000000" if sandbox.mfa_code() != "000000" else "111111"
        )
    )
    refused(lambda: broker.get_delegated_access_token(TradeInToken=trade_in))  # used up
    refused(lambda: broker.get_delegated_access_token(TradeInToken=[trade_in]))  # wrong type
    refused(
        lambda: broker.get_role_credentials(
            accountId=sandbox.sso_account_id,
            roleName=sandbox.sso_role_name,
            accessToken=bearer + "x",
        )
    )
    refused(
        lambda: broker.get_role_credentials(
            accountId="12", roleName=sandbox.sso_role_name, accessToken=bearer
        )
    )
    refused(
        lambda: broker.assume_role(
            RoleArn=sandbox.role_arn("external-id"), signed_by=issued[-1]
        )  # AccessDenied
    )
    refused(
        lambda: broker.assume_role(
            RoleArn=sandbox.role_arn("plain"), signed_by=issued[-1], DurationSeconds=7200
        )  # chained: over an hour
    )
    assert len(errors) == 8

    frame = stsmagic.sessions.to_frame()
    texts += [
        repr(stsmagic.sessions),
        frame.to_string(),
        frame.to_html(),
        repr(frame.to_dict()),
        repr(live.credentials()),
        repr(broker),
        repr(stsmagic.sessions.sessions),
        repr(broker.source_credentials()),
    ]
    texts += [str(e) for e in errors] + [repr(e) for e in errors] + [repr(e.args) for e in errors]

    secrets = sandbox.issued_secrets()
    assert sandbox.source_credentials.secret_key in secrets
    for s in issued:
        assert s.credentials.secret_key in secrets and s.credentials.token in secrets
    assert trade_in in secrets and bearer in secrets

    assert leaks(texts, secrets) == []
    ours = [r for r in caplog.records if r.name.startswith("stsmagic")]
    assert ours, "stsmagic logged nothing at all: the scan would prove nothing"
    assert leaks(record_texts(ours), secrets) == []
    botocores = [r for r in caplog.records if r.name.startswith("botocore")]
    assert any("Response body" in r.getMessage() for r in botocores)  # the wire log was on
    assert leaks(record_texts(caplog.records), secrets) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "<Credentials><AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>s/k+</SecretAccessKey>"
            "<SessionToken>tok==</SessionToken></Credentials>",
            "<Credentials><AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>***</SecretAccessKey>"
            "<SessionToken>***</SessionToken></Credentials>",
        ),
        (
            "{'TradeInToken': 'abc', 'Version': '2011-06-15'}",
            "{'TradeInToken': '***', 'Version': '2011-06-15'}",
        ),
        (
            "headers={'x-amz-sso_bearer_token': b'aoa123'}",
            "headers={'x-amz-sso_bearer_token': b'***'}",
        ),
        (
            '{"secretAccessKey": "s", "expiration": 1}',
            '{"secretAccessKey": "***", "expiration": 1}',
        ),
        (
            "host:sts\nx-amz-security-token:FwoG==\n\nhost",
            "host:sts\nx-amz-security-token:***\n\nhost",
        ),
        ("Action=X&TradeInToken=abc&Version=1", "Action=X&TradeInToken=***&Version=1"),
        ("nothing secret: AccessKeyId ASIAX", "nothing secret: AccessKeyId ASIAX"),
        # a body cut off before the closing tag (issue 12 item 4)
        (
            "b'<Credentials><AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>s/k+cut'",
            "b'<Credentials><AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>***",
        ),
        ("<SessionToken>FwoGZXIvYXdzE", "<SessionToken>***"),
        # an SSO OIDC answer: the device code trades for the token (issue 22)
        (
            '{"deviceCode": "dc-123", "userCode": "AB-CD"}',
            '{"deviceCode": "***", "userCode": "AB-CD"}',
        ),
    ],
)
def test_redact(text: str, expected: str) -> None:
    from stsmagic.redact import redact

    assert redact(text) == expected


def test_refusals_under_verbose_show_no_secret(sandbox: Any, aws_profile: Path) -> None:
    """Every refusal of the Python API, rendered as %xmode Verbose prints it: no frame shows
    the trade-in token, the bearer token, a secret key or the source's secret."""
    from tests.helpers.verbose import leaked, verbose_traceback

    broker = Broker()
    trade_in = sandbox.mint_trade_in_token()
    broker.get_delegated_access_token(TradeInToken=trade_in)  # used up from here on
    bearer = sandbox.sso_access_token()
    wrong = "000000" if sandbox.mfa_code() != "000000" else "111111"
    attempts = {
        "wrong MFA code": lambda: broker.get_session_token(TokenCode=wrong),
        "used trade-in token": lambda: broker.get_delegated_access_token(TradeInToken=trade_in),
        "trade-in token of a wrong type": lambda: broker.get_delegated_access_token(
            TradeInToken=[trade_in]
        ),
        "bad bearer": lambda: broker.get_role_credentials(
            accountId=sandbox.sso_account_id,
            roleName=sandbox.sso_role_name,
            accessToken=bearer + "x",
        ),
        "bad account": lambda: broker.get_role_credentials(
            accountId="12", roleName=sandbox.sso_role_name, accessToken=bearer
        ),
        "unknown role": lambda: broker.get_role_credentials(
            accountId=sandbox.sso_account_id, roleName="NoSuchRole", accessToken=bearer
        ),
    }
    secrets = sandbox.issued_secrets()
    assert trade_in in secrets and bearer in secrets
    for what, attempt in attempts.items():
        with pytest.raises(StsMagicError) as caught:
            attempt()
        error = caught.value
        assert error.__cause__ is None, what
        text = verbose_traceback(error)
        assert leaked(text, secrets) == [], (what, text[-2000:])
        assert text.count("\n") < 60, (what, "not a short traceback")


def test_a_cut_off_answer_leaves_no_secret_in_the_debug_log(
    sandbox: Any, aws_profile: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """botocore logs the cut-off body at DEBUG before its parser gives up on it."""
    from tests.helpers.answering_server import AnsweringServer
    from tests.helpers.odd_answers import ODD_SECRET, ODD_TOKEN, creds, sts_body

    body = sts_body(creds())
    cut = body[: body.index(ODD_TOKEN.encode()) + 50]  # inside <SessionToken>, no closing tag
    with AnsweringServer(cut) as server:
        caplog.set_level(logging.DEBUG)
        with pytest.raises(StsMagicError):
            Broker(endpoint_url=server.url).get_session_token()
    texts = record_texts(caplog.records)
    assert any("Response body" in t for t in texts)
    assert leaks(texts, [ODD_SECRET, ODD_TOKEN[:50]]) == []


def test_magic_refusals_under_verbose_show_no_secret(
    sandbox: Any, ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each refusal as a user sees it with %xmode Verbose on: one line, no secret."""
    ip.user_ns["tok"] = sandbox.mint_trade_in_token()
    ip.user_ns["bearer"] = sandbox.sso_access_token()
    ip.run_line_magic("sts_delegated", "--trade-in-token tok")  # spent from here on
    wrong = "000000" if sandbox.mfa_code() != "000000" else "111111"
    lines = [
        f"%sts_session --token-code {wrong}",
        "%sts_delegated --trade-in-token tok",
        f"%sso_role --account-id {sandbox.sso_account_id} --role-name NoSuchRole "
        "--access-token bearer",
        f"%sso_role --account-id 12 --role-name R --access-token {ip.user_ns['bearer']}",
        f"%sso_role --acc={ip.user_ns['bearer']} --role-name R",
        f"%sts_delegated --trade_in_token={ip.user_ns['tok']}",
        "%sts_federation --name ok-name --policy @/dev/zero",
    ]
    ip.run_line_magic("xmode", "Verbose")
    outputs = []
    try:
        for line in lines:
            capsys.readouterr()
            ip.run_cell(line)
            captured = capsys.readouterr()
            outputs.append((line, captured.out + captured.err))
    finally:
        ip.run_line_magic("xmode", "Context")
    secrets = sandbox.issued_secrets()
    for line, text in outputs:
        shown = [x for x in text.splitlines() if x.strip()]
        assert len(shown) == 1 and shown[0].startswith("UsageError:"), (line, shown)
        assert leaks([text], secrets) == [], line


# ---- issue 22 item 6: no refusal keeps botocore's frames in its __context__ --------------------


def test_refusals_keep_no_context_nor_a_frame_with_a_secret(
    sandbox: Any, aws_profile: Path, sso_logged_in: Path
) -> None:
    """Before: `raise ... from None` hid botocore's exception from the printed traceback, but
    kept it as __context__, and its frames (the request: the bearer token) with it."""
    import json

    from stsmagic.sso.cache import find_token
    from tests.helpers.verbose import frames_holding

    broker = Broker()
    trade_in = sandbox.mint_trade_in_token()
    broker.get_delegated_access_token(TradeInToken=trade_in)  # used up from here on
    bearer = sandbox.sso_access_token()
    cached = json.loads(sso_logged_in.read_text())
    cached.update(
        expiresAt="2020-01-01T00:00:00Z",
        refreshToken="aor" + "r" * 60,  # refused by the sandbox: not one it issued
        clientId="c" * 20,
        clientSecret="s" * 64,
    )
    sso_logged_in.write_text(json.dumps(cached))
    (aws_profile.parent / "config").write_text(
        aws_profile.read_text()
        + f"sso_session = work\n[sso-session work]\nsso_start_url = {sandbox.sso_start_url}\n"
        f"sso_region = {sandbox.sso_region}\n"
    )
    attempts = {
        "used trade-in token": lambda: broker.get_delegated_access_token(TradeInToken=trade_in),
        "unknown role": lambda: broker.get_role_credentials(
            accountId=sandbox.sso_account_id, roleName="NoSuchRole", accessToken=bearer
        ),
        "bad bearer": lambda: broker.get_role_credentials(
            accountId=sandbox.sso_account_id,
            roleName=sandbox.sso_role_name,
            accessToken=bearer + "x",
        ),
        "refresh refused": lambda: find_token(),
    }
    secrets = [*sandbox.issued_secrets(), cached["refreshToken"], cached["clientSecret"]]
    for what, attempt in attempts.items():
        with pytest.raises(StsMagicError) as caught:
            attempt()
        error = caught.value
        assert error.__context__ is None and error.__cause__ is None, what
        assert frames_holding(error, secrets) == [], what


def test_a_magic_refusal_keeps_no_frame_with_a_secret_in_its_context(sandbox: Any, ip: Any) -> None:
    from IPython.core.error import UsageError

    from tests.helpers.verbose import frames_holding

    ip.user_ns["bearer"] = bearer = sandbox.sso_access_token()
    line = f"--account-id {sandbox.sso_account_id} --role-name NoSuchRole --access-token bearer"
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("sso_role", line)
    context = caught.value.__context__
    assert context is None or context.__traceback__ is None
    assert frames_holding(context, [bearer]) == []


def test_an_expired_session_that_failed_to_renew_keeps_no_context(
    sandbox: Any, aws_profile: Path
) -> None:
    """The gate's renewer (``renew_due``) on an expired session whose renewal is refused. A
    ledger of its own: the kernel's renews due sessions ahead, as soon as they are added."""
    from stsmagic.errors import SessionExpired
    from stsmagic.ledger import SessionLedger
    from stsmagic.renewal import renew_due

    session = Broker().get_federation_token(Name="renews", label="renews")
    stale = dataclasses.replace(session, expiration=datetime.now(timezone.utc) - timedelta(1))
    ledger = SessionLedger()
    ledger.add(stale)
    sandbox.fail_next("GetFederationToken", status=403, code="AccessDenied", message="no")
    with pytest.raises(SessionExpired, match="was not renewed: GetFederationToken refused") as e:
        renew_due(ledger, stale, ledger.now())
    assert e.value.__context__ is None and e.value.__cause__ is None


# ---- issue 22: the scan over the new paths (OIDC answers, the sessions file) -----------------


def test_no_secret_from_oidc_answers_or_the_sessions_file_becomes_text(
    sandbox: Any, aws_profile: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """%sso_login's three answers (client secret, device code, tokens), the refresh grant, and
    the remembered sessions file (written, merged, read back, and read when hostile): no secret
    in any repr, message or log record, botocore's DEBUG wire log included."""
    import json

    from stsmagic.ledger import SessionLedger
    from stsmagic.outlets import remember
    from stsmagic.sso.cache import find_token
    from stsmagic.sso.login import sso_login

    caplog.set_level(logging.DEBUG)
    (aws_profile.parent / "config").write_text(
        aws_profile.read_text()
        + f"sso_session = work\n[sso-session work]\nsso_start_url = {sandbox.sso_start_url}\n"
        f"sso_region = {sandbox.sso_region}\n"
    )
    shown: list[Any] = []

    def approve(seconds: float) -> None:
        sandbox.approve_device(shown[-1].user_code)

    done = sso_login(show=shown.append, sleep=approve, clock=lambda: 0.0)
    cached = json.loads(done.path.read_text())
    cached["expiresAt"] = "2020-01-01T00:00:00Z"
    done.path.write_text(json.dumps(cached))
    refreshed = find_token()  # the refresh grant: refresh token and client secret sent
    texts = [str(done), repr(done), repr(shown), shown[0].text(), shown[0].html()]

    ledger = SessionLedger()
    broker = Broker()
    ledger.add(broker.get_federation_token(Name="kept", label="kept"))
    path = tmp_path / "cache" / "stsmagic" / "sessions.json"
    keeping = remember.Remembering(ledger, path)
    keeping.start()
    ledger.add(broker.get_federation_token(Name="more", label="more"))
    ledger.forget("kept")
    keeping.stop()
    restored, active = remember.load(path)
    texts += [repr(restored), repr(active), repr(vars(restored[0]))]
    document = json.loads(path.read_text())
    document["sessions"].append({**document["sessions"][0], "kind": 7})  # refused, logged
    path.write_text(json.dumps(document))
    texts.append(repr(remember.load(path)))

    secrets = sandbox.issued_secrets()
    assert refreshed in secrets and cached["clientSecret"] in secrets
    assert cached["refreshToken"] in secrets
    assert leaks(texts, secrets) == []
    records = record_texts(caplog.records)
    assert any("session record 2 ignored" in t for t in records)
    assert any("Response body" in t for t in records)  # the wire log was on
    assert leaks(records, secrets) == []
