"""Odd 200 answers: each is one ``RequestRefused`` line, in the API, the magics and the form.

The sandbox answers as AWS does, so a tiny HTTP server on 127.0.0.1 serves the odd answers
here (a captive portal's page, a cut-off body, an answer without credentials, credentials
that expired before they arrived), and botocore's real parser reads them. After each one the
active session is still the good one, and neither the message, nor the traceback as
``%xmode Verbose`` prints it, nor the form's widget state holds a secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.answering_server import AnsweringServer
from tests.helpers.odd_answers import (
    BEARER,
    EARLIER,
    ODD_SECRET,
    ODD_TOKEN,
    TRADE_IN,
    creds,
    sso_body,
    sts_body,
)
from tests.helpers.verbose import leaked, verbose_traceback

PORTAL = b"<html><head><title>Wi-Fi</title></head><body><p>Accept the terms</p></body></html>"
PORTAL_LOOSE = b"<!DOCTYPE html><html><body><p>Accept<br>the terms</body></html>"

# (id, STS answer body, the code the refusal must carry)
STS_ANSWERS = [
    ("no-credentials", sts_body(None), "InvalidResponse"),
    ("no-expiration", sts_body(creds(expiration=None)), "InvalidResponse"),
    ("expiration-not-a-time", sts_body(creds(expiration="tomorrow")), "InvalidResponse"),
    ("no-secret-key", sts_body(creds(secret=False)), "InvalidResponse"),
    ("html-page", PORTAL, "InvalidResponse"),
    ("html-page-not-xml", PORTAL_LOOSE, "ResponseParserError"),
    ("cut-off", sts_body(creds())[:-150], "ResponseParserError"),
    ("expired-on-arrival", sts_body(creds(expiration=EARLIER)), "ExpiredOnArrival"),
]
SSO_ANSWERS = [
    ("no-role-credentials", b"{}", "InvalidResponse"),
    ("no-expiration", sso_body(None), "InvalidResponse"),
    ("expiration-huge", sso_body(10**30), "InvalidResponse"),
    ("expiration-text", sso_body("soon"), "InvalidResponse"),
    ("cut-off", sso_body(cut=True), "InvalidResponse"),
    ("html-page", PORTAL, "InvalidResponse"),
    ("expired-on-arrival", sso_body(1000), "ExpiredOnArrival"),
]


@pytest.fixture(scope="module")
def odd() -> Iterator[AnsweringServer]:
    """The endpoint the odd answers come from; each test sets its answer."""
    with AnsweringServer() as server:
        yield server


def secrets(sandbox: Any) -> list[str]:
    return [ODD_SECRET, ODD_TOKEN, TRADE_IN, BEARER, *sandbox.issued_secrets()]


def one_clean_line(sandbox: Any, error: BaseException, code: str) -> str:
    import stsmagic

    message = str(error)
    assert "\n" not in message and len(message) < 300, message
    assert code in message, message
    assert error.__cause__ is None and error.__suppress_context__
    assert leaked(message, secrets(sandbox)) == []
    assert leaked(verbose_traceback(error), secrets(sandbox)) == []
    assert stsmagic.sessions.active is not None and stsmagic.sessions.active.label == "good"
    assert stsmagic.sessions.labels == ("good",)
    return message


@pytest.mark.parametrize(
    ("body", "code"), [a[1:] for a in STS_ANSWERS], ids=[a[0] for a in STS_ANSWERS]
)
def test_odd_sts_answer_is_one_line(
    sandbox: Any, odd: AnsweringServer, good: Any, body: bytes, code: str
) -> None:
    from stsmagic import Broker, RequestRefused

    odd.answer(body, "text/html" if body.startswith((b"<html", b"<!DOCTYPE")) else "text/xml")
    broker = Broker(endpoint_url=odd.url)
    with pytest.raises(RequestRefused) as caught:
        broker.get_session_token()
    assert one_clean_line(sandbox, caught.value, code).startswith("GetSessionToken refused")
    # the trade-in token is an argument: not in any frame either
    odd.answer(body.replace(b"GetSessionToken", b"GetDelegatedAccessToken"))
    with pytest.raises(RequestRefused) as caught:
        broker.get_delegated_access_token(TradeInToken=TRADE_IN)
    one_clean_line(sandbox, caught.value, code)


@pytest.mark.parametrize(
    ("body", "code"), [a[1:] for a in SSO_ANSWERS], ids=[a[0] for a in SSO_ANSWERS]
)
def test_odd_sso_answer_is_one_line(
    sandbox: Any, odd: AnsweringServer, good: Any, body: bytes, code: str
) -> None:
    from stsmagic import Broker, RequestRefused

    odd.answer(body, "text/html" if body.startswith(b"<html") else "application/json")
    broker = Broker(endpoint_url=odd.url)
    with pytest.raises(RequestRefused) as caught:
        broker.get_role_credentials(accountId="123456789012", roleName="R", accessToken=BEARER)
    assert one_clean_line(sandbox, caught.value, code).startswith("GetRoleCredentials refused")


@pytest.mark.parametrize(
    ("magic", "body"),
    [
        ("sts_session", sts_body(creds(secret=False))),
        ("sts_session", sts_body(creds(expiration=EARLIER))),
        ("sts_delegated", sts_body(None, "GetDelegatedAccessToken")),
        ("sts_delegated", sts_body(creds(expiration="x"), "GetDelegatedAccessToken")),
        ("sso_role", sso_body(10**30)),
        ("sso_role", sso_body(cut=True)),
    ],
    ids=["no-secret", "expired", "no-credentials", "bad-expiration", "huge", "cut-off"],
)
def test_odd_answer_in_a_cell_is_one_line_even_verbose(
    sandbox: Any,
    odd: AnsweringServer,
    ip: Any,
    good: Any,
    capsys: pytest.CaptureFixture[str],
    magic: str,
    body: bytes,
) -> None:
    """Run as a user would, with %xmode Verbose: one UsageError line, no secret, env untouched."""
    import os

    odd.answer(body, "application/json" if magic == "sso_role" else "text/xml")
    ip.user_ns.update(tok=TRADE_IN, bearer=BEARER)
    line = {
        "sts_session": "--token-code 123456",
        "sts_delegated": "--trade-in-token tok",
        "sso_role": "--account-id 123456789012 --role-name R --access-token bearer",
    }[magic]
    ip.run_line_magic("xmode", "Verbose")
    try:
        capsys.readouterr()
        result = ip.run_cell(f"%{magic} {line} --endpoint-url {odd.url} --env")
        out = capsys.readouterr()
    finally:
        ip.run_line_magic("xmode", "Context")
    text = out.out + out.err
    assert result.error_in_exec is not None
    lines = [x for x in text.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("UsageError:"), lines
    assert "Traceback" not in text
    assert leaked(text, secrets(sandbox)) == []
    assert "AWS_SECRET_ACCESS_KEY" not in os.environ
    import stsmagic

    assert stsmagic.sessions.active is good and stsmagic.sessions.labels == ("good",)


def test_odd_answer_through_the_form_leaves_no_secret_in_widget_or_notebook_state(
    sandbox: Any, odd: AnsweringServer, good: Any, tmp_path: Path
) -> None:
    pytest.importorskip("ipywidgets")
    import ipywidgets
    import nbformat

    import stsmagic
    from stsmagic import Broker
    from stsmagic.widgets.mfa_form import MfaForm

    odd.answer(sts_body(creds(expiration="not-a-time")))
    form = MfaForm(Broker(endpoint_url=odd.url), serial_number=sandbox.mfa_serial)
    form.token_code.value = "123456"
    form.submit.click()  # before: a ValueError traceback out of the click and into the Output
    assert form.error is not None and "GetSessionToken refused: InvalidResponse" in form.error
    assert form.session is None and stsmagic.sessions.active is good
    assert form.out.outputs == ()

    state = ipywidgets.Widget.get_manager_state(drop_defaults=False)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": state}
    notebook.cells.append(nbformat.v4.new_code_cell("%sts_session"))
    path = tmp_path / "saved.ipynb"
    nbformat.write(notebook, path)
    saved = path.read_text()
    assert "GetSessionToken refused" in saved  # the status line is there, so the scan sees it
    assert leaked(saved, secrets(sandbox)) == []
    form.close()


def test_credentials_expired_on_arrival_are_not_exported(
    sandbox: Any, odd: AnsweringServer, ip: Any, good: Any
) -> None:
    """Item 2: expired on arrival is refused; the previous active session stays, --env too."""
    import os

    from IPython.core.error import UsageError

    import stsmagic

    ip.run_line_magic("sts_use", "good")
    stsmagic.outlets.environ.export_environ(True)
    exported = os.environ["AWS_ACCESS_KEY_ID"]
    odd.answer(sts_body(creds(expiration=EARLIER)))
    with pytest.raises(UsageError, match="ExpiredOnArrival"):
        ip.run_line_magic("sts_session", f"--token-code 123456 --endpoint-url {odd.url} --env")
    assert stsmagic.sessions.active is good
    assert os.environ["AWS_ACCESS_KEY_ID"] == exported == good.access_key_id
    stsmagic.outlets.environ.export_environ(False)
