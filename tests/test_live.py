"""live.py against the sandbox: boto3 clients sign with whatever session is active, at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import NoCredentialsError

import stsmagic
from stsmagic import source
from stsmagic.broker import Broker
from stsmagic.errors import SessionExpired
from stsmagic.ledger import SessionLedger
from stsmagic.outlets import environ, live
from stsmagic.session import IssuedSession
from tests.helpers.aws_clients import signed_with
from tests.helpers.clock import Clock


def test_done_when_from_plain_python(sandbox: Any, aws_profile: Path) -> None:
    """The issue's definition of done, as a user would type it."""
    earlier = boto3.client("sts")  # before anything of stsmagic's touched boto3
    source = sandbox.source_credentials.access_key
    assert signed_with(sandbox, earlier) == source
    b = stsmagic.Broker()
    s = b.get_session_token(SerialNumber=sandbox.mfa_serial, TokenCode=sandbox.mfa_code())
    stsmagic.sessions.add(s)
    assert live.installed()
    assert signed_with(sandbox, earlier) == s.access_key_id
    assert signed_with(sandbox, boto3.client("sts")) == s.access_key_id  # and a new one
    stsmagic.sessions.deactivate()
    assert signed_with(sandbox, earlier) == source


def test_switching_back_and_forth(sandbox: Any, aws_profile: Path) -> None:
    live.install()
    client = boto3.client("sts")
    broker = Broker()
    alice = stsmagic.sessions.add(broker.get_federation_token(Name="alice"))
    bob = stsmagic.sessions.add(broker.get_federation_token(Name="bob"), activate=False)
    assert client.get_caller_identity()["Arn"] == alice.principal
    stsmagic.sessions.activate(bob.label)  # type: ignore[arg-type]
    assert client.get_caller_identity()["Arn"] == bob.principal
    stsmagic.sessions.activate(alice.label)  # type: ignore[arg-type]
    assert client.get_caller_identity()["Arn"] == alice.principal
    stsmagic.sessions.forget(alice.label)  # type: ignore[arg-type]
    assert client.get_caller_identity()["Arn"] == sandbox.user_arn
    stsmagic.sessions.activate(bob.label)  # type: ignore[arg-type]
    assert client.get_caller_identity()["Arn"] == bob.principal
    stsmagic.sessions.forget_all()
    assert client.get_caller_identity()["Arn"] == sandbox.user_arn


def test_install_is_idempotent_and_first_in_the_chain(aws_profile: Path) -> None:
    first = live.install()
    assert live.install() is first and live.install(stsmagic.sessions) is first
    resolver = boto3.DEFAULT_SESSION._session.get_component("credential_provider")  # type: ignore[union-attr]
    methods = [p.METHOD for p in resolver.providers]
    assert methods[0] == "stsmagic" and methods.count("stsmagic") == 1
    assert boto3.DEFAULT_SESSION.get_credentials() is first  # type: ignore[union-attr]
    live.uninstall()
    assert not live.installed()
    methods = [p.METHOD for p in resolver.providers]
    assert "stsmagic" not in methods
    live.uninstall()  # harmless twice


def test_uninstall_gives_clients_back_their_source(sandbox: Any, aws_profile: Path) -> None:
    earlier = boto3.client("sts")
    signed_with(sandbox, earlier)  # resolved the profile's keys before installation
    stsmagic.sessions.add(Broker().get_federation_token(Name="dora"))
    later = boto3.client("sts")
    assert signed_with(sandbox, later) == stsmagic.sessions.active.access_key_id  # type: ignore[union-attr]
    live.uninstall()
    source = sandbox.source_credentials.access_key
    assert signed_with(sandbox, earlier) == source
    assert signed_with(sandbox, later) == source
    assert signed_with(sandbox, boto3.client("sts")) == source


def test_a_new_default_session_is_installed_on_next_activation(
    sandbox: Any, aws_profile: Path
) -> None:
    fed = stsmagic.sessions.add(Broker().get_federation_token(Name="eve"))
    boto3.setup_default_session()  # the user starts over
    stsmagic.sessions.activate(fed.label)  # type: ignore[arg-type]
    assert live.installed()
    assert signed_with(sandbox, boto3.client("sts")) == fed.access_key_id


def test_a_default_session_the_user_makes_anew_is_live_at_once(
    sandbox: Any, aws_profile: Path
) -> None:
    original = boto3.setup_default_session
    fed = stsmagic.sessions.add(Broker().get_federation_token(Name="ida"))
    boto3.setup_default_session(region_name="us-east-1")  # no activation after it
    assert signed_with(sandbox, boto3.client("sts")) == fed.access_key_id
    live.uninstall()
    assert boto3.setup_default_session is original
    assert signed_with(sandbox, boto3.client("sts")) == sandbox.source_credentials.access_key


def test_watch_waits_for_boto3_to_make_its_default_session(sandbox: Any, aws_profile: Path) -> None:
    boto3.DEFAULT_SESSION = None
    live.watch()
    assert boto3.DEFAULT_SESSION is None and live.installed()  # nothing made at load time
    fed = stsmagic.sessions.add(Broker().get_federation_token(Name="jo"), activate=False)
    client = boto3.client("sts")  # boto3 makes its default session here
    assert signed_with(sandbox, client) == sandbox.source_credentials.access_key
    stsmagic.sessions.activate(fed.label)  # type: ignore[arg-type]
    assert signed_with(sandbox, client) == fed.access_key_id


def expired_copy(session: IssuedSession, label: str) -> IssuedSession:
    import dataclasses

    from stsmagic.renewal import without_renewal

    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    # not renewable (--no-renew): what is tested is the expiry check itself
    return without_renewal(dataclasses.replace(session, label=label, expiration=past))


def test_expired_active_session_fails_before_sending(sandbox: Any, aws_profile: Path) -> None:
    client = boto3.client("sts")
    fresh = Broker().get_federation_token(Name="fred")
    stsmagic.sessions.add(expired_copy(fresh, "stale"))
    sent = len(sandbox.requests)
    with pytest.raises(SessionExpired) as caught:
        client.get_caller_identity()
    assert len(sandbox.requests) == sent
    assert caught.value.label == "stale" and caught.value.kind == "federation"
    assert "%sts_federation" in str(caught.value) and "%sts_use --source" in str(caught.value)


def test_expiry_follows_the_ledgers_clock(
    sandbox: Any, aws_profile: Path, ledger: SessionLedger, clock: Clock
) -> None:
    live.install(ledger)
    client = boto3.client("sts")
    from stsmagic.renewal import without_renewal

    session = ledger.add(
        without_renewal(Broker().get_federation_token(Name="gus", DurationSeconds=900))
    )
    assert signed_with(sandbox, client) == session.access_key_id
    clock.to(session.expiration)  # the very second it expires
    sent = len(sandbox.requests)
    with pytest.raises(SessionExpired):
        client.get_caller_identity()
    assert len(sandbox.requests) == sent
    ledger.deactivate()
    assert signed_with(sandbox, client) == sandbox.source_credentials.access_key


def test_no_credentials_at_all(sandbox: Any, clean_environ: Path) -> None:
    live.install()
    client = boto3.client("sts", region_name="us-east-1", endpoint_url=sandbox.endpoint_url)
    sent = len(sandbox.requests)
    with pytest.raises(NoCredentialsError):
        client.get_caller_identity()
    assert len(sandbox.requests) == sent


def test_export_environ_and_take_back(
    sandbox: Any, aws_profile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "what-was-there")
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    environ.export_environ(True)
    assert environ.exporting()
    session = stsmagic.sessions.add(Broker().get_federation_token(Name="hal"))
    assert os.environ["AWS_ACCESS_KEY_ID"] == session.access_key_id
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == session.credentials.secret_key
    assert os.environ["AWS_SESSION_TOKEN"] == session.credentials.token
    assert os.environ["AWS_CREDENTIAL_EXPIRATION"] == session.expiration.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    # A subprocess (as `!aws ...` would be) signs with the exported session.
    code = (
        "import boto3; "
        "print(boto3.client('sts', region_name='us-east-1').get_caller_identity()['Arn'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == session.principal, out.stderr[-500:]
    stsmagic.sessions.deactivate()
    assert "AWS_ACCESS_KEY_ID" not in os.environ and "AWS_CREDENTIAL_EXPIRATION" not in os.environ
    assert os.environ["AWS_SESSION_TOKEN"] == "what-was-there"
    stsmagic.sessions.activate(session.label)  # type: ignore[arg-type]
    assert os.environ["AWS_ACCESS_KEY_ID"] == session.access_key_id
    stsmagic.sessions.forget(session.label)  # type: ignore[arg-type]
    assert "AWS_ACCESS_KEY_ID" not in os.environ
    stsmagic.sessions.add(Broker().get_federation_token(Name="ida"))
    environ.export_environ(False)
    assert "AWS_ACCESS_KEY_ID" not in os.environ
    assert os.environ["AWS_SESSION_TOKEN"] == "what-was-there"
    assert not environ.exporting()


def test_source_environ_hides_the_exports(
    sandbox: Any, aws_profile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the source chains' EnvProvider reads: the environment as it was before exports."""
    keys = sandbox.source_credentials  # the user's own keys, in the environment
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys.secret_key)
    environ.export_environ(True)
    session = stsmagic.sessions.add(Broker().get_federation_token(Name="jo"))
    assert os.environ["AWS_ACCESS_KEY_ID"] == session.access_key_id
    hidden = source.SourceEnviron()
    assert hidden["AWS_ACCESS_KEY_ID"] == keys.access_key
    assert hidden["AWS_SECRET_ACCESS_KEY"] == keys.secret_key
    assert "AWS_SESSION_TOKEN" not in hidden and "AWS_CREDENTIAL_EXPIRATION" not in hidden
    assert hidden.get("AWS_CONFIG_FILE") == os.environ["AWS_CONFIG_FILE"]
    assert dict(hidden) == dict(source.source_environ())
    # The broker's source is still the user's env keys, not the exported session's.
    Broker().get_session_token()
    assert sandbox.requests[-1].access_key_id == keys.access_key
    stsmagic.sessions.deactivate()
    assert os.environ["AWS_ACCESS_KEY_ID"] == keys.access_key
    assert "AWS_SESSION_TOKEN" not in os.environ


def test_eight_threads_while_sessions_switch_a_thousand_times(
    sandbox: Any, aws_profile: Path
) -> None:
    broker = Broker()
    sessions = [
        stsmagic.sessions.add(broker.get_federation_token(Name=f"t{i}"), activate=False)
        for i in range(3)
    ]
    identities = {s.principal for s in sessions} | {sandbox.user_arn}
    keys = {s.access_key_id for s in sessions} | {sandbox.source_credentials.access_key}
    live.install()
    client = boto3.client("sts")
    client.get_caller_identity()  # endpoint and credentials resolved before the threads start
    sandbox.reset_requests()
    stop = threading.Event()
    seen: list[str] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            while not stop.is_set():
                seen.append(client.get_caller_identity()["Arn"])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    labels = [s.label for s in sessions] + [None]
    for i in range(1000):
        label = labels[i % 4]
        if label is None:
            stsmagic.sessions.deactivate()
        else:
            stsmagic.sessions.activate(label)
        if i % 50 == 0:
            threading.Event().wait(0.005)  # let the callers through between bursts
    # Keep the callers going until enough requests have been signed across the switches.
    deadline = datetime.now() + timedelta(seconds=30)
    while len(seen) < 200 and datetime.now() < deadline and not errors:
        threading.Event().wait(0.05)
        stsmagic.sessions.activate(labels[len(seen) % 3])  # type: ignore[arg-type]
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    assert len(seen) >= 200
    assert set(seen) <= identities
    assert len(set(seen)) >= 2  # the switches were seen
    assert sandbox.signature_failures == 0
    signed = {r.access_key_id for r in sandbox.requests}
    assert signed <= keys


def test_a_refused_change_installs_nothing(aws_profile: Path) -> None:
    from stsmagic.errors import ParameterError

    response = {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE000000001",
            "SecretAccessKey": "s",
            "SessionToken": "t",
            "Expiration": datetime.now(timezone.utc) + timedelta(hours=1),
        }
    }
    issued = IssuedSession.from_sts("session", response, issued_at=datetime.now(timezone.utc))
    kept = stsmagic.sessions.add(issued, activate=False)
    assert not live.installed() and boto3.DEFAULT_SESSION is None
    with pytest.raises(ParameterError):
        stsmagic.sessions.add(kept)  # its label is taken
    with pytest.raises(ParameterError):
        stsmagic.sessions.activate("no-such-label")
    assert not live.installed() and boto3.DEFAULT_SESSION is None
    stsmagic.sessions.activate(kept.label)  # type: ignore[arg-type]
    assert live.installed()


def test_each_kind_end_to_end_through_the_live_credentials(sandbox: Any, aws_profile: Path) -> None:
    """Issue each kind, add it, and ask GetCallerIdentity through one boto3 client who it is."""
    client = boto3.client("sts")
    broker = Broker()
    account = sandbox.account_id
    failures = sandbox.signature_failures
    delegate = f"arn:aws:sts::{account}:assumed-role/Auditor/handover"
    cases = [
        (broker.get_session_token(TokenCode=sandbox.mfa_code()), sandbox.user_arn),
        (
            broker.get_federation_token(Name="kim"),
            f"arn:aws:sts::{account}:federated-user/kim",
        ),
        (
            broker.get_delegated_access_token(
                TradeInToken=sandbox.mint_trade_in_token(principal_arn=delegate)
            ),
            delegate,
        ),
        (
            broker.get_role_credentials(
                accountId=sandbox.sso_account_id,
                roleName=sandbox.sso_role_name,
                accessToken=sandbox.sso_access_token(),
            ),
            f"arn:aws:sts::{sandbox.sso_account_id}:assumed-role/{sandbox.sso_role_name}/",
        ),
    ]
    for session, identity in cases:
        session = stsmagic.sessions.add(session)
        arn = client.get_caller_identity()["Arn"]
        assert arn.startswith(identity) if identity.endswith("/") else arn == identity
        assert sandbox.requests[-1].access_key_id == session.access_key_id
    assert [s.kind for s in stsmagic.sessions.sessions] == [
        "session",
        "federation",
        "delegated",
        "sso",
    ]
    assert sandbox.signature_failures == failures


def test_the_source_credentials_handed_out_are_masked(sandbox: Any, aws_profile: Path) -> None:
    """Issue 22 item 8: with no session active the live credentials answer with the source's,
    which botocore gives as a namedtuple whose repr (and IPython's pretty) shows the secret."""
    from IPython.lib.pretty import pretty

    live.install()
    creds = live.credentials()
    assert creds is not None and stsmagic.sessions.active is None
    frozen = creds.get_frozen_credentials()
    secret = sandbox.source_credentials.secret_key
    assert (
        frozen.secret_key == secret and frozen.access_key == sandbox.source_credentials.access_key
    )
    for text in (pretty(frozen), repr(frozen), str(frozen), f"{frozen}", pretty([frozen])):
        assert secret not in text, text
    assert boto3.client("sts").get_caller_identity()["Arn"].endswith(":user/stsmagic-user")
