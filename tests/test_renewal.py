"""Sessions renew themselves (issue 13, item 1-2): over HTTP against the sandbox.

Time is the ledger's clock, moved by the tests; the sandbox keeps real time, so every session
is still valid there and the only thing that decides is the renewer.
"""

from __future__ import annotations

import dataclasses
import getpass
import logging
import os
import pickle
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from IPython.core.error import StdinNotImplementedError

import stsmagic
from stsmagic import renewal
from stsmagic.broker import Broker
from stsmagic.errors import SessionExpired, StsMagicError
from stsmagic.ledger import SessionLedger
from stsmagic.outlets import environ, live, remember
from stsmagic.session import IssuedSession
from tests.helpers.aws_clients import signed_with
from tests.helpers.clock import Clock


@pytest.fixture
def ledger(ledger: SessionLedger, aws_profile: Path) -> SessionLedger:
    """conftest's ledger on the test's clock, with boto3's live credentials following it."""
    live.install(ledger)
    return ledger


@pytest.fixture
def kernel_clock(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The kernel's ledger (``stsmagic.sessions``, where the magics put sessions) on the test's
    clock."""
    monkeypatch.setattr(stsmagic.sessions, "clock", clock)
    return clock


@pytest.fixture
def events(ledger: SessionLedger) -> list[tuple[str, str | None]]:
    seen: list[tuple[str, str | None]] = []
    ledger.subscribe(lambda event, s: seen.append((event, s.label if s else None)))
    return seen


def count(sandbox: Any, operation: str) -> int:
    return len(sandbox.signers(operation))


# --- the recipe ------------------------------------------------------------------------------


def test_recipe_is_no_field_and_holds_no_secret(sandbox: Any, aws_profile: Path) -> None:
    session = Broker().get_federation_token(Name="recipe", DurationSeconds=900)
    recipe = session.recipe
    assert recipe is not None and recipe.renewal == "auto" and session.renewal == "auto"
    assert recipe.operation == "GetFederationToken"
    assert "recipe" not in dataclasses.asdict(session)
    assert "recipe" not in {f.name for f in dataclasses.fields(session)}
    assert "Recipe" not in repr(session) and "Recipe" not in str(session)
    assert session.with_label("kept").recipe is recipe  # replace keeps it
    with pytest.raises(TypeError):
        pickle.dumps(session)
    with pytest.raises(TypeError):
        pickle.dumps(recipe)
    assert repr(recipe) == "Recipe(operation='GetFederationToken', renewal='auto')"
    for secret in sandbox.issued_secrets():
        assert secret not in repr(recipe)


def test_renewal_kinds(sandbox: Any, aws_profile: Path) -> None:
    broker = Broker()
    mfa = broker.get_session_token(TokenCode=sandbox.mfa_code(), DurationSeconds=900)
    assert mfa.renewal == "mfa" and mfa.recipe.serial_number == sandbox.mfa_serial  # type: ignore[union-attr]
    assert broker.get_session_token(DurationSeconds=900).renewal == "auto"
    assert broker.assume_role(RoleArn=sandbox.role_arn("plain")).renewal == "auto"
    role_mfa = broker.assume_role(
        RoleArn=sandbox.role_arn("mfa"),
        SerialNumber=sandbox.mfa_serial,
        TokenCode=sandbox.mfa_code(),
    )
    assert role_mfa.renewal == "mfa"
    delegated = broker.get_delegated_access_token(TradeInToken=sandbox.mint_trade_in_token())
    assert delegated.renewal == "none"
    # signed by bare credentials: nothing to sign it again with
    bare = broker.assume_role(
        RoleArn=sandbox.role_arn("plain"), signed_by=broker.source_credentials()
    )
    assert bare.renewal == "none"
    # an SSO token given by hand, for a profile with no SSO settings: no cache to re-read
    sso = broker.get_role_credentials(
        accountId=sandbox.sso_account_id,
        roleName=sandbox.sso_role_name,
        accessToken=sandbox.sso_access_token(),
    )
    assert sso.renewal == "none"


def test_outside_the_window_nothing_renews(
    sandbox: Any, ledger: SessionLedger, clock: Clock
) -> None:
    session = ledger.add(Broker().get_federation_token(Name="calm", DurationSeconds=3600))
    client = boto3.client("sts")
    clock.to(session.expiration - timedelta(minutes=10, seconds=1))
    sent = count(sandbox, "GetFederationToken")
    assert signed_with(sandbox, client) == session.access_key_id
    assert count(sandbox, "GetFederationToken") == sent and ledger.active is session
    # the window: the last 10 minutes of a session of 20 minutes or more
    assert session.renew_from == session.expiration - timedelta(minutes=10)


# --- per kind ---------------------------------------------------------------------------------


def test_federation_renews_in_its_window(
    sandbox: Any, ledger: SessionLedger, clock: Clock, events: list[Any]
) -> None:
    client = boto3.client("sts")
    old = ledger.add(Broker().get_federation_token(Name="fed", DurationSeconds=900), True)
    label = old.label
    assert signed_with(sandbox, client) == old.access_key_id
    # 15 minutes: the window is its last half
    half = (old.expiration - old.issued_at) / 2
    assert old.renew_from == old.expiration - half and abs(half.total_seconds() - 450) < 1
    clock.to(old.renew_from - timedelta(seconds=1))
    assert signed_with(sandbox, client) == old.access_key_id  # not yet
    clock.to(old.renew_from)
    sandbox.reset_requests()
    key = signed_with(sandbox, client)
    new = ledger.active
    assert new is not None and new is not old and new.label == label
    assert key == new.access_key_id != old.access_key_id
    assert sandbox.signers("GetFederationToken") == [sandbox.source_credentials.access_key]
    assert ledger.get(label) is new and ledger.labels == (label,)  # type: ignore[arg-type]
    assert new.principal == old.principal and new.recipe is old.recipe
    assert new.expiration - new.issued_at <= timedelta(seconds=901)  # the same parameters
    assert events[-1] == ("renewed", label)
    frame = ledger.to_frame()
    assert frame.loc[0, "renewal"] == "auto"
    assert frame.loc[0, "renewed_at"].to_pydatetime() == clock.now
    assert ledger.renewed_at(label) == clock.now  # type: ignore[arg-type]


def test_expired_role_without_mfa_renews(sandbox: Any, ledger: SessionLedger, clock: Clock) -> None:
    client = boto3.client("sts")
    old = ledger.add(
        Broker().assume_role(RoleArn=sandbox.role_arn("plain"), DurationSeconds=900, label="r")
    )
    clock.to(old.expiration + timedelta(seconds=1))
    sandbox.reset_requests()
    key = signed_with(sandbox, client)
    new = ledger.get("r")
    assert key == new.access_key_id != old.access_key_id
    assert sandbox.signers("AssumeRole") == [sandbox.source_credentials.access_key]
    assert new.principal == old.principal


SSO_CONFIG = """
[profile portal]
sso_session = work
sso_account_id = {account}
sso_role_name = {role}
region = us-east-1
endpoint_url = {endpoint}

[sso-session work]
sso_start_url = {start_url}
sso_region = {region}
"""


def test_sso_renews_with_the_token_from_the_cache(
    sandbox: Any, ledger: SessionLedger, clock: Clock, aws_profile: Path, sso_logged_in: Path
) -> None:
    from stsmagic.sso.cache import find_token

    with aws_profile.open("a") as config:
        config.write(
            SSO_CONFIG.format(
                account=sandbox.sso_account_id,
                role=sandbox.sso_role_name,
                endpoint=sandbox.endpoint_url,
                start_url=sandbox.sso_start_url,
                region=sandbox.sso_region,
            )
        )
    broker = Broker(profile="portal")
    old = ledger.add(
        broker.get_role_credentials(
            accountId=sandbox.sso_account_id,
            roleName=sandbox.sso_role_name,
            accessToken=find_token("portal"),
            label="sso",
        )
    )
    assert old.renewal == "auto"
    client = boto3.client("sts")
    clock.to(old.renew_from)
    sandbox.reset_requests()
    key = signed_with(sandbox, client)
    new = ledger.get("sso")
    assert key == new.access_key_id != old.access_key_id
    assert len(sandbox.signers("GetRoleCredentials")) == 1  # unsigned: a bearer token


PROFILE_CONFIG = """
[profile analyst]
role_arn = {plain}
source_profile = default
role_session_name = analyst
region = us-east-1
endpoint_url = {endpoint}
"""


def test_sts_profile_role_renews(
    sandbox: Any, ip: Any, aws_profile: Path, kernel_clock: Clock
) -> None:
    with aws_profile.open("a") as config:
        config.write(
            PROFILE_CONFIG.format(plain=sandbox.role_arn("plain"), endpoint=sandbox.endpoint_url)
        )
    old = ip.run_line_magic("sts_profile", "analyst --duration-seconds 900")
    assert old.renewal == "auto" and old.recipe.operation == "AssumeRole"
    client = boto3.client("sts")
    kernel_clock.to(old.expiration)
    sandbox.reset_requests()
    key = signed_with(sandbox, client)
    new = stsmagic.sessions.get("analyst")
    assert key == new.access_key_id != old.access_key_id
    assert sandbox.signers("AssumeRole") == [sandbox.source_credentials.access_key]
    assert new.principal == old.principal and new.principal.endswith("/analyst")
    assert new.expiration - new.issued_at <= timedelta(seconds=901)  # the same duration


def test_chained_role_is_signed_again_by_its_signer(
    sandbox: Any, ledger: SessionLedger, clock: Clock
) -> None:
    broker = Broker()
    first = ledger.add(broker.assume_role(RoleArn=sandbox.role_arn("plain"), label="first"))
    chained = ledger.add(
        broker.assume_role(
            RoleArn=sandbox.role_arn("plain"), DurationSeconds=900, label="chained", signed_by=first
        )
    )
    assert chained.renewal == "auto" and chained.recipe.signer == "first"  # type: ignore[union-attr]
    clock.to(chained.expiration)
    sandbox.reset_requests()
    assert signed_with(sandbox, boto3.client("sts")) == ledger.get("chained").access_key_id
    assert sandbox.signers("AssumeRole") == [first.access_key_id]
    # its signer forgotten: not made again, and the request says why
    ledger.forget("first")
    clock.to(ledger.get("chained").expiration)
    with pytest.raises(SessionExpired, match="the session that signed it, 'first', was forgotten"):
        boto3.client("sts").get_caller_identity()


# --- threads, failures, switches ----------------------------------------------------------


def test_eight_threads_one_renewal(sandbox: Any, ledger: SessionLedger, clock: Clock) -> None:
    old = ledger.add(Broker().get_federation_token(Name="crowd", DurationSeconds=900))
    clients = [boto3.client("sts") for _ in range(8)]
    clock.to(old.expiration - timedelta(seconds=60))
    sandbox.reset_requests()
    barrier = threading.Barrier(8)
    keys: list[str] = []
    errors: list[BaseException] = []

    def work(client: Any) -> None:
        try:
            barrier.wait()
            client.get_caller_identity()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    keys = sandbox.signers("GetCallerIdentity")
    new = ledger.active
    assert new is not None and new is not old
    assert len(sandbox.signers("GetFederationToken")) == 1
    assert keys == [new.access_key_id] * 8


def test_failed_renewal_in_window_signs_with_the_old_one(
    sandbox: Any, ledger: SessionLedger, clock: Clock, events: list[Any], caplog: Any
) -> None:
    old = ledger.add(Broker().get_federation_token(Name="flaky", DurationSeconds=900))
    client = boto3.client("sts")
    clock.to(old.renew_from)
    del events[:]
    sandbox.fail_next("GetFederationToken", status=403, code="AccessDenied", message="no")
    with caplog.at_level(logging.WARNING, logger="stsmagic"):
        assert signed_with(sandbox, client) == old.access_key_id
    lines = [r.getMessage() for r in caplog.records if r.name == "stsmagic.renewal"]
    assert len(lines) == 1 and "AccessDenied" in lines[0] and "\n" not in lines[0]
    assert ledger.active is old and ledger.sessions == (old,) and events == []
    # not hammered: the next request in the next minute does not try again
    sent = count(sandbox, "GetFederationToken")
    assert signed_with(sandbox, client) == old.access_key_id
    assert count(sandbox, "GetFederationToken") == sent


def test_a_forgotten_label_leaves_no_lock_nor_failure_behind(
    sandbox: Any, ledger: SessionLedger, clock: Clock
) -> None:
    old = ledger.add(Broker().get_federation_token(Name="brief", DurationSeconds=900))
    clock.to(old.renew_from)
    sandbox.fail_next("GetFederationToken", status=403, code="AccessDenied", message="no")
    assert renewal.renew_due(ledger, old, clock()) == old.credentials  # failed: remembered
    assert ledger.renewer.labels == {old.label}
    ledger.forget(str(old.label))
    assert ledger.renewer.labels == frozenset()


def test_failed_renewal_of_an_expired_session_raises_and_changes_nothing(
    sandbox: Any, ledger: SessionLedger, clock: Clock, events: list[Any]
) -> None:
    old = ledger.add(Broker().get_federation_token(Name="gone", DurationSeconds=900))
    client = boto3.client("sts")
    clock.to(old.expiration)
    del events[:]
    sent = count(sandbox, "GetCallerIdentity")
    sandbox.fail_next("GetFederationToken", status=403, code="AccessDenied", message="denied")
    with pytest.raises(SessionExpired) as caught:
        client.get_caller_identity()
    message = str(caught.value)
    assert "\n" not in message and "AccessDenied" in message and "not renewed" in message
    assert count(sandbox, "GetCallerIdentity") == sent  # nothing signed with the old one
    assert ledger.active is old and ledger.sessions == (old,) and events == []
    assert ledger.renewed_at(old.label) is None  # type: ignore[arg-type]


def test_no_renew_and_auto_renew_off(sandbox: Any, ip: Any, kernel_clock: Clock) -> None:
    kept = ip.run_line_magic("sts_federation", "--name still --duration-seconds 900 --no-renew")
    assert kept.recipe.auto_renew is False and kept.renewal == "auto"
    kernel_clock.to(kept.expiration)
    with pytest.raises(SessionExpired):
        boto3.client("sts").get_caller_identity()
    ip.run_line_magic("sts_forget", "--all")
    ip.run_line_magic("config", "StsMagics.auto_renew = False")
    try:
        kernel_clock.to(datetime.now(timezone.utc))
        off = ip.run_line_magic("sts_federation", "--name off --duration-seconds 900")
        kernel_clock.to(off.expiration)
        with pytest.raises(SessionExpired):
            boto3.client("sts").get_caller_identity()
        assert stsmagic.sessions.active is off
    finally:
        ip.run_line_magic("config", "StsMagics.auto_renew = True")
    assert stsmagic.sessions.renewer.enabled is True


def test_env_export_and_remember_follow_a_renewal(
    sandbox: Any, ledger: SessionLedger, clock: Clock, tmp_path: Path
) -> None:
    environ.export_environ(True, ledger)
    keeping = remember.Remembering(ledger, tmp_path / "sessions.json")
    keeping.start()
    try:
        old = ledger.add(Broker().get_federation_token(Name="env", DurationSeconds=900))
        assert os.environ["AWS_ACCESS_KEY_ID"] == old.access_key_id
        clock.to(old.renew_from)
        key = signed_with(sandbox, boto3.client("sts"))
        assert key != old.access_key_id
        assert os.environ["AWS_ACCESS_KEY_ID"] == key
        assert os.environ["AWS_SECRET_ACCESS_KEY"] == ledger.active.credentials.secret_key  # type: ignore[union-attr]
        stored, active = remember.load(tmp_path / "sessions.json", clock.now)
        assert [s.access_key_id for s in stored] == [key] and active == old.label
    finally:
        keeping.stop()
        environ.export_environ(False)


# --- MFA: asking again -------------------------------------------------------------------------


@pytest.fixture
def mfa_session(sandbox: Any, ledger: SessionLedger) -> IssuedSession:
    return ledger.add(
        Broker().get_session_token(TokenCode=sandbox.mfa_code(), DurationSeconds=900, label="mfa")
    )


class Typing:
    """getpass, answered by the test: every prompt it showed, and ``answer()`` typed at each."""

    def __init__(self, answer: Callable[[], str]) -> None:
        self.prompts: list[str] = []
        self.answer = answer

    def __call__(self, prompt: str = "", stream: Any = None) -> str:
        self.prompts.append(prompt)
        return self.answer()


@pytest.fixture
def typed(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Typing:
    """getpass replaced: the right MFA code is typed, unless the test sets another ``answer``."""
    typing = Typing(sandbox.mfa_code)
    monkeypatch.setattr(getpass, "getpass", typing)
    return typing


def test_mfa_session_asks_again_and_the_call_goes_on(
    sandbox: Any,
    ledger: SessionLedger,
    clock: Clock,
    mfa_session: IssuedSession,
    typed: Typing,
) -> None:
    clock.to(mfa_session.expiration)
    sandbox.reset_requests()
    key = signed_with(sandbox, boto3.client("sts"))
    assert typed.prompts == [f"MFA code for {sandbox.mfa_serial} to renew mfa: "]
    new = ledger.get("mfa")
    assert key == new.access_key_id != mfa_session.access_key_id
    assert sandbox.signers("GetSessionToken") == [sandbox.source_credentials.access_key]
    assert new.renewal == "mfa"


def test_wrong_or_no_code_is_one_line_and_changes_nothing(
    sandbox: Any,
    ledger: SessionLedger,
    clock: Clock,
    mfa_session: IssuedSession,
    typed: Typing,
    caplog: Any,
) -> None:
    typed.answer = lambda: "000000"
    client = boto3.client("sts")
    # in the window: asked once, the old one signs, one line; not asked again in this window
    clock.to(mfa_session.renew_from)
    with caplog.at_level(logging.WARNING, logger="stsmagic"):
        assert signed_with(sandbox, client) == mfa_session.access_key_id
        assert signed_with(sandbox, client) == mfa_session.access_key_id
    assert len(typed.prompts) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "stsmagic.renewal"]
    assert len(lines) == 1 and "AccessDenied" in lines[0]
    assert ledger.sessions == (mfa_session,)
    # expired: asked again, once; a wrong code is the request's one-line SessionExpired
    clock.to(mfa_session.expiration)
    with pytest.raises(SessionExpired) as caught:
        client.get_caller_identity()
    assert len(typed.prompts) == 2 and "AccessDenied" in str(caught.value)
    # nothing typed: one line, nothing changed
    typed.answer = lambda: ""
    with pytest.raises(SessionExpired, match="no MFA code was typed"):
        client.get_caller_identity()
    assert ledger.sessions == (mfa_session,) and ledger.active is mfa_session


def test_no_stdin_or_another_thread_is_session_expired(
    sandbox: Any,
    ledger: SessionLedger,
    clock: Clock,
    mfa_session: IssuedSession,
    typed: Typing,
) -> None:
    def no_stdin() -> str:
        raise StdinNotImplementedError("no stdin")

    typed.answer = no_stdin
    client = boto3.client("sts")
    clock.to(mfa_session.expiration)
    with pytest.raises(SessionExpired) as caught:
        client.get_caller_identity()
    message = str(caught.value)
    assert "no stdin" in message and "%sts_session" in message and "Renew" in message
    # another thread: never asked
    typed.prompts.clear()
    typed.answer = sandbox.mfa_code
    raised: list[BaseException] = []

    def other() -> None:
        try:
            client.get_caller_identity()
        except SessionExpired as e:
            raised.append(e)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert typed.prompts == [] and len(raised) == 1 and "main thread" in str(raised[0])
    # in the window, another thread signs with the still-valid one, asking nothing
    clock.to(mfa_session.renew_from)
    thread = threading.Thread(target=client.get_caller_identity)
    thread.start()
    thread.join()
    assert (
        typed.prompts == []
        and sandbox.signers("GetCallerIdentity")[-1] == mfa_session.access_key_id
    )
    assert ledger.sessions == (mfa_session,)


def test_renew_by_hand_and_single_use(sandbox: Any, ledger: SessionLedger) -> None:
    old = ledger.add(
        Broker().assume_role(
            RoleArn=sandbox.role_arn("mfa"),
            SerialNumber=sandbox.mfa_serial,
            TokenCode=sandbox.mfa_code(),
            label="guarded",
        )
    )
    new = renewal.renew(ledger, "guarded", TokenCode=sandbox.mfa_code())
    assert ledger.get("guarded") is new and new.access_key_id != old.access_key_id
    ledger.add(
        Broker().get_delegated_access_token(TradeInToken=sandbox.mint_trade_in_token(), label="d")
    )
    with pytest.raises(StsMagicError, match="single use"):
        renewal.renew(ledger, "d")
    for secret in sandbox.issued_secrets():
        assert secret not in repr(new.recipe)


# --- the panel's Renew ---------------------------------------------------------------------------


def test_panel_renew_auto_at_once_and_mfa_through_the_inline_form(
    sandbox: Any, ledger: SessionLedger, clock: Clock
) -> None:
    from stsmagic.widgets.panel import SessionPanel, format_utc

    fed = ledger.add(Broker().get_federation_token(Name="panel", label="fed"), activate=False)
    mfa = ledger.add(
        Broker().get_session_token(TokenCode=sandbox.mfa_code(), label="mfa"), activate=True
    )
    delegated = ledger.add(
        Broker().get_delegated_access_token(TradeInToken=sandbox.mint_trade_in_token(), label="d"),
        activate=False,
    )
    panel = SessionPanel(ledger, interval=None)
    try:
        assert [v.cells[-2].value for v in panel.rows.values()] == ["mfa", "none", "auto"]
        assert panel.rows["d"].buttons["Renew"].disabled
        assert not panel.rows["fed"].buttons["Renew"].disabled
        panel.rows["fed"].buttons["Renew"].click()
        new = ledger.get("fed")
        assert new.access_key_id != fed.access_key_id and ledger.active is mfa  # not activated
        assert panel.message.value == f"Renewed fed ({new.masked_access_key})"
        panel.details.value = True
        assert "last renewed" in panel.rows["fed"].details.value
        assert "never" not in panel.rows["fed"].details.value
        assert "never" in panel.rows["mfa"].details.value
        # MFA: the form, inline, whose button renews with the code typed
        panel.rows["mfa"].buttons["Renew"].click()
        form = panel.form
        assert form is not None and list(panel.form_box.children) == [form]
        assert form.submit.description == "Renew" and form.serial_number.value == sandbox.mfa_serial
        # a wrong code: the form stays, saying why
        form.token_code.value = "000000" if sandbox.mfa_code() != "000000" else "111111"
        assert "AccessDenied" in str(form.error) and ledger.get("mfa") is mfa
        assert panel.form is form and "AccessDenied" in form.status.value
        # the right one (its sixth digit sends it): the form has done its job and goes; the
        # message line says what it did
        form.token_code.value = sandbox.mfa_code()
        renewed = ledger.get("mfa")
        assert form.error is None and renewed.access_key_id != mfa.access_key_id
        assert ledger.active is renewed
        assert panel.form is None and list(panel.form_box.children) == []
        assert panel.message.value.startswith(f"Renewed mfa ({renewed.masked_access_key}) until ")
        assert format_utc(renewed.expiration) in panel.message.value
        assert ledger.get("d") is delegated
    finally:
        panel.close()


# --- a real kernel asks through the frontend ------------------------------------------------------

KERNEL_SETUP = """
import datetime as dt
import boto3, stsmagic
from stsmagic.outlets import environ, live
from stsmagic.broker import Broker
live.watch()
first = stsmagic.sessions.add(
    Broker().get_session_token(TokenCode={code!r}, DurationSeconds=900, label="mfa")
)
def later(hours):
    stsmagic.sessions.clock = lambda: dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)
"""

KERNEL_CALL = """
later({hours})
arn = boto3.client("sts").get_caller_identity()["Arn"]
print("renewed", stsmagic.sessions.get("mfa").access_key_id != first.access_key_id)
"""


def run_cell(kc: Any, code: str, *, allow_stdin: bool, answer: str | None = None) -> dict[str, Any]:
    """Execute ``code``; answer one input request with ``answer``; what the cell printed,
    its error, and the prompts it sent."""
    import queue

    msg_id = kc.execute(code, allow_stdin=allow_stdin)
    out: dict[str, Any] = {"stdout": "", "error": None, "prompts": []}
    while True:
        if allow_stdin:
            try:
                request = kc.get_stdin_msg(timeout=0.05)
            except queue.Empty:
                pass
            else:
                out["prompts"].append(
                    (request["content"]["prompt"], request["content"]["password"])
                )
                kc.input(answer)
        try:
            msg = kc.get_iopub_msg(timeout=0.05)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content["name"] == "stdout":
            out["stdout"] += content["text"]
        elif kind == "error":
            out["error"] = f"{content['ename']}: {content['evalue']}"
        elif kind == "status" and content["execution_state"] == "idle":
            return out


def test_a_kernel_asks_for_the_code_and_the_cell_finishes(sandbox: Any, aws_profile: Path) -> None:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env=dict(os.environ))
    try:
        setup = run_cell(kc, KERNEL_SETUP.format(code=sandbox.mfa_code()), allow_stdin=False)
        assert setup["error"] is None, setup
        asked = run_cell(
            kc, KERNEL_CALL.format(hours=1), allow_stdin=True, answer=sandbox.mfa_code()
        )
        assert asked["error"] is None, asked
        assert asked["prompts"] == [(f"MFA code for {sandbox.mfa_serial} to renew mfa: ", True)]
        confirmed, last = asked["stdout"].splitlines()
        assert (
            confirmed.startswith("Renewed mfa (ASIA…")
            and " with the code typed; valid" in confirmed
        )
        assert last == "renewed True"
        # nbval, papermill: no stdin; the cell fails with one line naming the way out
        silent = run_cell(kc, KERNEL_CALL.format(hours=3), allow_stdin=False)
        assert silent["prompts"] == [] and silent["stdout"] == ""
        assert silent["error"].startswith("SessionExpired: session 'mfa' expired")
        assert "no stdin" in silent["error"] and "the panel's Renew" in silent["error"]
        for secret in sandbox.issued_secrets():
            assert secret not in str(asked) + str(silent)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.parametrize("path", ["renew", "ahead", "due"])
def test_a_renewal_never_replaces_a_session_issued_again_meanwhile(
    sandbox: Any, aws_profile: Path, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    """Forgotten and issued again under the same label while its renewal was in flight: the
    new (narrower) session stays, and the renewal of the old recipe is dropped, said once."""
    from stsmagic.errors import Superseded
    from stsmagic.session import Recipe

    ledger = SessionLedger()
    broker = Broker()
    wide = broker.get_federation_token(Name="wide", label="data", DurationSeconds=3600)
    recipe = wide.recipe
    assert recipe is not None
    narrow: list[IssuedSession] = []

    def racing(**kwargs: Any) -> IssuedSession:
        renewed = recipe.issue(**kwargs)  # the old recipe's renewal, made first
        ledger.forget("data")  # meanwhile, in another cell: forgotten, issued again
        narrow.append(
            ledger.add(broker.get_federation_token(Name="narrow", label="data", Policy=POLICY))
        )
        return renewed

    session = ledger.add(wide.with_recipe(Recipe("GetFederationToken", racing)))
    caplog.set_level(logging.WARNING, logger="stsmagic")
    now = session.renew_from + timedelta(seconds=1)
    if path == "renew":
        with pytest.raises(Superseded, match="forgotten and issued again"):
            renewal.renew(ledger, "data", now=now)
    elif path == "ahead":
        assert renewal.renew_ahead(ledger, session, now) is narrow[0]
    else:
        assert renewal.renew_due(ledger, session, now).access_key == narrow[0].access_key_id
    assert ledger.get("data") is narrow[0] and ledger.active is narrow[0]
    assert ledger.renewed_at("data") is None
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "renewal of the old session was dropped" in said[0]


POLICY = (
    '{"Version": "2012-10-17", "Statement": '
    '[{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}'
)
