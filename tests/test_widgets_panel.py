"""SessionPanel, driven headless against sessions the sandbox issued; time is moved, not slept."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("pandas")

from stsmagic.broker import Broker
from stsmagic.ledger import SessionLedger
from stsmagic.session import IssuedSession
from stsmagic.widgets.panel import COLUMNS, MONTHS, ROW_ACTIONS, Column, RowAction, SessionPanel
from tests.helpers.clock import Clock
from tests.helpers.widgets import live_widgets, widget_states


@pytest.fixture
def panels(ledger: SessionLedger) -> Iterator[Callable[..., SessionPanel]]:
    """Makes panels of ``ledger`` (keywords as SessionPanel's); each is closed after the test."""
    made: list[SessionPanel] = []

    def make(**options: Any) -> SessionPanel:
        made.append(SessionPanel(ledger, **options))
        return made[-1]

    yield make
    for panel in made:
        panel.close()


@pytest.fixture
def panel(panels: Callable[..., SessionPanel]) -> SessionPanel:
    return panels(interval=None)


def issue(broker: Broker, name: str, seconds: int = 3600) -> IssuedSession:
    return broker.get_federation_token(Name=name, DurationSeconds=seconds)


HEADERS = ["label", "kind", "status", "time left", "expires", "renewal", "calls"]


def text(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", fragment)).strip()


def bar(fragment: str) -> float:
    """The fraction of the time-left bar that is filled, from its width."""
    (width,) = re.findall(r'class="stsmagic-fill" style="width: ([\d.]+)%"', fragment)
    return float(width) / 100


def static_table(panel: SessionPanel) -> tuple[list[str], dict[str, tuple[str, list[str]]]]:
    """The headers, and label -> (row classes, cell HTML), of the panel's _repr_html_."""
    page = panel._repr_html_()
    headers = [text(h) for h in re.findall(r"<th>(.*?)</th>", page, re.S)]
    found = {}
    for css, body in re.findall(r'<tr class="([^"]*)">(.*?)</tr>', page, re.S):
        cells = re.findall(r"<td>(.*?)</td>", body, re.S)
        found[text(cells[0])] = (css, cells)
    return headers, found


def widget_table(panel: SessionPanel) -> tuple[list[str], dict[str, tuple[str, list[str]]]]:
    """The same, read from the widgets the frontend shows."""
    headers = [text(h.value) for h in panel.header]
    found = {}
    for label, view in panel.rows.items():
        first = view.cells[0]
        css = " ".join(c for c in first._dom_classes if c != "stsmagic-cell")
        found[label] = (css, [cell.value for cell in view.cells])
    return headers, found


def rows(panel: SessionPanel) -> dict[str, tuple[str, list[str]]]:
    """label -> (row classes, cell HTML); the widgets and _repr_html_ must show the same."""
    headers, shown = widget_table(panel)
    assert headers == [*HEADERS, ""]  # the last one is over the actions
    assert static_table(panel) == (HEADERS, shown)
    assert list(panel.grid.children) == [
        *panel.header,
        *(w for view in panel.rows.values() for w in view.in_grid),
    ]
    return shown


def cells(panel: SessionPanel, label: str) -> list[str]:
    return [text(cell) for cell in rows(panel)[label][1]]


def remaining_text(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def test_a_row_shows_label_kind_status_time_left_and_expiry_in_utc(
    broker: Broker, ledger: SessionLedger, clock: Clock, panel: SessionPanel
) -> None:
    a = ledger.add(issue(broker, "panel-a"))
    b = ledger.add(issue(broker, "panel-b"), activate=False)
    shown = rows(panel)
    assert list(shown) == [a.label, b.label]  # active first, then newest first
    css, html_cells = shown[a.label]
    assert css == "stsmagic-active"
    assert cells(panel, a.label) == [
        a.label,
        "federation",
        "● active",
        remaining_text(a.expiration - clock.now),
        f"{MONTHS[a.expiration.month - 1]} {a.expiration:%d %H:%M} UTC",
        "auto",
        "0",
    ]
    assert bar(html_cells[3]) == pytest.approx(
        (a.expiration - clock.now) / (a.expiration - a.issued_at), abs=0.001
    )
    assert shown[b.label][0] == "" and cells(panel, b.label)[2] == "standby"
    # Principal, key and issued time are on demand: in the label's tooltip, not in a column.
    assert a.principal is not None
    for hidden in (a.principal, a.masked_access_key, a.issued_at.strftime("%H:%M:%S UTC")):
        assert hidden not in " ".join(cells(panel, a.label))
        assert hidden in html.unescape(html_cells[0])
    assert panel.message.value == ""


def test_the_bar_empties_the_countdown_warns_then_the_row_is_marked_expired(
    broker: Broker, ledger: SessionLedger, clock: Clock, panel: SessionPanel
) -> None:
    session = ledger.add(issue(broker, "panel-clock", seconds=900))
    lifetime = session.expiration - session.issued_at
    clock.now = session.issued_at + lifetime / 2
    panel.refresh()
    assert bar(rows(panel)[session.label][1][3]) == pytest.approx(0.5, abs=0.001)

    clock.now = session.expiration - timedelta(minutes=10, seconds=1)
    panel.refresh()
    css, html_cells = rows(panel)[session.label]
    assert css == "stsmagic-active" and text(html_cells[3]) == "0:10:01"
    assert panel.warning.value == "" and panel.warning.layout.display == "none"

    clock.move(seconds=62)
    panel.refresh()
    css, html_cells = rows(panel)[session.label]
    assert css == "stsmagic-active stsmagic-warn"
    assert text(html_cells[3]) == "⚠ 0:08:59"
    assert bar(html_cells[3]) == pytest.approx(539 / lifetime.total_seconds(), abs=0.001)
    assert text(panel.warning.value) == f"⚠ {session.label} ends in 0:08:59"
    assert panel.warning.layout.display is None
    assert f"{session.label} ends in" in panel._repr_html_()

    clock.now = session.expiration + timedelta(seconds=1)
    panel.refresh()
    css, html_cells = rows(panel)[session.label]
    assert css == "stsmagic-active stsmagic-expired"
    assert [text(c) for c in html_cells[2:4]] == ["● ✕ expired", "0:00:00"]
    assert bar(html_cells[3]) == 0
    assert panel.warning.value == "" and "ends in" not in panel._repr_html_()


def test_every_ledger_change_re_renders_at_once(
    broker: Broker, ledger: SessionLedger, panel: SessionPanel
) -> None:
    assert "No sessions yet" in panel.note.value and "No sessions yet" in panel._repr_html_()
    assert panel.grid.layout.display == "none" and panel.use_source.disabled
    a = ledger.add(issue(broker, "panel-a"))
    assert panel.note.value == "" and panel.grid.layout.display is None
    b = ledger.add(issue(broker, "panel-b"))
    assert list(rows(panel)) == [b.label, a.label]
    assert rows(panel)[a.label][0] == ""
    ledger.activate(a.label)
    assert list(rows(panel)) == [a.label, b.label]
    assert rows(panel)[a.label][0] == "stsmagic-active"
    ledger.forget(b.label)
    assert list(rows(panel)) == [a.label]
    # round 1's `table` (HTML, `.value`) is still the same table
    assert panel.table.value == panel._repr_html_() and a.label in panel.table.value
    assert b.label not in panel.table.value
    ledger.deactivate()
    assert cells(panel, a.label)[2] == "standby"
    assert panel.use_source.disabled


def test_each_row_has_use_and_forget_and_the_message_says_what_the_click_did(
    broker: Broker, ledger: SessionLedger, panel: SessionPanel
) -> None:
    a = ledger.add(issue(broker, "panel-a"))
    b = ledger.add(issue(broker, "panel-b"))
    assert [list(view.buttons) for view in panel.rows.values()] == [["Use", "Renew", "Forget"]] * 2
    assert panel.rows[b.label].buttons["Use"].disabled  # already active
    assert not panel.rows[a.label].buttons["Use"].disabled

    panel.rows[a.label].buttons["Use"].click()
    assert ledger.active is a
    assert panel.message.value == f"Using {a.label}"
    assert panel.rows[a.label].buttons["Use"].disabled
    assert not panel.rows[b.label].buttons["Use"].disabled

    panel.use_source.click()
    assert ledger.active is None
    assert panel.message.value == "Using the source credentials"

    panel.rows[b.label].buttons["Forget"].click()
    assert ledger.labels == (a.label,)
    assert list(panel.rows) == [a.label]
    assert panel.message.value == f"Forgot {b.label}"


def test_use_refuses_an_expired_session_and_keeps_the_active_one(
    broker: Broker, ledger: SessionLedger, clock: Clock, panel: SessionPanel
) -> None:
    old = ledger.add(issue(broker, "panel-old", seconds=900))
    new = ledger.add(issue(broker, "panel-new", seconds=3600))
    use_old = panel.rows[old.label].buttons["Use"]
    assert not use_old.disabled
    clock.now = old.expiration + timedelta(seconds=1)
    use_old.click()  # clicked before the next tick disabled it
    assert ledger.active is new
    assert panel.message.value.startswith('<span class="stsmagic-error">✗ session')
    assert "expired" in panel.message.value and old.label in panel.message.value
    panel.refresh()
    assert use_old.disabled
    assert not panel.rows[old.label].buttons["Forget"].disabled


def test_one_more_column_and_row_action_join_without_changing_the_panel(
    broker: Broker, ledger: SessionLedger, panels: Callable[..., SessionPanel]
) -> None:
    clicked: list[str] = []

    def inspect(panel: SessionPanel, label: str) -> str:
        clicked.append(label)
        return f"Inspected {label}"

    region = Column("region", lambda row: "us-east-1" if row.kind == "federation" else "")
    panel = panels(
        interval=None,
        columns=(*COLUMNS, region),
        actions=(*ROW_ACTIONS, RowAction("Inspect", "search", "look at it", inspect)),
    )
    session = ledger.add(issue(broker, "panel-inspect"))
    view = panel.rows[session.label]
    assert list(view.buttons) == ["Use", "Renew", "Forget", "Inspect"]
    assert [text(c.value) for c in view.cells][-1] == "us-east-1"
    assert [text(h.value) for h in panel.header][-2:] == ["region", ""]
    assert panel.grid.layout.grid_template_columns.split()[-2:] == [
        "max-content",
        "max-content",
    ]
    assert "<th>region</th>" in panel._repr_html_()
    view.buttons["Inspect"].click()
    assert clicked == [session.label]
    assert panel.message.value == f"Inspected {session.label}"


def test_details_show_principal_key_and_issued_time_on_demand(
    broker: Broker, ledger: SessionLedger, panel: SessionPanel
) -> None:
    a = ledger.add(issue(broker, "panel-a"))
    details = panel.rows[a.label].details
    assert "stsmagic-details" in panel.rows[a.label].details_line._dom_classes
    # Hidden by the stylesheet until the grid has the class the toggle gives it.
    assert ".stsmagic-grid:not(.stsmagic-show-details) .stsmagic-details" in panel.style.value
    assert "stsmagic-show-details" not in panel.grid._dom_classes
    panel.details.value = True
    assert "stsmagic-show-details" in panel.grid._dom_classes
    assert text(details.value) == (
        f"principal {a.principal} · access key {a.masked_access_key} · "
        f"issued {a.issued_at:%Y-%m-%d %H:%M:%S} UTC · expires {a.expiration:%Y-%m-%d %H:%M:%S} UTC"
        " · last renewed never · busiest no calls yet"
    )
    b = ledger.add(issue(broker, "panel-b"))
    assert panel.rows[b.label].details.value.startswith(
        '<span class="stsmagic-detail">principal <b>arn:'
    )
    panel.details.value = False
    assert "stsmagic-show-details" not in panel.grid._dom_classes


def test_details_wrap_between_values_never_inside_one(
    broker: Broker, ledger: SessionLedger, panel: SessionPanel
) -> None:
    """A narrow notebook wraps the details line: between two details, never inside a date."""
    a = ledger.add(issue(broker, "panel-wrap"))
    panel.details.value = True
    value = panel.rows[a.label].details.value
    parts = value.split(" · ")
    assert len(parts) >= 5
    for part in parts:
        assert re.fullmatch(r'<span class="stsmagic-detail">[\w ]+ <b>[^<]+</b></span>', part), part
    assert f"<b>{a.expiration:%Y-%m-%d %H:%M:%S} UTC</b>" in value
    assert re.search(
        r"\.stsmagic-session-panel \.stsmagic-detail \{ white-space: nowrap; \}", panel.style.value
    )


def test_text_is_the_table_for_where_only_text_is_shown(
    broker: Broker, ledger: SessionLedger, panel: SessionPanel, clock: Clock
) -> None:
    assert (
        panel.text()
        == "No sessions yet: %sts_session, %sts_federation or another stsmagic magic issues one."
    )
    a = ledger.add(issue(broker, "panel-text"))
    b = ledger.add(issue(broker, "panel-text-2", 900), activate=False)
    bundle = panel._repr_mimebundle_()
    assert bundle["text/plain"] == panel.text()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # still the widget where it can be
    lines = panel.text().splitlines()
    assert re.split(r"\s{2,}", lines[0]) == HEADERS
    assert re.split(r"\s{2,}", lines[1])[:3] == [a.label, "federation", "● active"]
    assert re.split(r"\s{2,}", lines[2])[:3] == [b.label, "federation", "standby"]
    kind = lines[0].index("kind")
    assert lines[1][kind:].startswith("federation") and lines[2][kind:].startswith("federation")
    assert "SessionPanel(" not in panel.text() and b.masked_access_key not in panel.text()


def test_sts_panel_in_a_terminal_ipython_prints_the_table(sandbox: Any, aws_profile: Path) -> None:
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    lines = [
        "%load_ext stsmagic",
        "%sts_federation --name alice --label fed --duration-seconds 3600",
        "%sts_panel",
        "exit",
    ]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run(
        [sys.executable, "-m", "IPython", "--simple-prompt", "--no-banner", "--colors=NoColor"],
        input="\n".join(lines) + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = done.stdout
    assert "Out[3]: \nlabel  kind        status    time left  expires" in out, out
    row = re.search(r"\nfed    federation  ● active  (\d+):(\d\d):(\d\d)  ", out)
    assert row is not None, out
    assert "SessionPanel(" not in out and "VBox" not in out and "Error" not in done.stderr


def test_every_time_shown_says_utc(
    broker: Broker, ledger: SessionLedger, panel: SessionPanel
) -> None:
    ledger.add(issue(broker, "panel-utc"))
    panel.details.value = True
    shown = html.unescape(panel._repr_html_()) + " ".join(
        cell.value for view in panel.rows.values() for cell in (*view.cells, view.details)
    )
    full = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(.{4})", shown)
    short = re.findall(r"\b[A-Z][a-z]{2} \d\d \d\d:\d\d(.{4})", shown)
    assert len(full) == 6 and len(short) == 2  # tooltips and details; the expires column
    assert set(full) == set(short) == {" UTC"}


def test_only_the_rows_needed_are_rendered(
    broker: Broker, ledger: SessionLedger, panels: Callable[..., SessionPanel]
) -> None:
    first = ledger.add(issue(broker, "panel-many"))
    for n in range(2, 41):
        ledger.add(first.with_label(f"copy-{n}"), activate=False)
    panel = panels(interval=None, max_rows=10)
    assert list(rows(panel)) == [first.label] + [f"copy-{n}" for n in range(40, 31, -1)]
    assert text(panel.note.value) == (
        "10 of 40 sessions shown (stsmagic.sessions.to_frame() has them all)"
    )
    assert len(panel.grid.children) == 8 + 10 * 9  # 7 columns + actions; + details


def test_the_timer_counts_down_and_its_thread_ends_on_close(
    broker: Broker, ledger: SessionLedger, clock: Clock, panels: Callable[..., SessionPanel]
) -> None:
    session = ledger.add(issue(broker, "panel-timer"))
    panel = panels(interval=0.02)
    assert panel.timer is not None and panel.timer.is_alive()
    countdown = panel.rows[session.label].cells[3]
    before = countdown.value
    clock.move(minutes=5)
    deadline = time.monotonic() + 5
    while countdown.value == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert text(countdown.value) == remaining_text(session.expiration - clock.now)

    panel.close()
    assert not panel.timer.is_alive()
    # Closed: neither the timer nor the ledger re-renders it any more.
    frozen = countdown.value
    clock.move(minutes=5)
    ledger.add(issue(broker, "panel-after"))
    time.sleep(0.1)
    assert countdown.value == frozen and list(panel.rows) == [session.label]


def test_no_widget_state_holds_a_secret(
    sandbox: Any, broker: Broker, ledger: SessionLedger, panel: SessionPanel
) -> None:
    session = ledger.add(issue(broker, "panel-secret"))
    ledger.add(broker.get_session_token(TokenCode=sandbox.mfa_code()))
    panel.details.value = True
    panel.rows[session.label].buttons["Use"].click()
    states = widget_states()
    assert session.masked_access_key in states  # the scan sees the panel's state
    secrets = sandbox.issued_secrets()
    assert session.credentials.secret_key in secrets
    for secret in secrets:
        assert secret not in states
    assert session.access_key_id not in states


def test_a_gone_row_and_a_closed_panel_leave_no_widget_model_behind(
    broker: Broker, ledger: SessionLedger, panels: Callable[..., SessionPanel]
) -> None:
    instances = live_widgets()
    before = set(instances)
    panel = panels(interval=None)
    a = ledger.add(issue(broker, "panel-a"))
    with_a = set(instances)
    b = ledger.add(issue(broker, "panel-b"))
    ledger.forget(b.label)  # its row's widgets, layouts and styles are closed with it
    assert set(instances) == with_a
    assert list(panel.rows) == [a.label]
    panel.close()
    assert set(instances) == before


# -- under a Jupyter server (the section itself: tests/test_server_panel.py, in a kernel) -------


def test_not_joined_the_panel_is_as_ever_and_asks_no_server(
    monkeypatch: pytest.MonkeyPatch, broker: Broker, ledger: SessionLedger, panels: Any
) -> None:
    from stsmagic import server_link

    monkeypatch.delenv(server_link.URL, raising=False)
    monkeypatch.delenv(server_link.TOKEN_FILE, raising=False)

    def asked(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"asked the server: {args}")

    monkeypatch.setattr(server_link, "call", asked)
    a = ledger.add(issue(broker, "panel-a"))
    panel = panels()  # with its timer
    assert panel.server is None
    assert panel.children == (
        panel.style,
        panel.warning,
        panel.grid,
        panel.note,
        panel.form_box,
        panel.console_box,
        panel.footer,
    )
    panel.rows[a.label].buttons["Forget"].click()
    panel.refresh()
    assert "Jupyter server" not in panel._repr_html_() + panel.text() + panel.message.value


def test_a_server_that_does_not_answer_is_one_line_in_the_message_line(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    broker: Broker,
    ledger: SessionLedger,
    panels: Any,
) -> None:
    from stsmagic import server_link
    from tests.helpers.jupyter_server import free_port

    token = tmp_path / "token"
    token.write_text("t")
    url = f"http://127.0.0.1:{free_port()}/"
    monkeypatch.setenv(server_link.URL, url)
    monkeypatch.setenv(server_link.TOKEN_FILE, str(token))
    before = set(live_widgets())
    a = ledger.add(issue(broker, "panel-a"))
    panel = panels(interval=None)
    assert panel.server is not None
    said = text(panel.message.value)
    assert said.startswith(f"✗ On the Jupyter server: the Jupyter server's control endpoint {url}")
    assert "does not answer" in said and "\n" not in said
    # the kernel's own rows are as ever, and a click's line is not overwritten by the next try
    assert cells(panel, a.label)[2] == "● active"
    panel.details.value = True  # both tables' details
    assert "stsmagic-show-details" in panel.server.grid._dom_classes
    panel.rows[a.label].buttons["Forget"].click()
    panel.refresh()
    assert text(panel.message.value) == f"Forgot {a.label}"
    panel.close()
    assert set(live_widgets()) <= before  # the section's widgets closed with the panel
