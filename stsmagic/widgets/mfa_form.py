"""``MfaForm``: type the authenticator's code, get an STS session token (or assume a role, or
whatever ``action`` is given), make it live."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import StsMagicError
from ..keep import keep

if TYPE_CHECKING:
    from ..broker.broker import Broker
    from ..ledger import SessionLedger
    from ..session import IssuedSession

DEFAULT_DURATION = 43200
ROLE_DEFAULT_DURATION = 3600  # AssumeRole's default, and the most a chained role may have
SIX_DIGITS = re.compile(r"[0-9]{6}")  # ASCII only: \d matches any Unicode digit

# GetSessionToken accepts 900-129600 seconds; these are the usual choices within that range.
DURATIONS = (900, 3600, 4 * 3600, 8 * 3600, 12 * 3600, 24 * 3600, 36 * 3600)


def duration_label(seconds: int) -> str:
    """``43200`` -> ``"12 h"``, ``900`` -> ``"15 min"``, ``1000`` -> ``"1000 s"``."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def duration_options(default: int, durations: Sequence[int] = DURATIONS) -> list[tuple[str, int]]:
    """The dropdown's (label, seconds) pairs, with ``default`` among them even if unusual."""
    seconds = sorted({*durations, default})
    return [(duration_label(s), s) for s in seconds]


class MfaForm(widgets.VBox):
    """GetSessionToken with an MFA code, as a form.

    The device (serial number) is prefilled from the argument or the profile's ``mfa_serial``;
    the button is enabled only while the code is exactly six digits. On success the session
    goes into the ledger (active unless ``activate=False``) and the status line says until
    when; on failure the status line shows AWS's reason, ``error`` holds it and nothing else
    changes. The code field is cleared after every try.
    """

    def __init__(
        self,
        broker: Broker | None = None,
        ledger: SessionLedger | None = None,
        *,
        serial_number: str | None = None,
        duration_seconds: int | None = None,
        label: str | None = None,
        activate: bool = True,
        export_env: bool | None = None,
        action: Callable[..., IssuedSession] | None = None,
        action_name: str = "Get session token",
        durations: Sequence[int] = DURATIONS,
        auto_renew: bool = True,
        renews: str | None = None,
        **kwargs: Any,
    ) -> None:
        """``action`` (default: ``broker.get_session_token``) is called with ``SerialNumber``,
        ``TokenCode``, ``DurationSeconds`` and ``label``; ``action_name`` is the button's words
        ("Assume role"); ``durations`` the dropdown's choices in seconds. ``auto_renew=False``
        keeps the session from renewing itself (``--no-renew``). ``renews=LABEL`` makes the
        form renew that session with its recipe and the code typed (the panel's Renew): no
        duration to choose, the session keeps its label and place. ``export_env`` is
        ``stsmagic.keep.keep``'s: True exports the session it activates, False stops an earlier
        export, None (the default) leaves the export as it is."""
        if label is not None:
            from .. import limits

            limits.label(label)  # refused at once, not after a code is typed
        self.renews = renews
        self.auto_renew = auto_renew
        if broker is None and renews is None:
            from ..broker.broker import Broker

            broker = Broker()
        if ledger is None:
            from ..outlets import sessions

            ledger = sessions
        self.broker = broker
        self.ledger = ledger
        self.action = action or (broker.get_session_token if broker is not None else None)
        self.action_name = action_name
        self.label = label
        self.activate = activate
        self.export_env = export_env
        self.session: IssuedSession | None = None
        self.error: str | None = None

        default = duration_seconds or (
            (broker.duration_seconds or DEFAULT_DURATION)
            if action is None and broker is not None
            else ROLE_DEFAULT_DURATION
        )
        self.serial_number = widgets.Text(
            value=serial_number or (broker.mfa_serial if broker is not None else None) or "",
            description="MFA device",
            placeholder="arn:aws:iam::123456789012:mfa/name",
            layout=widgets.Layout(width="36em"),
            style={"description_width": "7em"},
        )
        self.token_code = widgets.Text(
            description="Code",
            placeholder="6 digits",
            continuous_update=True,
            layout=widgets.Layout(width="16em"),
            style={"description_width": "7em"},
        )
        self.duration = widgets.Dropdown(
            options=duration_options(default, durations),
            value=default,
            description="Duration",
            layout=widgets.Layout(width="16em"),
            style={"description_width": "7em"},
        )
        self.submit = widgets.Button(
            description=action_name,
            button_style="primary",
            icon="key",
            disabled=True,
            tooltip=f"{action_name} with this MFA code",
            layout=widgets.Layout(width="auto"),
        )
        if renews is not None:
            self.duration.layout.display = "none"  # the recipe's duration, as first issued
        self.status = widgets.HTML(value="Enter the 6-digit code from your MFA device.")
        self.out = widgets.Output()

        # Classes name the parts for stylesheets and the browser test.
        self.token_code.add_class("stsmagic-token-code")
        self.submit.add_class("stsmagic-submit")
        self.status.add_class("stsmagic-status")
        self.token_code.observe(self._code_changed, names="value")
        self.submit.on_click(self._submit_clicked)
        super().__init__(
            children=[
                self.serial_number,
                widgets.HBox([self.token_code, self.duration, self.submit]),
                self.status,
                self.out,
            ],
            **kwargs,
        )
        self.add_class("stsmagic-mfa-form")

    def _code_changed(self, change: dict[str, Any]) -> None:
        self.submit.disabled = SIX_DIGITS.fullmatch(change["new"].strip()) is None

    def _submit_clicked(self, _button: widgets.Button) -> None:
        code = self.token_code.value.strip()
        if SIX_DIGITS.fullmatch(code) is None:  # a click that raced the code field
            return
        self.submit.disabled = True
        self.status.value = (
            "Requesting a session token…"
            if self.action_name == "Get session token"
            else f"Requesting: {self.action_name}…"
        )
        with self.out:
            try:
                self._request(code)
            finally:
                # Clearing the field also keeps the button disabled until the next code.
                self.token_code.value = ""
                self.submit.disabled = True

    def _request(self, code: str) -> None:
        try:
            if self.renews is not None:
                from ..renewal import renew

                self.session = renew(self.ledger, self.renews, TokenCode=code)
                self.error = None
                until = self.session.expiration.strftime("%Y-%m-%d %H:%M:%S %Z")
                self.status.value = html.escape(
                    f"✓ Renewed {self.renews} ({self.session.masked_access_key}) until {until}"
                )
                return
            # held before sending: a taken label costs no request and no thrown-away session
            with self.ledger.reserve(self.label):
                assert self.action is not None  # only a renewing form has none
                issued = keep(
                    self.action(
                        SerialNumber=self.serial_number.value.strip() or None,
                        TokenCode=code,
                        DurationSeconds=self.duration.value,
                        label=self.label,
                    ),
                    self.ledger,
                    activate=self.activate,
                    export_env=self.export_env,
                    auto_renew=self.auto_renew,
                )
        except StsMagicError as e:
            self.error = str(e)
            self._show_error(str(e))
            return
        except Exception as e:
            # Not a refusal we know: keep the form consistent, let the Output show the trace.
            self._show_error(f"unexpected {type(e).__name__}; see the traceback below")
            raise
        self.session = issued
        self.error = None
        self.status.value = html.escape(success_line(issued, self.activate))

    def _show_error(self, message: str) -> None:
        self.error = message
        self.status.value = (
            f'<span style="color: var(--jp-error-color1, #c62828)">✗ {html.escape(message)}</span>'
        )


def success_line(issued: IssuedSession, active: bool) -> str:
    """One line for the status: label, masked key, and until when. Never a secret."""
    from ..limits import printable

    state = "active" if active else "added (not active)"
    until = issued.expiration.strftime("%Y-%m-%d %H:%M:%S %Z")
    label = printable(issued.label or "(unlabelled)")
    return f"✓ {label} ({issued.masked_access_key}) {state} until {until}"
