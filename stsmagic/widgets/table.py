"""The rows of a sessions table, shared by the kernel's panel and the server's section.

``Row`` is one session at one moment (no secret: the key is masked), ``COLUMNS`` draw its
cells, ``RowAction`` is a button on every row, ``RowView`` the widgets of one row; the table
as HTML or text for where no widget frontend exists.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_string import HTMLStyle

from ..errors import StsMagicError
from ..limits import printable
from ..session import format_remaining

WARN_WITHIN = timedelta(minutes=10)

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_utc(value: datetime) -> str:
    """An aware UTC datetime as ``2026-11-26 22:56:47 UTC``."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def format_short_utc(value: datetime) -> str:
    """``Nov 26 22:56 UTC``: the expiry at a glance (the countdown has the seconds; the
    tooltip and the details the full time). Month names are fixed, not the locale's."""
    return f"{MONTHS[value.month - 1]} {value:%d %H:%M} UTC"


def shown_text(fragment: str) -> str:
    """What a reader sees of a cell's HTML: the tags dropped, the entities read."""

    return html.unescape(re.sub(r"<[^>]*>", "", fragment)).strip()


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


@dataclass(frozen=True)
class Row:
    """One session as the panel shows it at one moment (no secret: the key is masked)."""

    label: str
    kind: str
    principal: str | None
    access_key: str
    issued_at: datetime
    expiration: datetime
    remaining: timedelta
    active: bool
    renewal: str = "none"  # auto, mfa or none (IssuedSession.renewal)
    renewed_at: datetime | None = None
    calls: int = 0  # requests its label signed (stsmagic.sessions.usage())
    # (service, operation, calls), most first; None: not known here (the server's rows)
    busiest: tuple[tuple[str, str, int], ...] | None = ()

    @property
    def expired(self) -> bool:
        return self.remaining <= timedelta(0)

    @property
    def warned(self) -> bool:
        """Expiring within ``WARN_WITHIN``."""
        return not self.expired and self.remaining < WARN_WITHIN

    @property
    def status(self) -> str:
        word = "✕ expired" if self.expired else "active" if self.active else "standby"
        return f"● {word}" if self.active else word

    @property
    def fraction(self) -> float:
        """The part of the session's lifetime still left, 0 to 1 (the bar's length)."""
        lifetime = (self.expiration - self.issued_at).total_seconds()
        if lifetime <= 0:
            return 0.0
        return min(max(self.remaining.total_seconds() / lifetime, 0.0), 1.0)

    @property
    def css(self) -> str:
        """The row's classes: active, warned, expired."""
        on = (("stsmagic-active", self.active), ("stsmagic-warn", self.warned))
        return " ".join([name for name, yes in on if yes] + ["stsmagic-expired"] * self.expired)

    @property
    def details(self) -> list[tuple[str, str]]:
        """What the table leaves out, shown on demand."""
        shown = [
            ("principal", self.principal or "(none returned)"),
            ("access key", self.access_key),
            ("issued", format_utc(self.issued_at)),
            ("expires", format_utc(self.expiration)),
            ("last renewed", format_utc(self.renewed_at) if self.renewed_at else "never"),
        ]
        if self.busiest is not None:
            shown.append(("busiest", format_busiest(self.busiest)))
        return shown


def format_busiest(busiest: Sequence[tuple[str, str, int]]) -> str:
    """``s3 GetObject 12, sts GetCallerIdentity 1``, or ``no calls yet``."""
    if not busiest:
        return "no calls yet"
    return ", ".join(f"{service} {operation} {calls:,}" for service, operation, calls in busiest)


def label_cell(row: Row) -> str:
    tooltip = "\n".join(f"{name}: {value}" for name, value in row.details)
    return f'<span class="stsmagic-label" title="{esc(tooltip)}">{esc(row.label)}</span>'


def time_left_cell(row: Row) -> str:
    warn = "⚠ " if row.warned else ""
    return (
        f'<span class="stsmagic-bar" title="{row.fraction:.0%} of its lifetime left">'
        f'<span class="stsmagic-fill" style="width: {row.fraction * 100:.1f}%"></span></span>'
        f'<span class="stsmagic-countdown">{warn}{format_remaining(row.remaining)}</span>'
    )


@dataclass(frozen=True)
class Column:
    """A column: its header, its cell's HTML (every text in it escaped), its grid track."""

    header: str
    cell: Callable[[Row], str]
    track: str = "max-content"


COLUMNS: tuple[Column, ...] = (
    Column("label", label_cell, "minmax(5em, max-content)"),
    Column("kind", lambda row: esc(row.kind)),
    Column("status", lambda row: esc(row.status)),
    Column("time left", time_left_cell),
    Column("expires", lambda row: esc(format_short_utc(row.expiration))),
    Column("renewal", lambda row: esc(row.renewal)),
    Column("calls", lambda row: f"{row.calls:,}"),
)


@dataclass(frozen=True)
class RowAction:
    """A button on every row: ``run(panel, label)`` acts and returns the message line's text;
    ``enabled(row)`` says whether the row's button can be clicked, ``shown(row)`` whether the
    row has the button at all. ``run`` is given the panel, or the part of it the row is in
    (``ServerSection``)."""

    name: str
    icon: str
    tooltip: str
    run: Callable[[Any, str], str]
    enabled: Callable[[Row], bool] = lambda row: True
    shown: Callable[[Row], bool] = lambda row: True


def usable(row: Row) -> bool:
    """Whether Use can be clicked: not the active session already, and not expired."""
    return not row.active and not row.expired


def say_in(line: widgets.HTML, action: Callable[[], str]) -> None:
    """Run a click's action; ``line`` says what it did, or why it did nothing (one line)."""
    try:
        said = action()
    except StsMagicError as e:
        line.value = error_line(e)
    else:
        line.value = esc(said)


def error_line(error: StsMagicError) -> str:
    return f'<span class="stsmagic-error">✗ {esc(error)}</span>'


def text_table(columns: Sequence[Column], rows: Sequence[Row]) -> str:
    """``rows`` as plain text under the columns' headers (each cell's HTML as the text it
    shows), labels escaped."""
    lines = [[c.header for c in columns]] + [
        [printable(shown_text(c.cell(row))) for c in columns] for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def html_table(columns: Sequence[Column], rows: Sequence[Row]) -> str:
    """``rows`` as an HTML table (each row's classes on its ``tr``)."""
    head = "".join(f"<th>{esc(c.header)}</th>" for c in columns)
    body = "".join(
        f'<tr class="{row.css}">' + "".join(f"<td>{c.cell(row)}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def close_widget(widget: widgets.Widget) -> None:
    """Close a widget and the layout and style models it made, so none lingers in the
    kernel (or in a saved notebook's widget state) after its row is gone."""
    parts = [getattr(widget, name, None) for name in ("layout", "style")]
    widget.close()
    for part in parts:
        if isinstance(part, widgets.Widget):
            part.close()


class Shared:
    """One layout and one style model for all the panel's cells, one each for its buttons:
    each row adds its widgets' own models only (its styling is CSS classes), so a saved
    notebook's widget state stays small."""

    def __init__(self) -> None:
        self.layout = widgets.Layout()
        self.html_style = HTMLStyle()
        self.button_layout = widgets.Layout()
        self.button_style = widgets.ButtonStyle()

    def html(self, value: str = "") -> widgets.HTML:
        return widgets.HTML(value, layout=self.layout, style=self.html_style)

    def button(self, action: RowAction, on_click: Callable[[], None]) -> widgets.Button:
        """``action``'s button, its click calling ``on_click``."""
        button = widgets.Button(
            description=action.name,
            icon=action.icon,
            layout=self.button_layout,
            style=self.button_style,
        )
        button.tooltip = action.tooltip
        button.on_click(lambda _button: on_click())
        return button

    def grid(self, columns: Sequence[Column]) -> tuple[list[widgets.HTML], widgets.GridBox]:
        """A table's header (a cell per column, then one over the actions) and the grid that
        holds it and, later, each row's cells."""
        header = [self.html(esc(c.header)) for c in columns]
        header.append(self.html(""))  # over the actions
        for cell in header:
            cell.add_class("stsmagic-cell")
            cell.add_class("stsmagic-head")
        tracks = " ".join([c.track for c in columns] + ["max-content"])
        grid = widgets.GridBox(
            header, layout=widgets.Layout(grid_template_columns=tracks, width="100%")
        )
        grid.add_class("stsmagic-grid")
        return header, grid

    def close(self) -> None:
        for model in (self.layout, self.html_style, self.button_layout, self.button_style):
            model.close()


class RowView:
    """The widgets of one row: a cell per column, a button per action, a details line."""

    def __init__(
        self,
        label: str,
        columns: Sequence[Column],
        actions: Sequence[RowAction],
        *,
        shared: Shared,
        act: Callable[[RowAction, str], None],
        detail_actions: Sequence[RowAction] = (),
    ) -> None:
        self.label = label
        self.cells = [shared.html() for _ in columns]
        for cell in self.cells:
            cell.add_class("stsmagic-cell")
        self.buttons = {
            action.name: shared.button(action, functools.partial(act, action, label))
            for action in actions
        }
        self.actions = widgets.HBox(list(self.buttons.values()), layout=shared.layout)
        self.actions.add_class("stsmagic-cell")
        self.actions.add_class("stsmagic-actions")
        # The details line, shown while the grid has stsmagic-show-details: the text, then a
        # button for each detail action the row has.
        self.details = shared.html()
        self.detail_buttons = {
            action.name: shared.button(action, functools.partial(act, action, label))
            for action in detail_actions
        }
        self.details_line = widgets.HBox([self.details], layout=shared.layout)
        self.details_line.add_class("stsmagic-details")
        self._css = ""

    @property
    def in_grid(self) -> list[widgets.Widget]:
        """In grid order: the cells, the actions, the details line under them."""
        return [*self.cells, self.actions, self.details_line]

    def update(
        self,
        row: Row,
        columns: Sequence[Column],
        actions: Sequence[RowAction],
        detail_actions: Sequence[RowAction] = (),
    ) -> None:
        if row.css != self._css:
            for widget in (*self.cells, self.actions):
                for name in self._css.split():
                    widget.remove_class(name)
                for name in row.css.split():
                    widget.add_class(name)
            self._css = row.css
        for cell, column in zip(self.cells, columns, strict=True):
            cell.value = column.cell(row)
        for action in actions:
            self.buttons[action.name].disabled = not action.enabled(row)
        self.details.value = " · ".join(
            f'<span class="stsmagic-detail">{esc(name)} <b>{esc(value)}</b></span>'
            for name, value in row.details
        )
        line: list[widgets.Widget] = [self.details]
        for action in detail_actions:
            if action.shown(row):
                button = self.detail_buttons[action.name]
                button.disabled = not action.enabled(row)
                line.append(button)
        if line != list(self.details_line.children):
            self.details_line.children = line

    def close(self) -> None:
        """Close its widgets (their layout and style are the panel's, closed with it)."""
        for widget in (
            *self.in_grid,
            self.details,
            *self.buttons.values(),
            *self.detail_buttons.values(),
        ):
            widget.close()
