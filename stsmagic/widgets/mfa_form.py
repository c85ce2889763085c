"""``MfaForm``: type the authenticator's code, get an STS session token (or assume a role, or
whatever ``action`` is given), make it live."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .. import limits
from ..errors import StsMagicError
from ..keep import keep
from ..limits import printable
from ..outlets import sessions
from ..renewal import renew

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
    the sixth digit typed sends the code (so does Enter, or the button), and while the code is
    not six digits the status line says why the button is disabled. On success the session
    goes into the ledger (active unless ``activate=False``) and the status line follows it
    (active, not active, renewed, forgotten) for as long as the form lives; on failure the
    status line shows AWS's reason, ``error`` holds it and nothing else changes. The code
    field is cleared after every try. A form with a ``label`` whose session is still in the
    ledger renews it with the next code (its button says Renew), so it never finds its own
    label taken. ``MfaForm.renew(ledger, label)`` is the form that only renews (the panel's
    Renew on an MFA session).
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
        action: Callable[..., Any] | None = None,
        action_name: str = "Get session token",
        durations: Sequence[int] = DURATIONS,
        auto_renew: bool = True,
        **kwargs: Any,
    ) -> None:
        """``action`` (default: ``broker.get_session_token``) is called with ``SerialNumber``,
        ``TokenCode``, ``DurationSeconds`` and ``label``; ``action_name`` is the button's words
        ("Assume role"); ``durations`` the dropdown's choices in seconds. ``auto_renew=False``
        keeps the session from renewing itself (``--no-renew``). ``export_env`` is
        ``stsmagic.keep.keep``'s: True exports the session it activates, False stops an earlier
        export, None (the default) leaves the export as it is."""
        if label is not None:
            limits.label(label)  # refused at once, not after a code is typed
        if broker is None:
            from ..broker.broker import Broker  # broker: boto3, only when a code is sent

            broker = Broker()
        if ledger is None:
            ledger = sessions
        self.broker: Broker | None = broker
        self.action: Callable[..., Any] | None = action or broker.get_session_token
        self.activate = activate
        self.export_env = export_env
        self.auto_renew = auto_renew
        self.renews: str | None = None
        self.on_success: Callable[[IssuedSession], object] | None = None
        default = duration_seconds or (
            (broker.duration_seconds or DEFAULT_DURATION)
            if action is None
            else ROLE_DEFAULT_DURATION
        )
        self._build(
            ledger,
            serial_number=serial_number or broker.mfa_serial,
            durations=duration_options(default, durations),
            duration=default,
            label=label,
            action_name=action_name,
            **kwargs,
        )

    @classmethod
    def renew(
        cls,
        ledger: SessionLedger,
        label: str,
        *,
        on_success: Callable[[IssuedSession], object] | None = None,
        **kwargs: Any,
    ) -> MfaForm:
        """The form that renews ``label``'s session in ``ledger`` with its recipe and the code
        typed (the panel's Renew on an MFA session): the device the session was made with,
        shown and fixed; no duration to choose (the recipe's, as first issued); the session
        keeps its label and place. ``on_success(session)`` is called after each renewal, once
        the form is done with it (the panel closes its form there)."""
        recipe = ledger.get(label).recipe
        form = cls.__new__(cls)  # not __init__: no Broker, no action, no duration
        form.broker = None
        form.action = None
        form.activate = True
        form.export_env = None
        form.auto_renew = True
        form.renews = label
        form.on_success = on_success
        form._build(
            ledger,
            serial_number=recipe.serial_number if recipe is not None else None,
            durations=[],
            duration=None,
            label=label,
            action_name="Renew",
            **kwargs,
        )
        form.serial_number.disabled = True
        form.duration.layout.display = "none"
        return form

    def _build(
        self,
        ledger: SessionLedger,
        *,
        serial_number: str | None,
        durations: list[tuple[str, int]],
        duration: int | None,
        label: str | None,
        action_name: str,
        **kwargs: Any,
    ) -> None:
        """The widgets and the state both kinds of form share."""
        self.ledger = ledger
        self.label = label
        self.action_name = action_name
        self.session: IssuedSession | None = None
        self.error: str | None = None
        self._unsubscribe: Callable[[], None] | None = None  # following the ledger, once issued
        self._busy = False

        self.serial_number = widgets.Text(
            value=serial_number or "",
            description="MFA device",
            placeholder="arn:aws:iam::123456789012:mfa/name",
            layout=widgets.Layout(width="36em"),
            style={"description_width": "7em"},
        )
        # Every keystroke reaches the kernel (continuous_update), so the sixth digit can send
        # the code and a seventh can be explained; Enter arrives as the frontend's "submit"
        # message (on_msg below: Text.on_submit, its wrapper, is deprecated in ipywidgets 8,
        # and continuous_update=False would give neither the sixth digit nor the reasons).
        self.token_code = widgets.Text(
            description="Code",
            placeholder="6 digits",
            continuous_update=True,
            layout=widgets.Layout(width="16em"),
            style={"description_width": "7em"},
        )
        self.duration = widgets.Dropdown(
            options=durations,
            value=duration,
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
        self.status = widgets.HTML(value=html.escape(PROMPT))
        self.out = widgets.Output()

        # Classes name the parts for stylesheets and the browser test.
        self.token_code.add_class("stsmagic-token-code")
        self.submit.add_class("stsmagic-submit")
        self.status.add_class("stsmagic-status")
        self.token_code.observe(self._code_changed, names="value")
        self.token_code.on_msg(self._code_message)
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
        text = change["new"]
        problem = code_problem(text)
        self.submit.disabled = problem is not None or self._busy
        if not text.strip() or self._busy:
            return  # cleared after a try: the status line says how that went
        if problem is None:
            self._submit_clicked(self.submit)  # the sixth digit sends it
        else:
            self.status.value = html.escape(problem, quote=False)

    def _code_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        """Enter in the code field (the frontend's ``{"event": "submit"}``): send a good code,
        or say why not. An empty field (the sixth digit sent it already) changes nothing."""
        if content.get("event") != "submit" or self._busy:
            return
        text = self.token_code.value
        if not text.strip():
            return
        problem = code_problem(text)
        if problem is None:
            self._submit_clicked(self.submit)
        else:
            self.status.value = html.escape(problem, quote=False)

    def _submit_clicked(self, _button: widgets.Button) -> None:
        code = self.token_code.value.strip()
        if SIX_DIGITS.fullmatch(code) is None or self._busy:  # a click that raced the field
            return
        self._busy = True
        self.submit.disabled = True
        renewing = self.renewing
        self.status.value = (
            f"Renewing {html.escape(printable(renewing))}…"
            if renewing is not None
            else "Requesting a session token…"
            if self.action_name == "Get session token"
            else f"Requesting: {html.escape(self.action_name)}…"
        )
        done = None
        with self.out:
            try:
                done = self._request(code, renewing)
            finally:
                # Clearing the field also keeps the button disabled until the next code.
                self.token_code.value = ""
                self.submit.disabled = True
                self._busy = False
        if done is not None and self.on_success is not None:
            self.on_success(done)  # last: it may close the form

    @property
    def renewing(self) -> str | None:
        """The label the next code renews: ``renews``, or this form's own label while the
        session it issued under it is in the ledger; None: the next code issues a session."""
        if self.renews is not None:
            return self.renews
        if self.label is not None and self.session is not None and self.label in self.ledger:
            return self.label
        return None

    def _request(self, code: str, renewing: str | None) -> IssuedSession | None:
        """Send ``code``; the session made, or None (the status line says why)."""
        try:
            if renewing is not None:
                issued = renew(self.ledger, renewing, TokenCode=code)
            else:
                # held before sending: a taken label costs no request and no thrown-away session
                with self.ledger.reserve(self.label):
                    assert self.action is not None  # only a renewing form has none
                    made = self.action(
                        SerialNumber=self.serial_number.value.strip() or None,
                        TokenCode=code,
                        DurationSeconds=self.duration.value,
                        label=self.label,
                    )
                    kept_by = getattr(made, "kept_by", None)
                    if kept_by is not None:
                        # kept elsewhere (the Jupyter server's ledger): a row, no secret
                        return self._kept_elsewhere(made, kept_by)
                    issued = keep(
                        made,
                        self.ledger,
                        activate=self.activate,
                        export_env=self.export_env,
                        auto_renew=self.auto_renew,
                    )
        except StsMagicError as e:
            self.error = str(e)
            self._show_error(str(e))
            return None
        except Exception as e:
            # Not a refusal we know: keep the form consistent, let the Output show the trace.
            self._show_error(f"unexpected {type(e).__name__}; see the traceback below")
            raise
        self.session = issued
        self.error = None
        if renewing is not None:
            until = issued.expiration.strftime("%Y-%m-%d %H:%M:%S %Z")
            self.status.value = html.escape(
                f"✓ Renewed {printable(renewing)} ({issued.masked_access_key}) until {until}"
            )
        else:
            self.status.value = html.escape(success_line(issued, self.activate))
        if self._unsubscribe is None and self.renews is None:
            # From now on the status line follows the session (it may be switched, renewed
            # elsewhere, forgotten): what it says stays true however long the form stays.
            self._unsubscribe = self.ledger.subscribe(self._ledger_changed)
        self._show_mode()
        return issued

    def _kept_elsewhere(self, made: Any, kept_by: str) -> Any:
        """An action whose session another ledger keeps (``server_link.ServerSession``): the
        status line says where; the kernel's ledger is not followed (nothing of it changed)."""
        self.session = made
        self.error = None
        until = made.expiration.strftime("%Y-%m-%d %H:%M:%S %Z")
        label = printable(made.label)
        if made.status == "active":
            line = (
                f"✓ {label} ({made.masked_access_key}) active on {kept_by} until {until}: "
                "every kernel and terminal of the server signs with it"
            )
        else:
            line = f"✓ {label} ({made.masked_access_key}) added to {kept_by} (not active)"
        self.status.value = html.escape(line)
        return made

    def _ledger_changed(self, event: str, changed: IssuedSession | None) -> None:
        if self._busy or self.session is None:
            return  # this form's own request: it says how that went itself
        label = self.session.label or ""
        current = self.ledger.find(label)
        if current is None:
            self.session = None
            again = "a new code issues it again" if self.label is not None else "type a new code"
            line = f"{printable(label)} was forgotten; {again}"
        elif self.ledger.active is current:
            self.session = current
            line = success_line(current, True)
        else:
            self.session = current
            until = current.expiration.strftime("%Y-%m-%d %H:%M:%S %Z")
            line = (
                f"✓ {printable(label)} ({current.masked_access_key}) is not active now (valid "
                f"until {until}): %sts_use {printable(label)} uses it"
            )
        self.status.value = html.escape(line)
        self._show_mode()

    def _show_mode(self) -> None:
        """The button says what the next code does; renewing has no duration to choose."""
        renewing = self.renewing
        self.submit.description = "Renew" if renewing is not None else self.action_name
        self.duration.layout.display = "none" if renewing is not None else None

    def close(self) -> None:
        """Close the form and stop following the ledger."""
        unsubscribe = getattr(self, "_unsubscribe", None)  # None too if __init__ refused
        if unsubscribe is not None:
            unsubscribe()
            self._unsubscribe = None
        super().close()

    def _show_error(self, message: str) -> None:
        self.error = message
        self.status.value = f'<span style="color: {ERROR_COLOUR}">✗ {html.escape(message)}</span>'


# The theme's error red a quarter of the way to its text colour: 4.5:1 (WCAG AA) in the light
# theme too, where the red alone is 3.7:1.
ERROR_COLOUR = (
    "color-mix(in srgb, var(--jp-error-color1, #c62828) 75%, var(--jp-ui-font-color0, #000))"
)

PROMPT = "Enter the 6-digit code from your MFA device."


def code_problem(text: str) -> str | None:
    """Why ``text`` is not a code to send (the status line's words), or None when it is six
    digits (spaces around them do not count: a paste may bring them)."""
    code = text.strip()
    if not code:
        return PROMPT
    if SIX_DIGITS.fullmatch(code):
        return None
    other = next((c for c in code if c not in "0123456789"), None)
    if other is not None:
        what = "a space" if other.isspace() else repr(printable(other))
        return f"The code is 6 digits (0-9) and nothing else: remove {what}."
    if len(code) > 6:
        return f"That is {len(code)} digits; the code is 6."
    return f"{len(code)} of 6 digits."


def success_line(issued: IssuedSession, active: bool) -> str:
    """One line for the status: label, masked key, and until when. Never a secret."""
    state = "active" if active else "added (not active)"
    until = issued.expiration.strftime("%Y-%m-%d %H:%M:%S %Z")
    label = printable(issued.label or "(unlabelled)")
    return f"✓ {label} ({issued.masked_access_key}) {state} until {until}"
