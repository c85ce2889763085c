"""MfaForm, driven headless (trait assignment and button.click()) against the sandbox."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ipywidgets")

from stsmagic.broker import Broker
from stsmagic.errors import ParameterError
from stsmagic.ledger import SessionLedger
from stsmagic.widgets.mfa_form import MfaForm
from tests.helpers.widgets import widget_states


def operations(sandbox: Any, name: str) -> list[Any]:
    return [r for r in sandbox.requests if r.operation == name]


def test_device_is_prefilled_from_the_profile_and_duration_defaults_to_12_hours(
    sandbox: Any, broker: Broker, ledger: SessionLedger
) -> None:
    form = MfaForm(broker, ledger)
    assert form.serial_number.value == sandbox.mfa_serial
    assert form.duration.value == 43200
    assert form.submit.disabled
    assert form.session is None and form.error is None
    assert form.children[0] is form.serial_number


def test_duration_argument_is_chosen_even_when_not_a_usual_choice(
    broker: Broker, ledger: SessionLedger
) -> None:
    assert MfaForm(broker, ledger, duration_seconds=3600).duration.value == 3600
    form = MfaForm(broker, ledger, duration_seconds=5400, serial_number="arn:aws:iam::1:mfa/x")
    assert form.duration.value == 5400
    assert ("90 min", 5400) in form.duration.options
    assert form.serial_number.value == "arn:aws:iam::1:mfa/x"


def frontend(widget: Any, data: dict[str, Any]) -> None:
    """A message from the browser's view of ``widget``, through its comm as a kernel hands it
    over (a keystroke's value update, or Enter's ``{"event": "submit"}``)."""
    widget.comm.handle_msg({"content": {"data": data}, "buffers": []})


def type_into(field: Any, text: str) -> None:
    """Type ``text`` a key at a time, as a browser sends it (the field updates continuously)."""
    start = field.value
    for n in range(1, len(text) + 1):
        typed = start + text[:n]
        frontend(field, {"method": "update", "state": {"value": typed}, "buffer_paths": []})


def press_enter(field: Any) -> None:
    frontend(field, {"method": "custom", "content": {"event": "submit"}})


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("12345", "5 of 6 digits."),
        ("1234567", "That is 7 digits; the code is 6."),
        ("123 456", "The code is 6 digits (0-9) and nothing else: remove a space."),
        ("12a456", "The code is 6 digits (0-9) and nothing else: remove 'a'."),
        ("\uff11\uff12\uff13\uff14\uff15\uff16", "(0-9) and nothing else: remove '\uff11'."),
        ("12\t3456", "remove a space."),
    ],
)
def test_the_status_line_says_why_the_button_is_disabled(
    sandbox: Any, broker: Broker, ledger: SessionLedger, code: str, why: str
) -> None:
    form = MfaForm(broker, ledger)
    before = len(sandbox.requests)
    form.token_code.value = code  # pasted whole
    assert form.submit.disabled and why in form.status.value
    press_enter(form.token_code)  # Enter says it again, and sends nothing
    assert form.submit.disabled and why in form.status.value
    assert len(sandbox.requests) == before and ledger.sessions == ()


def test_the_sixth_digit_sends_the_code(
    sandbox: Any, broker: Broker, ledger: SessionLedger
) -> None:
    form = MfaForm(broker, ledger)
    before = len(operations(sandbox, "GetSessionToken"))
    code = sandbox.mfa_code()
    type_into(form.token_code, code[:5])
    assert form.status.value == "5 of 6 digits." and form.submit.disabled
    press_enter(form.token_code)  # five digits: Enter sends nothing
    assert len(operations(sandbox, "GetSessionToken")) == before
    type_into(form.token_code, code[5:])
    assert len(operations(sandbox, "GetSessionToken")) == before + 1
    assert form.error is None and ledger.active is form.session is not None
    assert "active until" in form.status.value
    # Enter out of habit after the sixth digit: the field is empty, the status stays
    status = form.status.value
    press_enter(form.token_code)
    assert form.status.value == status and len(operations(sandbox, "GetSessionToken")) == before + 1


def test_a_right_code_adds_the_session_active_and_says_until_when(
    sandbox: Any, broker: Broker, ledger: SessionLedger
) -> None:
    form = MfaForm(broker, ledger, duration_seconds=3600)
    before = len(operations(sandbox, "GetSessionToken"))
    form.token_code.value = sandbox.mfa_code()  # the sixth digit sends it

    assert form.error is None, form.error
    session = form.session
    assert session is not None
    assert ledger.active is session
    assert ledger.sessions == (session,)
    assert session.label == "session-1"
    # The shared sandbox's clock may run a few seconds ahead (other tests advance it).
    lifetime = session.expiration - datetime.now(timezone.utc)
    assert timedelta(minutes=55) < lifetime < timedelta(minutes=65)
    calls = operations(sandbox, "GetSessionToken")
    assert len(calls) == before + 1 and calls[-1].status == 200
    status = form.status.value
    assert "session-1" in status and "active until" in status
    assert session.masked_access_key in status
    assert session.expiration.strftime("%Y-%m-%d %H:%M:%S") in status
    assert session.access_key_id not in status
    # The code field is cleared, so the button waits for the next code.
    assert form.token_code.value == ""
    assert form.submit.disabled
    # No secret anywhere in any widget's state.
    states = widget_states()
    for secret in sandbox.issued_secrets():
        assert secret not in states


def test_activate_false_keeps_the_active_session(
    sandbox: Any, broker: Broker, ledger: SessionLedger
) -> None:
    first = ledger.add(broker.get_session_token(TokenCode=sandbox.mfa_code()))
    form = MfaForm(broker, ledger, activate=False, label="spare")
    form.token_code.value = sandbox.mfa_code()
    form.submit.click()
    assert form.error is None, form.error
    assert form.session is not None and form.session.label == "spare"
    assert ledger.active is first
    assert [s.label for s in ledger.sessions] == [first.label, "spare"]
    assert "not active" in form.status.value


def test_a_wrong_code_shows_aws_reason_and_changes_nothing(
    sandbox: Any, broker: Broker, ledger: SessionLedger
) -> None:
    first = ledger.add(broker.get_session_token(TokenCode=sandbox.mfa_code()))
    right = sandbox.mfa_code()
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
    form = MfaForm(broker, ledger)
    before = len(operations(sandbox, "GetSessionToken"))
    form.token_code.value = wrong
    form.submit.click()

    calls = operations(sandbox, "GetSessionToken")
    assert len(calls) == before + 1 and calls[-1].status == 403
    assert form.error is not None and "AccessDenied" in form.error
    assert "\n" not in form.error
    assert "AccessDenied" in form.status.value
    assert form.session is None
    assert ledger.sessions == (first,) and ledger.active is first
    assert form.token_code.value == "" and form.submit.disabled

    # A later right code clears the error.
    form.token_code.value = sandbox.mfa_code()
    form.submit.click()
    assert form.error is None and form.session is not None
    assert "✗" not in form.status.value


def test_a_bad_device_is_refused_before_sending_naming_the_parameter(
    sandbox: Any, broker: Broker, ledger: SessionLedger
) -> None:
    form = MfaForm(broker, ledger, serial_number="bad serial!")
    count = len(sandbox.requests)
    form.token_code.value = "123456"
    form.submit.click()
    assert len(sandbox.requests) == count
    assert form.error is not None and form.error.startswith("SerialNumber")
    assert "SerialNumber" in form.status.value
    assert ledger.sessions == () and ledger.active is None
    assert form.token_code.value == ""


def test_the_button_is_disabled_while_the_request_runs(
    sandbox: Any, broker: Broker, ledger: SessionLedger
) -> None:
    form = MfaForm(broker, ledger)
    code = sandbox.mfa_code()
    form.token_code.value = code[:5]
    sandbox.hang_next("GetSessionToken", 1.0)
    clicker = threading.Thread(target=type_into, args=(form.token_code, code[5:]))
    clicker.start()
    deadline = time.monotonic() + 5
    while "Requesting" not in form.status.value and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # well inside the sandbox's hold
    assert "Requesting" in form.status.value
    assert form.submit.disabled
    assert ledger.sessions == ()
    clicker.join(timeout=10)
    assert not clicker.is_alive()
    assert form.error is None, form.error
    assert ledger.active is form.session is not None
    assert form.submit.disabled and form.token_code.value == ""


def test_the_default_ledger_is_the_kernels(sandbox: Any, aws_profile: Path) -> None:
    import stsmagic

    form = MfaForm()  # Broker() from the default profile, stsmagic.sessions
    assert form.serial_number.value == sandbox.mfa_serial
    form.token_code.value = sandbox.mfa_code()
    form.submit.click()
    assert form.error is None, form.error
    assert stsmagic.sessions.active is form.session is not None


def test_export_env_puts_the_new_session_in_the_environment(
    sandbox: Any, broker: Broker, ledger: SessionLedger
) -> None:
    import os

    from stsmagic.outlets import environ

    form = MfaForm(broker, ledger, export_env=True)
    form.token_code.value = sandbox.mfa_code()
    form.submit.click()
    try:
        assert form.session is not None, form.error
        assert os.environ["AWS_ACCESS_KEY_ID"] == form.session.access_key_id
        assert os.environ["AWS_SESSION_TOKEN"] == form.session.credentials.token
    finally:
        environ.export_environ(False)
    assert "AWS_ACCESS_KEY_ID" not in os.environ


def test_a_label_taken_before_the_click_sends_nothing(
    sandbox: Any, broker: Broker, ledger: SessionLedger, good_response: dict[str, Any]
) -> None:
    """Issue 12 item 11: the label is held before sending, so no session is thrown away."""
    from stsmagic.session import IssuedSession

    form = MfaForm(broker, ledger, label="mine")
    taken = IssuedSession.from_sts(
        "session", good_response, issued_at=datetime.now(timezone.utc), label="mine"
    )
    ledger.add(taken)  # e.g. from another cell, after the form was shown
    sent = len(operations(sandbox, "GetSessionToken"))
    form.token_code.value = sandbox.mfa_code()
    form.submit.click()
    assert len(operations(sandbox, "GetSessionToken")) == sent, "a code was spent for nothing"
    assert form.error is not None and "'mine'" in form.error and "label" in form.error
    assert form.session is None and ledger.active is taken and ledger.labels == ("mine",)


def test_a_labelled_form_follows_its_session_and_the_next_code_renews_it(
    sandbox: Any, broker: Broker, ledger: SessionLedger
) -> None:
    """After a Run All the form shows what is true now, and a code typed later works: its own
    label is not 'taken' from it."""
    form = MfaForm(broker, ledger, label="morning")
    form.token_code.value = sandbox.mfa_code()
    first = ledger.get("morning")
    assert form.session is first and "morning" in form.status.value
    assert "active until" in form.status.value
    assert form.submit.description == "Renew" and form.duration.layout.display == "none"

    ledger.deactivate()  # %sts_use --source, cells later
    assert "is not active now" in form.status.value
    assert "%sts_use morning uses it" in form.status.value

    sent = len(operations(sandbox, "GetSessionToken"))
    form.token_code.value = sandbox.mfa_code()  # the reader types a code after the Run All
    renewed = ledger.get("morning")
    assert form.error is None, form.error
    assert renewed is not first and form.session is renewed
    assert len(operations(sandbox, "GetSessionToken")) == sent + 1
    assert "Renewed morning" in form.status.value and ledger.labels == ("morning",)

    ledger.forget("morning")
    assert form.status.value == "morning was forgotten; a new code issues it again"
    assert form.submit.description == "Get session token" and form.duration.layout.display is None
    form.token_code.value = sandbox.mfa_code()
    assert form.error is None and ledger.labels == ("morning",)
    assert ledger.get("morning") is form.session and "active until" in form.status.value

    form.close()
    status = form.status.value
    ledger.deactivate()  # a closed form follows nothing
    assert form.status.value == status


def test_the_renew_form_renews_a_session_under_its_label_with_its_device(
    sandbox: Any, broker: Broker, ledger: SessionLedger
) -> None:
    """``MfaForm.renew``: the panel's Renew on an MFA session. No Broker, no duration to
    choose: the session's recipe makes it again, with the code typed."""
    first = ledger.add(broker.get_session_token(TokenCode=sandbox.mfa_code(), label="mfa"))
    done: list[Any] = []
    form = MfaForm.renew(ledger, "mfa", on_success=done.append)
    assert form.broker is None and form.renews == "mfa" and form.renewing == "mfa"
    assert form.serial_number.value == sandbox.mfa_serial and form.serial_number.disabled
    assert form.submit.description == "Renew" and form.duration.layout.display == "none"
    assert form.session is None and form.error is None and form.submit.disabled

    form.token_code.value = sandbox.mfa_code()
    renewed = ledger.get("mfa")
    assert form.error is None, form.error
    assert renewed.access_key_id != first.access_key_id and ledger.labels == ("mfa",)
    assert form.session is renewed and done == [renewed]
    assert "Renewed mfa" in form.status.value
    form.close()

    with pytest.raises(ParameterError, match="nothing"):
        MfaForm.renew(ledger, "nothing")


def test_an_unlabelled_form_issues_a_new_session_for_each_code(
    sandbox: Any, broker: Broker, ledger: SessionLedger
) -> None:
    form = MfaForm(broker, ledger)
    form.token_code.value = sandbox.mfa_code()
    form.token_code.value = sandbox.mfa_code()
    assert form.error is None and ledger.labels == ("session-1", "session-2")
    assert form.submit.description == "Get session token"
    form.close()


def test_an_action_whose_session_the_jupyter_server_keeps_leaves_the_kernels_ledger_alone(
    broker: Broker, ledger: SessionLedger
) -> None:
    from stsmagic.server_link import ServerSession

    sent: list[dict[str, Any]] = []
    row = ServerSession(
        label="session-1",
        kind="session",
        principal=None,
        masked_access_key="ASIA…WXYZ",
        expiration=datetime(2030, 1, 1, tzinfo=timezone.utc),
        status="active",
    )

    def on_the_server(**request: Any) -> ServerSession:
        sent.append(request)
        return row

    form = MfaForm(broker, ledger, action=on_the_server)
    form.token_code.value = "123456"  # the sixth digit sends it
    assert sent and sent[0]["TokenCode"] == "123456"
    assert form.session is row and form.error is None and len(ledger) == 0
    assert "active on the Jupyter server until 2030-01-01" in form.status.value
