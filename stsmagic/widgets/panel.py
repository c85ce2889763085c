"""``SessionPanel``: the ledger as a live table, counting down to each session's expiry.

Built for a glance at 860 px (the browser test narrows it so): label, kind, status, time left
(a bar and the countdown), the expiry in UTC, renewal and the calls signed; principal, masked
key, issued time and the busiest operations on demand (the label's tooltip, or the Details
toggle), with the actions that need no room in the table (``DETAIL_ACTIONS``: Console). Columns
and row actions are lists (``COLUMNS``, ``ROW_ACTIONS``; their parts in ``table.py``): one more
of either joins without touching the rest (``calls`` joined so, in the room the width budget
kept for one more column). In a kernel that joined a Jupyter server, the server's sessions are
a second, small table (``server_section.py``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import SessionExpired, StsMagicError
from ..limits import printable
from ..outlets import sessions
from ..renewal import renew
from ..session import format_remaining
from .mfa_form import MfaForm
from .table import (
    COLUMNS,
    MONTHS,
    WARN_WITHIN,
    Column,
    Row,
    RowAction,
    RowView,
    Shared,
    close_widget,
    esc,
    format_short_utc,
    format_utc,
    html_table,
    say_in,
    shown_text,
    text_table,
    usable,
)

if TYPE_CHECKING:
    import pandas as pd

    from ..ledger import SessionLedger
    from ..session import IssuedSession

__all__ = [
    "COLUMNS",
    "DETAIL_ACTIONS",
    "MONTHS",
    "ROW_ACTIONS",
    "WARN_WITHIN",
    "Column",
    "Row",
    "RowAction",
    "SessionPanel",
    "format_short_utc",
    "format_utc",
    "shown_text",
]

log = logging.getLogger(__name__)

NO_SESSIONS = "No sessions yet: %sts_session, %sts_federation or another stsmagic magic issues one."


def use_session(panel: SessionPanel, label: str) -> str:
    """As %sts_use: an expired session is refused, and the active one stays."""
    chosen = panel.ledger.get(label)
    if chosen.expired_at(panel.clock()):
        raise SessionExpired(label, chosen.kind, chosen.expiration)
    panel.ledger.activate(label)
    return f"Using {label}"


def _joined() -> bool:
    from ..server_link import joined  # server_link: only with a Jupyter server

    return joined()


def _when(value: Any) -> datetime | None:
    """A frame's timestamp as a datetime; NaT (never) as None."""
    return None if value is None or value != value else value.to_pydatetime()


def renew_session(panel: SessionPanel, label: str) -> str:
    """``auto``: made again now with its recipe, same label. ``mfa``: the MFA form, inline in
    the panel, whose button renews it with the code typed."""

    session = panel.ledger.get(label)
    if session.renewal == "mfa":
        panel.show_form(label)
        return f"Type a new MFA code to renew {label}"
    renewed = renew(panel.ledger, label)
    return f"Renewed {label} ({renewed.masked_access_key})"


def forget_session(panel: SessionPanel, label: str) -> str:
    panel.ledger.forget(label)
    return f"Forgot {label}"


def open_console(panel: SessionPanel, label: str) -> str:
    """A console sign-in link for the row's session, under the table (replacing any other)."""
    from ..broker.console import signin_url  # broker.console: only when a link is made

    session = panel.ledger.get(label)
    link = signin_url(session, signin_endpoint=panel.signin_endpoint, clock=panel.clock)
    panel.show_console(link)
    return f"Console link for {label}: open it within 15 minutes"


# Kinds whose keys AWS lets sign in to the console (stsmagic.console.CONSOLE_KINDS, not
# imported here: the panel loads without the console module).
CONSOLE_KINDS = frozenset({"federation", "role", "sso", "delegated"})

ROW_ACTIONS: tuple[RowAction, ...] = (
    RowAction(
        "Use",
        "check",
        "make it the active session",
        use_session,
        usable,
    ),
    RowAction(
        "Renew",
        "refresh",
        "make it again now, same label (MFA: asks for a code)",
        renew_session,
        lambda row: row.renewal != "none",
    ),
    RowAction("Forget", "trash", "drop it from this kernel", forget_session),
)

# On the Details line of the rows that have them, not in the table.
DETAIL_ACTIONS: tuple[RowAction, ...] = (
    RowAction(
        "Console",
        "external-link",
        "a link that opens the AWS console as this session (good for 15 minutes)",
        open_console,
        lambda row: not row.expired,
        lambda row: row.kind in CONSOLE_KINDS,
    ),
)

STYLE = """<style>
.stsmagic-panel table { border-collapse: collapse; }
.stsmagic-panel th, .stsmagic-panel td { padding: 2px 8px; text-align: left; white-space: nowrap; }
.stsmagic-session-panel .stsmagic-grid { column-gap: 0; row-gap: 0; align-items: center; }
.stsmagic-session-panel .stsmagic-cell { margin: 0; padding: 0 6px; height: 30px;
  white-space: nowrap; overflow: hidden; }
.stsmagic-session-panel .stsmagic-cell .widget-html-content { overflow: hidden;
  text-overflow: ellipsis; line-height: 30px; }
.stsmagic-session-panel .stsmagic-head { font-weight: bold;
  background: var(--jp-layout-color2, #eee); }
/* a line of its own under its row; contain: its text wraps instead of widening the columns */
.stsmagic-session-panel .stsmagic-details { grid-column: 1 / -1; margin: 0;
  padding: 0 6px 4px 24px; height: auto; contain: inline-size; }
.stsmagic-session-panel .stsmagic-grid:not(.stsmagic-show-details) .stsmagic-details {
  display: none; }
.stsmagic-session-panel .stsmagic-details .widget-html-content { white-space: normal;
  line-height: 1.4; color: var(--jp-ui-font-color2, #666); }
.stsmagic-session-panel .stsmagic-details { align-items: baseline; }
.stsmagic-session-panel .stsmagic-details .widget-html { margin: 0; }
.stsmagic-session-panel .stsmagic-details button { width: auto; height: 22px;
  margin: 0 0 0 8px; padding: 0 6px; flex: none; }
/* the line wraps between details, never inside one (a date stays whole) */
.stsmagic-session-panel .stsmagic-detail { white-space: nowrap; }
.stsmagic-session-panel .stsmagic-actions button { width: auto; height: 24px;
  margin: 0 2px; padding: 0 4px; }
.stsmagic-session-panel .stsmagic-footer button { width: auto; padding: 0 10px; }
.stsmagic-server-title { font-weight: bold; margin-top: 10px; }
.stsmagic-active { font-weight: bold; background: rgba(46, 125, 50, 0.12); }
.stsmagic-warn { background: rgba(245, 124, 0, 0.18); }
.stsmagic-expired { color: var(--jp-ui-font-color2, #757575); }
.stsmagic-expired .stsmagic-label { text-decoration: line-through; }
.stsmagic-bar { display: inline-block; width: 48px; height: 8px; margin-right: 6px;
  vertical-align: middle; border-radius: 4px; overflow: hidden;
  background: rgba(128, 128, 128, 0.25); }
.stsmagic-fill { display: block; height: 100%; background: var(--jp-success-color1, #388e3c); }
.stsmagic-warn .stsmagic-fill { background: var(--jp-warn-color1, #f57c00); }
.stsmagic-countdown { font-family: var(--jp-code-font-family, monospace); }
/* warning and error text: the theme's colour taken a quarter of the way to its text colour, so it
   reads at WCAG AA (4.5:1) in the light theme too, where the orange and red alone do not */
.stsmagic-warning { color: color-mix(in srgb, var(--jp-warn-color0, #e65100) 75%,
  var(--jp-ui-font-color0, #000)); font-weight: bold; }
.stsmagic-note { color: var(--jp-ui-font-color2, #666); }
.stsmagic-error { color: color-mix(in srgb, var(--jp-error-color1, #c62828) 75%,
  var(--jp-ui-font-color0, #000)); }
</style>"""


class SessionPanel(widgets.VBox):
    """The sessions issued in this kernel, refreshed on every ledger change and every
    ``interval`` seconds: the active row in bold, rows expiring within 10 minutes warned,
    expired rows marked, and a button per row for each of ``actions`` (Use, Forget), with
    Use source and a Details toggle under the table. The message line says what the last
    click did.

    ``clock`` (a callable returning an aware UTC datetime) is injected so tests move time.
    At most ``max_rows`` rows are rendered (the active one first, then newest first), so a
    refresh costs the same with ten sessions or ten thousand. Call ``close()`` to stop the
    timer; the panel holds no secret, only labels, principals and masked access keys.

    Details shows, on each row whose kind can sign in to the console, a Console button: a
    ``ConsoleLink`` under the table, from ``stsmagic.console.signin_url`` at
    ``signin_endpoint`` (None: ``STSMAGIC_SIGNIN_URL``, else the partition's endpoint).
    """

    def __init__(
        self,
        ledger: SessionLedger | None = None,
        *,
        interval: float | None = 1.0,
        clock: Callable[[], datetime] | None = None,
        max_rows: int = 25,
        columns: Sequence[Column] = COLUMNS,
        actions: Sequence[RowAction] = ROW_ACTIONS,
        detail_actions: Sequence[RowAction] = DETAIL_ACTIONS,
        signin_endpoint: str | None = None,
        server: bool | None = None,
        server_follower: Any = None,
        **kwargs: Any,
    ) -> None:
        if ledger is None:
            ledger = sessions
        self.ledger = ledger
        # The ledger's clock unless told otherwise, so "expired" means the same in both.
        self.clock: Callable[[], datetime] = clock or ledger.now
        self.interval = interval
        self.max_rows = max_rows
        self.columns = tuple(columns)
        self.actions = tuple(actions)
        self.detail_actions = tuple(detail_actions)
        self.signin_endpoint = signin_endpoint
        self._lock = threading.RLock()
        self._frame: pd.DataFrame | None = None  # ledger.to_frame(), remade on ledger changes
        self._stop = threading.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self.rows: dict[str, RowView] = {}  # label -> its widgets, in the order shown

        self.style = widgets.HTML(STYLE, layout=widgets.Layout(display="none"))
        self.warning = widgets.HTML()
        self.shared = Shared()
        self.header, self.grid = self.shared.grid(self.columns)
        self.note = widgets.HTML()
        self.use_source = widgets.Button(description="Use source", icon="undo")
        self.use_source.tooltip = "back to the source credentials"
        self.use_source.on_click(self._use_source_clicked)
        self.details = widgets.ToggleButton(description="Details", icon="info")
        self.details.tooltip = (
            "principal, masked access key, issued time and busiest operations of each session"
        )
        self.details.observe(self._details_toggled, names="value")
        self.message = widgets.HTML()
        self.message.add_class("stsmagic-message")
        self.footer = widgets.HBox([self.use_source, self.details, self.message])
        self.footer.add_class("stsmagic-footer")
        self.form: Any = None  # the MfaForm a Renew of an MFA session shows, under the table
        self.form_box = widgets.VBox([])
        self.console: Any = None  # the ConsoleLink the last Console click made
        self.console_box = widgets.VBox([])
        # Under a serving stsmagic Jupyter server (server_link.joined()): its sessions too.
        self.server: Any = None  # the ServerSection, else None (and no request is made)
        if server if server is not None else _joined():
            from .server_section import ServerSection  # server_section: only with a Jupyter server

            self.server = ServerSection(
                self.columns,
                shared=self.shared,
                message=self.message,
                on_change=self.refresh,
                follower=server_follower,
                max_rows=max_rows,
            )
        super().__init__(
            children=[
                self.style,
                self.warning,
                self.grid,
                self.note,
                *([self.server] if self.server is not None else []),
                self.form_box,
                self.console_box,
                self.footer,
            ],
            **kwargs,
        )
        self.add_class("stsmagic-session-panel")
        self._unsubscribe = ledger.subscribe(self._ledger_changed)
        self.refresh()
        self.timer: threading.Thread | None = None
        if interval:
            self.timer = threading.Thread(
                target=self._tick, args=(interval,), name="stsmagic-panel-timer", daemon=True
            )
            self.timer.start()

    # -- rendering -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-render the rows now (the timer and every ledger change call this); the server's
        are asked for again when they are due (a change there, a click, every little while)."""
        if self.server is not None and not self._stop.is_set():
            self.server.fetch_if_due()  # outside the lock: an HTTP request
        with self._lock:
            if self._stop.is_set():
                return
            rows, total = self._visible(self.clock())
            labels = [row.label for row in rows]
            if labels != list(self.rows):
                kept = {label: self.rows.pop(label) for label in labels if label in self.rows}
                for gone in self.rows.values():
                    gone.close()
                self.rows = {label: kept.get(label) or self._row_view(label) for label in labels}
                self.grid.children = [
                    *self.header,
                    *(w for view in self.rows.values() for w in view.in_grid),
                ]
            for row in rows:
                self.rows[row.label].update(row, self.columns, self.actions, self.detail_actions)
            self.grid.layout.display = None if rows else "none"
            self.warning.value = self._warning(rows)
            self.warning.layout.display = None if self.warning.value else "none"
            self.note.value = self._note(rows, total)
            self.note.layout.display = None if self.note.value else "none"
            self.use_source.disabled = self.ledger.active is None
            if self.server is not None:
                self.server.render(self.clock())

    def _row_view(self, label: str) -> RowView:
        return RowView(
            label,
            self.columns,
            self.actions,
            shared=self.shared,
            act=self._act,
            detail_actions=self.detail_actions,
        )

    @property
    def table(self) -> Any:
        """Round 1's name for the table as HTML (``.value``): the same as ``_repr_html_()``."""
        return SimpleNamespace(value=self._repr_html_())

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget, with the table as text where only text is shown (a terminal IPython,
        ``nbconvert --to script``), instead of the widget's repr."""
        bundle = dict(super()._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = self.text()
        return bundle

    def text(self) -> str:
        """The table as plain text: the panel's columns (each cell's HTML as the text it
        shows), labels escaped."""
        with self._lock:
            rows, total = self._visible(self.clock())
        text = text_table(self.columns, rows) if rows else NO_SESSIONS
        if total > len(rows):
            text += f"\n{len(rows)} of {total:,} sessions shown (stsmagic.sessions.to_frame())"
        if self.server is not None:
            text += "\n\n" + self.server.text(self.clock())
        return text

    def _repr_html_(self) -> str:
        """The same table, for frontends without widgets (nbconvert, GitHub)."""
        with self._lock:
            now = self.clock()
            rows, total = self._visible(now)
            table = html_table(self.columns, rows) if rows else ""
            server = "" if self.server is None else self.server.html(now)
            return (
                f'{STYLE}<div class="stsmagic-panel">{self._warning(rows)}'
                f"{table}{self._note(rows, total)}{server}</div>"
            )

    @staticmethod
    def _warning(rows: list[Row]) -> str:
        # "⚠ ops ends in 0:08:59": the label first, so no label ("soon") reads as the verb
        ending = [
            f"{esc(r.label)} ends in {format_remaining(r.remaining)}" for r in rows if r.warned
        ]
        if not ending:
            return ""
        return f'<div class="stsmagic-warning">⚠ {", ".join(ending)}</div>'

    @staticmethod
    def _note(rows: list[Row], total: int) -> str:
        if not rows:
            return f'<span class="stsmagic-note">{esc(NO_SESSIONS)}</span>'
        if total > len(rows):
            return (
                f'<div class="stsmagic-note">{len(rows)} of {total:,} sessions shown '
                "(stsmagic.sessions.to_frame() has them all)</div>"
            )
        return ""

    def _visible(self, now: datetime) -> tuple[list[Row], int]:
        """The rows to show (active first, then newest first) as of now, and how many exist."""
        if len(self.ledger) == 0:  # cheap: forget_all() sends one event per session
            return [], 0
        if self._frame is None:
            self._frame = self.ledger.to_frame(now=now)
        frame = self._frame
        if frame.empty:
            return [], 0
        active = self.ledger.active
        # By label, not status: an expired active session is still the one requests use.
        is_active = (frame["label"] == (active.label if active else None)).to_numpy()
        positions = [int(p) for p in is_active.nonzero()[0]]
        for position in range(len(frame) - 1, -1, -1):  # newest first, stop when full
            if len(positions) >= self.max_rows:
                break
            if not is_active[position]:
                positions.append(position)
        view = frame.iloc[positions]
        # Live, not from the frame: calls are counted without a ledger change.
        usage = self.ledger.usage_table
        calls = usage.calls()
        rows = []
        for position, record in zip(positions, view.itertuples(index=False), strict=True):
            expiration = record.expiration.to_pydatetime()
            rows.append(
                Row(
                    label=str(record.label),
                    kind=str(record.kind),
                    principal=record.principal if isinstance(record.principal, str) else None,
                    access_key=str(record.access_key),
                    issued_at=record.issued_at.to_pydatetime(),
                    expiration=expiration,
                    remaining=max(expiration - now, timedelta(0)),
                    active=bool(is_active[position]),
                    renewal=str(record.renewal),
                    renewed_at=_when(record.renewed_at),
                    calls=calls.get(str(record.label), 0),
                    busiest=tuple(usage.busiest(str(record.label))),
                )
            )
        return rows, len(frame)

    def show_form(self, label: str) -> None:
        """The MFA form for renewing ``label``, under the table (replacing any other)."""

        self.close_form()
        self.form = MfaForm.renew(
            self.ledger, label, on_success=lambda renewed: self._renewed_by_form(label, renewed)
        )
        self.form_box.children = [self.form]

    def _renewed_by_form(self, label: str, renewed: IssuedSession) -> None:
        """The form did its job: it goes, and the message line says what it did."""
        self.close_form()
        until = format_utc(renewed.expiration)
        self.message.value = esc(
            f"Renewed {printable(label)} ({renewed.masked_access_key}) until {until}"
        )

    def close_form(self) -> None:
        """Take away the MFA form a Renew showed under the table, if one is there."""
        if self.form is not None:
            self.form.close()
            self.form = None
        self.form_box.children = []

    def show_console(self, link: Any) -> None:
        """A ``SigninLink`` as a ``ConsoleLink`` under the table (replacing any other)."""
        try:
            from .console_link import ConsoleLink  # console_link: only when a link is made
        except ModuleNotFoundError as e:
            if e.name != "anywidget":
                raise
            raise StsMagicError(
                "the console link needs anywidget: pip install 'stsmagic[widgets]'"
            ) from None
        self.close_console()
        self.console = ConsoleLink(link, clock=self.clock)
        self.console_box.children = [self.console]

    def close_console(self) -> None:
        """Take away the console link shown under the table, if one is there."""
        if self.console is not None:
            self.console.close()
            self.console = None
        self.console_box.children = []

    # -- events ----------------------------------------------------------------------------

    def _ledger_changed(self, event: str, session: IssuedSession | None) -> None:
        with self._lock:
            self._frame = None
        self.refresh()

    def _tick(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception:  # the timer must outlive one bad render
                log.exception("stsmagic panel refresh failed")

    def _act(self, action: RowAction, label: str) -> None:
        self._say(lambda: action.run(self, label))

    def _say(self, action: Callable[[], str]) -> None:
        """Run a click's action; the message line says what it did, or why it did nothing."""
        say_in(self.message, action)

    def _use_source_clicked(self, _button: widgets.Button) -> None:
        def use_source() -> str:
            self.ledger.deactivate()
            return "Using the source credentials"

        self._say(use_source)

    def _details_toggled(self, change: dict[str, Any]) -> None:
        """One class on the grid shows or hides every row's details line (CSS does the rest)."""
        grids = [self.grid] + ([self.server.grid] if self.server is not None else [])
        for grid in grids:
            if change["new"]:
                grid.add_class("stsmagic-show-details")
            else:
                grid.remove_class("stsmagic-show-details")

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the timer, leave the ledger, close every widget of the panel."""
        if getattr(self, "_stop", None) is None or self._stop.is_set():
            return  # closed already, or __init__ failed before there was anything to stop
        self._stop.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        timer = getattr(self, "timer", None)
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=5)
        if self.server is not None:
            self.server.close()  # leaves the server link's listeners
        self.close_form()
        self.close_console()
        with self._lock:
            for view in self.rows.values():
                view.close()
            for child in self.header:
                child.close()
            for child in (*self.footer.children, *self.children):
                close_widget(child)
            self.shared.close()
        layout = self.layout
        super().close()
        layout.close()
