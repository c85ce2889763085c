"""Odd 200 answers: each is one ``RequestRefused`` line, in the API, the magics and the form.

The sandbox answers as AWS does, so a tiny HTTP server on 127.0.0.1 serves the odd answers
here (a captive portal's page, a cut-off body, an answer without credentials, credentials
that expired before they arrived), and botocore's real parser reads them. After each one the
active session is still the good one, and neither the message, nor the traceback as
``%xmode Verbose`` prints it, nor the form's widget state holds a secret.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


# ---- issue 22 item 4: odd SSO OIDC answers (%sso_login, the refresh grant) --------------------

ODD_CLIENT_SECRET = "oddClientSecret-" + "C" * 60
ODD_DEVICE_CODE = "oddDeviceCode-" + "D" * 40
ODD_ACCESS = "oddAccessToken-" + "A" * 60
ODD_REFRESH = "oddRefreshToken-" + "R" * 60
OIDC_SECRETS = [ODD_CLIENT_SECRET, ODD_DEVICE_CODE, ODD_ACCESS, ODD_REFRESH]


def oidc_answers() -> dict[str, object]:
    """Good answers of the three OIDC operations, by path, each carrying its secrets."""
    now = int(datetime.now(timezone.utc).timestamp())
    return {
        "/client/register": {
            "clientId": "oddClientId",
            "clientSecret": ODD_CLIENT_SECRET,
            "clientIdIssuedAt": now,
            "clientSecretExpiresAt": now + 86_400 * 90,
        },
        "/device_authorization": {
            "deviceCode": ODD_DEVICE_CODE,
            "userCode": "ODDC-ODE1",
            "verificationUri": "https://device.sso.us-east-1.amazonaws.com/",
            "verificationUriComplete": "https://device.sso.us-east-1.amazonaws.com/?user_code=ODDC-ODE1",
            "expiresIn": 600,
            "interval": 1,
        },
        "/token": {
            "accessToken": ODD_ACCESS,
            "tokenType": "Bearer",
            "expiresIn": 3600,
            "refreshToken": ODD_REFRESH,
        },
    }


class OidcServer:
    """Answers each OIDC path with its good answer, or the odd one a test puts in its place."""

    def __init__(self) -> None:
        self.answers: dict[str, object] = oidc_answers()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = server.answers.get(self.path, {})
                html = isinstance(answer, bytes)
                body = answer if html else json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html" if html else "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcServer]:
    server = OidcServer()
    server.thread.start()
    yield server
    server.http.shutdown()
    server.http.server_close()


@pytest.fixture
def oidc_profile(oidc: OidcServer, clean_environ: Path) -> Iterator[OidcServer]:
    """Profile `work` whose SSO (and OIDC) endpoint is the odd server (added to the config)."""
    config = clean_environ.joinpath("config")
    config.write_text(
        config.read_text() + "\n[profile work]\nsso_session = corp\nsso_account_id = 123456789012\n"
        f"sso_role_name = R\nregion = us-east-1\nendpoint_url = {oidc.url}\n"
        "\n[sso-session corp]\nsso_start_url = https://d-0000000000.awsapps.com/start\n"
        "sso_region = us-east-1\n"
    )
    oidc.answers = oidc_answers()
    yield oidc
    oidc.answers = oidc_answers()


def odd_answer(path: str, **changes: object) -> tuple[str, object]:
    """The good answer of ``path`` with ``changes`` (a value of None: the field left out)."""
    answer = dict(oidc_answers()[path])  # type: ignore[call-overload]
    for name, value in changes.items():
        if value is None:
            answer.pop(name)
        else:
            answer[name] = value
    return path, answer


# (id, (path, answer), what the one line must say)
OIDC_ANSWERS = [
    (
        "no-secret-expiry",
        odd_answer("/client/register", clientSecretExpiresAt=None),
        "clientSecretExpiresAt",
    ),
    (
        "secret-expiry-huge",
        odd_answer("/client/register", clientSecretExpiresAt=10**30),
        "clientSecretExpiresAt",
    ),
    ("no-client-secret", odd_answer("/client/register", clientSecret=None), "clientSecret"),
    ("register-html", ("/client/register", PORTAL), "clientId"),
    ("no-user-code", odd_answer("/device_authorization", userCode=None), "userCode"),
    ("no-device-expiry", odd_answer("/device_authorization", expiresIn=None), "expiresIn"),
    # botocore's parser takes "600" and 1.5 as integers; "soon" it cannot read
    ("device-expiry-text", odd_answer("/device_authorization", expiresIn="soon"), "not be read"),
    ("interval-huge", odd_answer("/device_authorization", interval=10**9), "interval"),
    ("user-code-number", odd_answer("/device_authorization", userCode=1234), "userCode"),
    ("no-access-token", odd_answer("/token", accessToken=None), "accessToken"),
    ("no-token-expiry", odd_answer("/token", expiresIn=None), "expiresIn"),
    ("token-expiry-huge", odd_answer("/token", expiresIn=10**30), "expiresIn"),
    ("token-expiry-text", odd_answer("/token", expiresIn="soon"), "could not be read"),
    ("token-expiry-float", odd_answer("/token", expiresIn=1e308), "expiresIn"),
    ("token-expiry-negative", odd_answer("/token", expiresIn=-5), "expiresIn"),
    ("refresh-token-number", odd_answer("/token", refreshToken=7), "refreshToken"),
    ("token-html", ("/token", PORTAL), "accessToken"),
]


def quick(**kwargs: Any) -> Any:
    from stsmagic.sso.login import sso_login

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return sso_login("work", sleep=sleep, clock=lambda: now[0], **kwargs)


@pytest.mark.parametrize(
    ("answer", "field"), [a[1:] for a in OIDC_ANSWERS], ids=[a[0] for a in OIDC_ANSWERS]
)
def test_odd_oidc_answer_is_one_line(
    oidc_profile: OidcServer, tmp_path: Path, answer: tuple[str, object], field: str
) -> None:
    from stsmagic import RequestRefused

    path, body = answer
    oidc_profile.answers[path] = body
    with pytest.raises(RequestRefused) as caught:
        quick(show=lambda authorization: None, cache_dir=tmp_path / "cache")
    error = caught.value
    message = str(error)
    assert "\n" not in message and len(message) < 300, message
    assert "InvalidResponse" in message and field in message, message
    assert error.__cause__ is None and error.__context__ is None
    assert leaked(message + verbose_traceback(error), OIDC_SECRETS) == []
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    ("answer", "field"),
    [a[1:] for a in OIDC_ANSWERS if a[1][0] == "/token"],
    ids=[a[0] for a in OIDC_ANSWERS if a[1][0] == "/token"],
)
def test_odd_refresh_answer_is_one_line(
    oidc_profile: OidcServer, tmp_path: Path, answer: tuple[str, object], field: str
) -> None:
    """The refresh grant (anything reading an expired cached token) reads the same answer."""
    from stsmagic import StsMagicError
    from stsmagic.sso.cache import find_token

    cache = tmp_path / "cache"
    quick(show=lambda authorization: None, cache_dir=cache)  # a good login first
    (cached,) = cache.iterdir()
    token = json.loads(cached.read_text())
    token["expiresAt"] = EARLIER
    cached.write_text(json.dumps(token))
    path, body = answer
    oidc_profile.answers[path] = body
    with pytest.raises(StsMagicError) as caught:
        find_token("work", cache_dir=cache)
    error = caught.value
    assert "could not be refreshed (InvalidResponse)" in str(error) and "\n" not in str(error)
    assert error.__context__ is None
    assert leaked(str(error) + verbose_traceback(error), OIDC_SECRETS) == []
    assert json.loads(cached.read_text()) == token


def test_odd_oidc_answer_in_a_cell_is_one_line_even_verbose(
    ip: Any, oidc_profile: OidcServer, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    from stsmagic.sso import login

    monkeypatch.setattr(login, "_sleep", lambda seconds: None)
    oidc_profile.answers["/token"] = odd_answer("/token", expiresIn="soon")[1]
    ip.run_line_magic("xmode", "Verbose")
    try:
        capsys.readouterr()
        ip.run_cell("%sso_login --profile work")
        out = capsys.readouterr()
    finally:
        ip.run_line_magic("xmode", "Context")
    lines = [x for x in (out.out + out.err).splitlines() if x.strip()]
    # the link and code shown (as text here), then the one line
    assert lines[-1].startswith("UsageError: %sso_login: CreateToken refused: InvalidResponse")
    assert "Traceback" not in out.out + out.err
    assert leaked(out.out + out.err, OIDC_SECRETS) == []


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(document.cookie)",
        "http://device.example.com/?user_code=ODDC-ODE1",
        "https://device.example.com\\@127.0.0.1/",
        "data:text/html,<b>hi</b>",
    ],
)
def test_a_verification_link_that_is_not_https_is_not_a_link(
    oidc_profile: OidcServer, tmp_path: Path, link: str
) -> None:
    import html

    shown: list[Any] = []
    oidc_profile.answers["/device_authorization"] = odd_answer(
        "/device_authorization", verificationUriComplete=link
    )[1]
    quick(show=shown.append, cache_dir=tmp_path / "cache")
    page = shown[0].html()
    assert "<a " not in page and "href" not in page
    assert html.escape(link, quote=True) in page  # shown, as text, to be checked
    assert "<b>hi</b>" not in page
    oidc_profile.answers = oidc_answers()
    shown.clear()
    quick(show=shown.append, cache_dir=tmp_path / "cache")
    assert '<a href="https://device.sso.us-east-1.amazonaws.com/?user_code=ODDC-ODE1"' in (
        shown[0].html()
    )
