"""``SessionPanel``: the ledger as a live table, counting down to each session's expiry."""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import SessionExpired, StsMagicError

if TYPE_CHECKING:
    import pandas as pd

    from ..ledger import SessionLedger
    from ..session import IssuedSession

log = logging.getLogger(__name__)

WARN_WITHIN = timedelta(minutes=10)
# The columns of ledger.to_frame() the table shows, in this order.
COLUMNS_SHOWN = [
    "label",
    "kind",
    "principal",
    "access_key",
    "issued_at",
    "expiration",
    "remaining",
    "status",
]

STYLE = """<style>
.stsmagic-panel table { border-collapse: collapse; font-size: var(--jp-code-font-size, 13px); }
.stsmagic-panel th, .stsmagic-panel td { padding: 2px 10px; text-align: left; white-space: nowrap; }
.stsmagic-panel tr.stsmagic-active { font-weight: bold; background: rgba(46, 125, 50, 0.12); }
.stsmagic-panel tr.stsmagic-warn { background: rgba(245, 124, 0, 0.18); }
.stsmagic-panel tr.stsmagic-expired { color: #888; text-decoration: line-through; }
.stsmagic-panel .stsmagic-warning { color: #e65100; font-weight: bold; }
.stsmagic-panel .stsmagic-note { color: #666; }
</style>"""


def format_remaining(remaining: timedelta) -> str:
    """``timedelta(hours=11, seconds=5)`` -> ``"11:00:05"``; days spill into hours."""
    seconds = max(int(remaining.total_seconds()), 0)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def format_time(value: Any) -> str:
    if value is None or value != value:  # None or NaT
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S")


class SessionPanel(widgets.VBox):
    """The sessions issued in this kernel, refreshed on every ledger change and every
    ``interval`` seconds: the active row in bold, rows expiring within 10 minutes warned,
    expired rows struck through, and Use / Forget / Use source actions for the shown rows.

    ``clock`` (a callable returning an aware UTC datetime) is injected so tests move time.
    At most ``max_rows`` rows are rendered (the active one first, then newest first), so a
    refresh costs the same with ten sessions or ten thousand. Call ``close()`` to stop the
    timer; the panel holds no secret, only labels and masked access keys.
    """

    def __init__(
        self,
        ledger: SessionLedger | None = None,
        *,
        interval: float | None = 1.0,
        clock: Callable[[], datetime] | None = None,
        max_rows: int = 25,
        **kwargs: Any,
    ) -> None:
        if ledger is None:
            from ..outlets import sessions

            ledger = sessions
        self.ledger = ledger
        # The ledger's clock unless told otherwise, so "expired" means the same in both.
        self.clock: Callable[[], datetime] = clock or ledger.now
        self.interval = interval
        self.max_rows = max_rows
        self._lock = threading.RLock()
        self._frame: pd.DataFrame | None = None  # ledger.to_frame(), remade on ledger changes
        self._stop = threading.Event()

        self.table = widgets.HTML(layout=widgets.Layout(overflow="auto"))
        self.choice = widgets.Dropdown(description="Session", options=[])
        self.use = widgets.Button(description="Use", icon="check", tooltip="make it active")
        self.forget = widgets.Button(description="Forget", icon="trash", tooltip="drop it")
        self.use_source = widgets.Button(
            description="Use source", icon="undo", tooltip="back to the source credentials"
        )
        self.message = widgets.HTML()
        self.use.on_click(self._use_clicked)
        self.forget.on_click(self._forget_clicked)
        self.use_source.on_click(self._use_source_clicked)
        super().__init__(
            children=[
                self.table,
                widgets.HBox([self.choice, self.use, self.forget, self.use_source]),
                self.message,
            ],
            **kwargs,
        )
        self.add_class("stsmagic-session-panel")
        self._unsubscribe: Callable[[], None] | None = ledger.subscribe(self._ledger_changed)
        self.refresh()
        self.timer: threading.Thread | None = None
        if interval:
            self.timer = threading.Thread(
                target=self._tick, args=(interval,), name="stsmagic-panel-timer", daemon=True
            )
            self.timer.start()

    # -- rendering -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-render the table now (the timer and every ledger change call this)."""
        with self._lock:
            view = self._visible(self.clock())
            self.table.value = self._html(view)
            labels = [] if view is None else list(view["label"])
            if list(self.choice.options) != labels:
                keep = self.choice.value if self.choice.value in labels else None
                self.choice.options = labels
                self.choice.value = keep if keep is not None else (labels[0] if labels else None)
            self.use.disabled = self.forget.disabled = not labels
            self.use_source.disabled = self.ledger.active is None

    def _repr_html_(self) -> str:
        """The same table, for frontends without widgets (nbconvert, GitHub)."""
        with self._lock:
            return self._html(self._visible(self.clock()))

    def _visible(self, now: datetime) -> pd.DataFrame | None:
        """The rows to show (active first, then newest first), remaining and status as of now."""
        if len(self.ledger) == 0:  # cheap: forget_all() sends one event per session
            return None
        if self._frame is None:
            self._frame = self.ledger.to_frame(now=now)
        frame = self._frame
        if frame.empty:
            return None
        import pandas as pd

        active = self.ledger.active
        # By label, not status: an expired active session is still the one requests use.
        is_active = (frame["label"] == (active.label if active else None)).to_numpy()
        rows = [int(p) for p in is_active.nonzero()[0]]
        for position in range(len(frame) - 1, -1, -1):  # newest first, stop when full
            if len(rows) >= self.max_rows:
                break
            if not is_active[position]:
                rows.append(position)
        view = frame.iloc[rows, [frame.columns.get_loc(c) for c in COLUMNS_SHOWN]]
        expiration = pd.to_datetime(view["expiration"], utc=True)
        remaining = (expiration - pd.Timestamp(now)).clip(lower=pd.Timedelta(0))
        view["remaining"] = remaining
        view["status"] = view["status"].where(remaining > pd.Timedelta(0), "expired")
        view["active"] = is_active[rows]
        view.attrs["total"] = len(frame)
        return view

    def _html(self, view: pd.DataFrame | None) -> str:
        if view is None:
            return (
                f'{STYLE}<div class="stsmagic-panel"><span class="stsmagic-note">'
                "No sessions yet: %sts_session, %sts_federation, %sts_delegated or %sso_role "
                "issue one.</span></div>"
            )
        expired = view["status"] == "expired"
        soon = ~expired & (view["remaining"] < WARN_WITHIN)
        row_class = [
            " ".join(
                name
                for name, on in (
                    ("stsmagic-active", a),
                    ("stsmagic-expired", e),
                    ("stsmagic-warn", w),
                )
                if on
            )
            for a, e, w in zip(view["active"], expired, soon, strict=True)
        ]
        shown = view[COLUMNS_SHOWN].astype(object)
        shown["principal"] = shown["principal"].fillna("")
        shown["issued_at"] = [format_time(t) for t in shown["issued_at"]]
        shown["expiration"] = [format_time(t) for t in shown["expiration"]]
        shown["remaining"] = [format_remaining(r) for r in view["remaining"]]
        shown["status"] = [
            ("● " if a else "") + ("✕ expired" if e else "active" if a else "standby")
            for a, e in zip(view["active"], expired, strict=True)
        ]
        table = shown.to_html(index=False, escape=True, border=0, na_rep="")
        # DataFrame.to_html has no row classes; give each body row its own (Styler costs 5x).
        head, body = table.split("<tbody>", 1)
        rows = body.split("<tr>")
        body = rows[0] + "".join(
            f'<tr class="{css}">{row}' for css, row in zip(row_class, rows[1:], strict=True)
        )
        parts = [STYLE, '<div class="stsmagic-panel">']
        if soon.any():
            expiring = ", ".join(
                f"{html.escape(str(label))} in {format_remaining(remaining)}"
                for label, remaining in zip(
                    view["label"][soon], view["remaining"][soon], strict=True
                )
            )
            parts.append(f'<div class="stsmagic-warning">⚠ expiring soon: {expiring}</div>')
        parts.append(f"{head}<tbody>{body}")
        total = view.attrs["total"]
        if total > len(view):
            parts.append(
                f'<div class="stsmagic-note">{len(view)} of {total:,} sessions shown '
                "(stsmagic.sessions.to_frame() has them all)</div>"
            )
        parts.append("</div>")
        return "".join(parts)

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

    def _act(self, action: Callable[[], object]) -> None:
        try:
            action()
        except StsMagicError as e:
            self.message.value = f'<span style="color: #c62828">✗ {html.escape(str(e))}</span>'
        else:
            self.message.value = ""

    def _use_clicked(self, _button: widgets.Button) -> None:
        label = self.choice.value
        if label is not None:
            self._act(lambda: self._use(label))

    def _use(self, label: str) -> None:
        """As %sts_use: an expired session is refused, and the active one stays."""
        chosen = self.ledger.get(label)
        if chosen.expired_at(self.clock()):
            raise SessionExpired(label, chosen.kind, chosen.expiration)
        self.ledger.activate(label)

    def _forget_clicked(self, _button: widgets.Button) -> None:
        label = self.choice.value
        if label is not None:
            self._act(lambda: self.ledger.forget(label))

    def _use_source_clicked(self, _button: widgets.Button) -> None:
        self._act(self.ledger.deactivate)

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the timer, leave the ledger, close every widget of the panel."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        timer = getattr(self, "timer", None)
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=5)
        for child in (*self.children, *self.children[1].children):
            child.close()
        super().close()
