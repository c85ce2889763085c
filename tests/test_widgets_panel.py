"""SessionPanel, driven headless against sessions the sandbox issued; time is moved, not slept."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("pandas")

from stsmagic.broker import Broker
from stsmagic.ledger import SessionLedger
from stsmagic.session import IssuedSession
from stsmagic.widgets.panel import SessionPanel


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def move(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def broker(sandbox: Any, aws_profile: Path) -> Broker:
    return Broker(endpoint_url=sandbox.endpoint_url)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(clock: Clock) -> SessionLedger:
    return SessionLedger(clock=clock)


@pytest.fixture
def panel(ledger: SessionLedger) -> Iterator[SessionPanel]:
    panel = SessionPanel(ledger, interval=None)
    yield panel
    panel.close()


def issue(broker: Broker, name: str, seconds: int = 3600) -> IssuedSession:
    return broker.get_federation_token(Name=name, DurationSeconds=seconds)


def rows(panel: SessionPanel) -> dict[str, tuple[str, list[str]]]:
    """label -> (the row's class, its cells' text), from the rendered table."""
    found = {}
    for css, body in re.findall(r'<tr class="([^"]*)">(.*?)</tr>', panel.table.value, re.S):
        cells = re.findall(r"<td>(.*?)</td>", body, re.S)
        found[cells[0]] = (css, cells)
    return found


def remaining_text(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def test_the_table_shows_every_session_with_the_active_one_marked(
    broker: Broker, ledger: SessionLedger, clock: Clock, panel: SessionPanel
) -> None:
    a = ledger.add(issue(broker, "panel-a"))
    b = ledger.add(issue(broker, "panel-b"), activate=False)
    shown = rows(panel)
    assert list(shown) == [a.label, b.label]  # active first, then newest first
    css, cells = shown[a.label]
    assert "stsmagic-active" in css and "stsmagic-warn" not in css
    assert cells[1] == "federation"
    assert cells[3] == a.masked_access_key
    assert cells[5] == a.expiration.strftime("%Y-%m-%d %H:%M:%S")
    assert cells[6] == remaining_text(a.expiration - clock.now)
    assert cells[7] == "● active"
    assert shown[b.label][0] == "" and shown[b.label][1][7] == "standby"
    assert a.principal is not None and a.principal in shown[a.label][1][2]
    assert panel._repr_html_() == panel.table.value
    assert panel.choice.options == (a.label, b.label)


def test_the_countdown_warns_within_ten_minutes_then_marks_expired(
    broker: Broker, ledger: SessionLedger, clock: Clock, panel: SessionPanel
) -> None:
    session = ledger.add(issue(broker, "panel-clock", seconds=900))
    clock.now = session.expiration - timedelta(minutes=10, seconds=1)
    panel.refresh()
    css, cells = rows(panel)[session.label]
    assert "stsmagic-warn" not in css and cells[6] == "0:10:01"
    assert "expiring soon" not in panel.table.value

    clock.move(seconds=62)
    panel.refresh()
    css, cells = rows(panel)[session.label]
    assert css == "stsmagic-active stsmagic-warn"
    assert cells[6] == "0:08:59"
    assert f"expiring soon: {session.label} in 0:08:59" in panel.table.value

    clock.now = session.expiration + timedelta(seconds=1)
    panel.refresh()
    css, cells = rows(panel)[session.label]
    assert css == "stsmagic-active stsmagic-expired"
    assert cells[6] == "0:00:00" and cells[7] == "● ✕ expired"
    assert "expiring soon" not in panel.table.value


def test_every_ledger_change_re_renders_at_once(
    broker: Broker, ledger: SessionLedger, panel: SessionPanel
) -> None:
    assert "No sessions yet" in panel.table.value
    assert panel.use.disabled and panel.forget.disabled and panel.use_source.disabled
    a = ledger.add(issue(broker, "panel-a"))
    b = ledger.add(issue(broker, "panel-b"))
    assert "stsmagic-active" in rows(panel)[b.label][0]
    assert "stsmagic-active" not in rows(panel)[a.label][0]
    ledger.activate(a.label)
    assert "stsmagic-active" in rows(panel)[a.label][0]
    ledger.forget(b.label)
    assert list(rows(panel)) == [a.label]
    assert panel.choice.options == (a.label,)
    ledger.deactivate()
    assert rows(panel)[a.label][1][7] == "standby"
    assert panel.use_source.disabled


def test_use_forget_and_use_source_act_on_the_ledger(
    broker: Broker, ledger: SessionLedger, panel: SessionPanel
) -> None:
    a = ledger.add(issue(broker, "panel-a"))
    b = ledger.add(issue(broker, "panel-b"))
    assert ledger.active is b
    assert panel.choice.value == a.label  # the first shown stays chosen while it is there

    panel.use.click()
    assert ledger.active is a
    assert panel.choice.value == a.label  # the choice survives the re-render

    panel.use_source.click()
    assert ledger.active is None

    panel.choice.value = b.label
    panel.forget.click()
    assert ledger.labels == (a.label,)
    assert panel.choice.options == (a.label,)
    assert panel.message.value == ""


def test_only_the_rows_needed_are_rendered(
    broker: Broker, ledger: SessionLedger, clock: Clock
) -> None:
    first = ledger.add(issue(broker, "panel-many"))
    for n in range(2, 41):
        ledger.add(first.with_label(f"copy-{n}"), activate=False)
    panel = SessionPanel(ledger, interval=None, max_rows=10)
    try:
        shown = list(rows(panel))
        assert shown == [first.label] + [f"copy-{n}" for n in range(40, 31, -1)]
        assert "10 of 40 sessions shown" in panel.table.value
        assert len(panel.choice.options) == 10
    finally:
        panel.close()


def test_the_timer_counts_down_and_its_thread_ends_on_close(
    broker: Broker, ledger: SessionLedger, clock: Clock
) -> None:
    session = ledger.add(issue(broker, "panel-timer"))
    panel = SessionPanel(ledger, interval=0.02)
    assert panel.timer is not None and panel.timer.is_alive()
    before = rows(panel)[session.label][1][6]
    clock.move(minutes=5)
    deadline = time.monotonic() + 5
    while rows(panel)[session.label][1][6] == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rows(panel)[session.label][1][6] == remaining_text(session.expiration - clock.now)

    panel.close()
    assert not panel.timer.is_alive()
    # Closed: neither the timer nor the ledger re-renders it any more.
    frozen = panel.table.value
    clock.move(minutes=5)
    ledger.add(issue(broker, "panel-after"))
    time.sleep(0.1)
    assert panel.table.value == frozen


def test_no_widget_state_holds_a_secret(
    sandbox: Any, broker: Broker, ledger: SessionLedger, panel: SessionPanel
) -> None:
    from ipywidgets.widgets import widget

    session = ledger.add(issue(broker, "panel-secret"))
    ledger.add(broker.get_session_token(TokenCode=sandbox.mfa_code()))
    instances = getattr(widget, "_instances", None) or widget.Widget.widgets
    states = json.dumps(
        [w.get_state() for w in list(instances.values())], default=str, ensure_ascii=False
    )
    assert session.masked_access_key in states  # the scan sees the panel's state
    secrets = sandbox.issued_secrets()
    assert session.credentials.secret_key in secrets
    for secret in secrets:
        assert secret not in states
    assert session.access_key_id not in states


def test_use_refuses_an_expired_session_and_keeps_the_active_one(
    broker: Broker, ledger: SessionLedger, clock: Clock, panel: SessionPanel
) -> None:
    old = ledger.add(issue(broker, "panel-old", seconds=900))
    new = ledger.add(issue(broker, "panel-new", seconds=3600))
    clock.now = old.expiration + timedelta(seconds=1)
    panel.refresh()
    panel.choice.value = old.label
    panel.use.click()
    assert ledger.active is new
    assert "expired" in panel.message.value and old.label in panel.message.value
    panel.choice.value = new.label
    panel.use.click()
    assert panel.message.value == ""
