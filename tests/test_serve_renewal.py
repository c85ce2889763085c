"""Renewal ahead of time (issue 19): the active `auto` session renewed in the background as it
nears its end, with no request in the kernel; MFA sessions never prompted; failures retried and
logged in one line. Time is the ledger's clock, moved by the tests; the sandbox keeps real
time."""

from __future__ import annotations

import getpass
import logging
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from stsmagic import renewal
from stsmagic.broker import Broker
from stsmagic.ledger import SessionLedger
from stsmagic.outlets import live, renew_ahead
from stsmagic.outlets.renew_ahead import AHEAD, RenewalTimer, ahead_from
from tests.helpers.clock import Clock
from tests.helpers.serving import watched_ledger


@pytest.fixture
def ledger(clock: Clock, aws_profile: Path) -> SessionLedger:
    return watched_ledger(clock)


@pytest.fixture
def timer(ledger: SessionLedger) -> RenewalTimer:
    """The process's timer, following ``ledger`` since ``live.watch``."""
    timer = renew_ahead.timer()
    assert timer is not None and timer.ledger is ledger
    return timer


@pytest.fixture
def looks(ledger: SessionLedger) -> Iterator[RenewalTimer]:
    """A timer without its thread: only the test's ``check()`` renews, at the clock it set."""
    renew_ahead.stop()
    timer = RenewalTimer(ledger, background=False)
    yield timer
    timer.stop()


@pytest.fixture
def no_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> str:
        raise AssertionError("asked for an MFA code from the timer")

    monkeypatch.setattr(getpass, "getpass", never)


def test_the_window_is_fifteen_minutes_or_half_a_short_life(
    sandbox: Any, aws_profile: Path
) -> None:
    broker = Broker()
    hour = broker.get_federation_token(Name="hour", DurationSeconds=3600)
    assert ahead_from(hour) == hour.expiration - AHEAD
    quarter = broker.get_federation_token(Name="quarter", DurationSeconds=900)
    life = quarter.expiration - quarter.issued_at
    assert ahead_from(quarter) == quarter.expiration - life / 2
    assert ahead_from(quarter) > quarter.issued_at  # never due the moment it is issued


def test_an_auto_session_is_renewed_ahead_without_any_request(
    sandbox: Any, ledger: SessionLedger, clock: Clock, looks: RenewalTimer
) -> None:
    session = ledger.add(Broker().get_federation_token(Name="ahead", DurationSeconds=3600))
    events: list[str] = []
    ledger.subscribe(lambda event, s: events.append(event))
    assert looks.due() == session.expiration - AHEAD
    sandbox.reset_requests()
    clock.to(session.expiration - AHEAD - timedelta(seconds=1))
    assert looks.check() is None and sandbox.requests == []
    clock.to(session.expiration - AHEAD)
    renewed = looks.check()
    assert renewed is not None and renewed is ledger.active
    assert renewed.label == session.label and renewed.access_key_id != session.access_key_id
    assert events == ["renewed"]
    # one request: the renewal itself, signed with the profile's own keys
    assert [r.operation for r in sandbox.requests] == ["GetFederationToken"]
    assert sandbox.signers("GetFederationToken") == [sandbox.source_credentials.access_key]
    assert looks.check() is None  # the renewed one is not due yet
    due = looks.due()
    assert due is not None and due > clock()


def test_the_thread_renews_when_the_time_comes(
    sandbox: Any, ledger: SessionLedger, clock: Clock, timer: RenewalTimer
) -> None:
    renewed = threading.Event()
    ledger.subscribe(lambda event, s: renewed.set() if event == "renewed" else None)
    session = ledger.add(Broker().get_federation_token(Name="thread", DurationSeconds=3600))
    assert timer.running  # started by the first session that will be due some day
    assert not renewed.wait(0.3)
    clock.to(ahead_from(session))
    timer.wake()  # the clock jumped; the thread would look within LONGEST_NAP anyway
    assert renewed.wait(30)
    active = ledger.active
    assert active is not None and active.access_key_id != session.access_key_id


def test_mfa_sessions_are_never_prompted_from_the_timer(
    sandbox: Any, ledger: SessionLedger, clock: Clock, looks: RenewalTimer, no_prompt: None
) -> None:
    session = ledger.add(
        Broker().get_session_token(TokenCode=sandbox.mfa_code(), DurationSeconds=900)
    )
    assert session.renewal == "mfa"
    assert looks.due() is None and not looks.running
    sandbox.reset_requests()
    for moment in (ahead_from(session), session.expiration + timedelta(seconds=1)):
        clock.to(moment)
        assert looks.check() is None
    assert sandbox.requests == [] and ledger.active is session


def test_sessions_that_do_not_renew_themselves_are_left_alone(
    sandbox: Any, ledger: SessionLedger, clock: Clock, looks: RenewalTimer
) -> None:
    broker = Broker()
    delegated = ledger.add(
        broker.get_delegated_access_token(TradeInToken=sandbox.mint_trade_in_token())
    )
    assert looks.due() is None
    off = ledger.add(
        renewal.without_renewal(broker.get_federation_token(Name="off", DurationSeconds=900))
    )
    assert looks.due() is None
    auto = ledger.add(broker.get_federation_token(Name="on", DurationSeconds=900))
    assert looks.due() == ahead_from(auto)
    ledger.renewer.enabled = False  # StsMagics.auto_renew = False
    try:
        assert looks.due() is None
        clock.to(auto.expiration)
        assert looks.check() is None
    finally:
        ledger.renewer.enabled = True
    ledger.deactivate()
    assert looks.due() is None
    assert {delegated.label, off.label, auto.label} <= set(ledger.labels)


def test_a_failure_is_logged_once_and_retried_after_a_while(
    sandbox: Any,
    ledger: SessionLedger,
    clock: Clock,
    looks: RenewalTimer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = ledger.add(Broker().get_federation_token(Name="flaky", DurationSeconds=3600))
    caplog.set_level(logging.WARNING, logger="stsmagic")
    sandbox.fail_next("GetFederationToken", status=403, code="AccessDenied", message="not now")
    clock.to(ahead_from(session))
    sandbox.reset_requests()
    assert looks.check() is None
    assert ledger.active is session
    (record,) = caplog.records
    line = record.getMessage()
    assert "\n" not in line and repr(session.label)[1:-1] in line and "AccessDenied" in line
    assert f"trying again in {int(renewal.RETRY_AFTER.total_seconds())} s" in line
    for secret in sandbox.issued_secrets():
        assert secret not in line
    # not hammered: nothing is sent again before RETRY_AFTER
    assert looks.due() == ahead_from(session) + renewal.RETRY_AFTER
    clock.to(ahead_from(session) + renewal.RETRY_AFTER - timedelta(seconds=1))
    assert looks.check() is None and len(sandbox.requests) == 1
    clock.to(ahead_from(session) + renewal.RETRY_AFTER)
    renewed = looks.check()
    assert renewed is not None and ledger.active is renewed
    assert len(sandbox.requests) == 2 and len(caplog.records) == 1


def test_a_renewal_that_arrives_inside_its_window_does_not_loop(
    sandbox: Any, ledger: SessionLedger, clock: Clock, looks: RenewalTimer
) -> None:
    """The ledger's clock ahead of the endpoint's (a demo moved it): every session arrives
    already due. One renewal, then none before RETRY_AFTER."""
    session = ledger.add(Broker().get_federation_token(Name="ahead", DurationSeconds=900))
    clock.to(session.expiration)  # 15 minutes ahead of the sandbox's clock
    sandbox.reset_requests()
    assert looks.check() is not None
    for _ in range(3):
        assert looks.check() is None
    assert len(sandbox.requests) == 1


def test_load_ext_starts_it_and_unload_ext_stops_it(sandbox: Any, ip: Any) -> None:
    import stsmagic

    timer = renew_ahead.timer()
    assert timer is not None and timer.ledger is stsmagic.sessions
    ip.run_line_magic("sts_federation", "--name started --duration-seconds 900")
    assert timer.running
    ip.run_line_magic("unload_ext", "stsmagic")
    try:
        assert renew_ahead.timer() is None and not timer.running
    finally:
        ip.run_line_magic("load_ext", "stsmagic")


def test_a_forked_child_starts_no_timer(
    sandbox: Any, ledger: SessionLedger, timer: RenewalTimer
) -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its copy of the ledger must not issue requests of its own
        try:
            ledger.add(Broker().get_federation_token(Name="forked", DurationSeconds=900))
            ok = renew_ahead.timer() is None and not timer.running
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    os.close(read)


def test_uninstall_stops_the_thread(
    sandbox: Any, ledger: SessionLedger, timer: RenewalTimer
) -> None:
    ledger.add(Broker().get_federation_token(Name="stop", DurationSeconds=3600))
    assert timer.running
    live.uninstall()
    assert not timer.running and renew_ahead.timer() is None
    assert "stopped" in repr(timer)


def test_a_second_ledger_is_wired_by_one_more_record(sandbox: Any, aws_profile: Path) -> None:
    """What a Jupyter server does: no live.watch, its own ledger served and renewed ahead."""
    from stsmagic.outlets import serve, wiring

    live.uninstall()
    own = SessionLedger()
    with serve.serve_credentials(own) as server:
        record = wiring.current()
        assert record is not None and record.ledger is own and record.serving() is server
        assert record.renewer is own.renewer and record.unhook_botocore is None
        timer = renew_ahead.timer()
        assert timer is not None and timer.ledger is own
    live.uninstall()
    assert wiring.current() is None and not timer.running
