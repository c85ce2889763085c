"""``ServerSection``: the Jupyter server's sessions, in the panel of a kernel that joined it.

A small table under the kernel's own: label, kind, status and time left, drawn by the panel's
own columns (``COLUMNS``), with Use and Forget acting on the server through its control
endpoint (``server_link``), and a line saying which session the server's kernels and
terminals sign with. The rows are the server's answers (masked keys, never a secret), asked
for again when the server says it changed (``ServerFollower.listeners``), after a click, and
every ``REFETCH_EVERY`` seconds; between those, the panel's timer counts down from them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import ipywidgets as widgets

from .. import server_link
from ..errors import StsMagicError
from ..limits import printable
from .table import (
    Column,
    Row,
    RowAction,
    RowView,
    Shared,
    close_widget,
    error_line,
    esc,
    html_table,
    say_in,
    text_table,
    usable,
)

TITLE = "On the Jupyter server"
SHOWN = ("label", "kind", "status", "time left")  # the panel's columns the section shows
REFETCH_EVERY = 30.0  # seconds; a change in the server is heard at once, this is the backstop
ASK_WITHIN = 5.0  # seconds a request to the server may take before the panel says so


def use_on_server(_section: Any, label: str) -> str:
    """As ``%sts_use LABEL`` for a label of the server's: every kernel and terminal switches."""
    server_link.use(label)
    return f"Using {printable(label)} on the Jupyter server"


def forget_on_server(_section: Any, label: str) -> str:
    server_link.forget(label)
    return f"Forgot {printable(label)} on the Jupyter server"


SERVER_ACTIONS: tuple[RowAction, ...] = (
    RowAction(
        "Use",
        "check",
        "make it the session every kernel and terminal of the Jupyter server signs with",
        use_on_server,
        usable,
    ),
    RowAction("Forget", "trash", "drop it from the Jupyter server", forget_on_server),
)


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def server_row(record: Mapping[str, Any], active: str | None, now: datetime) -> Row:
    """One row of ``GET /sessions`` as the panel's ``Row`` at ``now`` (its countdown)."""
    expiration = _moment(record["expiration"])
    issued_at = _moment(record["issued_at"])
    if expiration is None or issued_at is None:
        raise ValueError("a row without its times")
    principal = record.get("principal")
    return Row(
        label=str(record["label"]),
        kind=str(record["kind"]),
        principal=principal if isinstance(principal, str) else None,
        access_key=str(record["access_key"]),
        issued_at=issued_at,
        expiration=expiration,
        remaining=max(expiration - now, timedelta(0)),
        active=record["label"] == active,
        renewal=str(record.get("renewal") or "none"),
        renewed_at=_moment(record.get("renewed_at")),
        calls=int(record.get("calls") or 0),
        busiest=None,  # counted in the server: not in its rows
    )


def signs_with(state: Mapping[str, Any]) -> str:
    """The line saying what the server's kernels and terminals sign with."""
    if not state.get("serving"):
        return "The Jupyter server serves no session to its kernels and terminals."
    active = state.get("active")
    if active is None:
        return (
            "The Jupyter server's kernels and terminals have no session to sign with: sign it "
            "in (%sts_session, or the AWS item in JupyterLab's status bar)."
        )
    return f"The Jupyter server's kernels and terminals sign with {printable(active)}."


class ServerSection(widgets.VBox):
    """The server's sessions in the kernel's panel. ``message`` is the panel's message line
    (what a click did, or one line when the server cannot be asked), ``on_change`` re-renders
    the panel, ``follower`` is the kernel's ``server_link.ServerFollower`` (None: no thread
    tells of changes; the section still asks every ``REFETCH_EVERY`` seconds)."""

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        shared: Shared,
        message: widgets.HTML,
        on_change: Callable[[], None],
        follower: Any = None,
        max_rows: int = 25,
        actions: Sequence[RowAction] = SERVER_ACTIONS,
    ) -> None:
        self.columns = tuple(c for c in columns if c.header in SHOWN)
        self.actions = tuple(actions)
        self.shared = shared
        self.message = message
        self.on_change = on_change
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._state: dict[str, Any] | None = None  # the last answer of GET /sessions
        self._asked_at: float | None = None  # time.monotonic() of it; None: ask again
        self._error: str | None = None  # the message line's error, while it is the server's
        self.rows: dict[str, RowView] = {}

        self.title = widgets.HTML(esc(TITLE))
        self.title.add_class("stsmagic-server-title")
        self.line = widgets.HTML()
        self.line.add_class("stsmagic-note")
        self.header, self.grid = self.shared.grid(self.columns)
        self.note = widgets.HTML()
        super().__init__(children=[self.title, self.line, self.grid, self.note])
        self.add_class("stsmagic-server")
        self.follower = follower
        if follower is not None:
            follower.listeners.append(self._server_changed)

    # -- asking the server -------------------------------------------------------------------

    def fetch_if_due(self) -> None:
        if self._asked_at is None or time.monotonic() - self._asked_at >= REFETCH_EVERY:
            self.fetch()

    def fetch(self) -> None:
        """Ask the server for its sessions now; a failure is one line in the message line
        (the last rows it gave stay shown)."""
        try:
            state = server_link.state(timeout=ASK_WITHIN)
            for record in state["sessions"]:
                server_row(record, state.get("active"), datetime.now(timezone.utc))
        except StsMagicError as e:
            self._failed(str(e))
        except (KeyError, TypeError, ValueError):
            self._failed("the Jupyter server's answer about its sessions is not understood")
        else:
            with self._lock:
                self._state = state
                self._asked_at = time.monotonic()
                if self._error is not None and self.message.value == self._error:
                    self.message.value = ""
                self._error = None

    def _failed(self, why: str) -> None:
        with self._lock:
            self._asked_at = time.monotonic()
            shown = error_line(StsMagicError(f"{TITLE}: {why}"))
            if self._error != shown:  # once, not at every try: a click's line stays
                self.message.value = shown
            self._error = shown

    def _server_changed(self) -> None:
        """The follower heard of a change: ask again, and re-render."""
        self._asked_at = None
        self.on_change()

    def _act(self, action: RowAction, label: str) -> None:
        say_in(self.message, lambda: action.run(self, label))
        self._asked_at = None
        self.on_change()

    # -- showing -----------------------------------------------------------------------------

    def visible(self, now: datetime) -> tuple[list[Row], int]:
        """The server's rows to show at ``now`` (active first, then newest first), and how
        many it has."""
        with self._lock:
            state = self._state
        if state is None:
            return [], 0
        active = state.get("active")
        made = [server_row(record, active, now) for record in state["sessions"]]
        ordered = [r for r in made if r.active] + [r for r in reversed(made) if not r.active]
        return ordered[: self.max_rows], len(made)

    def _line(self) -> str:
        with self._lock:
            state = self._state
        return "" if state is None else esc(signs_with(state))

    @staticmethod
    def _note(rows: list[Row], total: int) -> str:
        if not rows:
            return "No sessions on the Jupyter server yet."
        if total > len(rows):
            return f"{len(rows)} of {total:,} of the server's sessions shown"
        return ""

    def render(self, now: datetime) -> None:
        """The widgets as of ``now`` (the panel calls this inside its refresh)."""
        rows, total = self.visible(now)
        labels = [row.label for row in rows]
        if labels != list(self.rows):
            kept = {label: self.rows.pop(label) for label in labels if label in self.rows}
            for gone in self.rows.values():
                gone.close()
            self.rows = {
                label: kept.get(label)
                or RowView(label, self.columns, self.actions, shared=self.shared, act=self._act)
                for label in labels
            }
            self.grid.children = [
                *self.header,
                *(w for view in self.rows.values() for w in view.in_grid),
            ]
        for row in rows:
            self.rows[row.label].update(row, self.columns, self.actions)
        self.grid.layout.display = None if rows else "none"
        self.line.value = self._line()
        note = self._note(rows, total)
        self.note.value = f'<span class="stsmagic-note">{esc(note)}</span>' if note else ""
        self.note.layout.display = None if note else "none"

    def html(self, now: datetime) -> str:
        """The section for frontends without widgets."""
        rows, total = self.visible(now)
        table = html_table(self.columns, rows) if rows else ""
        note = self._note(rows, total)
        return (
            f'<div class="stsmagic-server"><div class="stsmagic-server-title">{esc(TITLE)}</div>'
            f'<div class="stsmagic-note">{self._line()}</div>{table}'
            + (f'<div class="stsmagic-note">{esc(note)}</div>' if note else "")
            + "</div>"
        )

    def text(self, now: datetime) -> str:
        rows, total = self.visible(now)
        parts = [TITLE, signs_with(self._state) if self._state is not None else ""]
        parts.append(text_table(self.columns, rows) if rows else "")
        parts.append(self._note(rows, total))
        return "\n".join(p for p in parts if p)

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Leave the follower's listeners and close the section's widgets (their shared
        layout and style are the panel's)."""
        if self.comm is None:
            return  # closed already (the panel closes its children too)
        if self.follower is not None:
            with contextlib.suppress(ValueError):  # removed already
                self.follower.listeners.remove(self._server_changed)
            self.follower = None
        for view in self.rows.values():
            view.close()
        self.rows = {}
        for cell in self.header:
            cell.close()
        for child in (self.title, self.line, self.grid, self.note):
            close_widget(child)
        layout = self.layout
        super().close()
        layout.close()
