"""The server's AWS session in JupyterLab's status bar (and Notebook 7's top bar): the item, the
dialog behind it, and a notebook's boto3 signing with what the dialog signed in.

The server extension runs as installing stsmagic enables it, and serves (serve=auto: the
profile has an mfa_serial), so every kernel signs through the server's endpoint. The MFA code
is the sandbox's, typed as a user types it. No key or secret may reach the page.

With ``STSMAGIC_SCREENSHOTS=docs`` these tests write docs/status-bar.png, status-bar-dark.png,
status-bar-dialog.png and status-bar-notebook7.png.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser.jupyter_page import (
    JUPYTERLAB,
    NOTEBOOK7,
    FrontEnd,
    open_notebook,
    run_cell,
    set_theme,
    text_contrasts,
    write_notebook,
)

pytestmark = pytest.mark.browser

ITEM = ".jp-stsmagic-item"
DIALOG = ".jp-Dialog .jp-stsmagic-dialog"
# GetSessionToken's session for the profile (no duration_seconds in it: AWS's 12 hours)
SIGNED_IN = re.compile(r"^AWS: session-1 · 11:59:[0-5]\d$")
KEY_TAIL = """\
import boto3
print(boto3.session.Session().get_credentials().get_frozen_credentials().access_key[-4:])"""
# What a secret would look like in the page: a whole session key id, or a 40-character base64
# run (a secret access key's length and alphabet) standing on its own.
FULL_KEY = re.compile(r"\b(?:ASIA|AKIA)[A-Z0-9]{16}\b")
SECRET_LIKE = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])")


@pytest.fixture
def stsmagic_server_options() -> tuple[str, ...]:
    return ()  # as installed: serve=auto, and the profile has an mfa_serial, so it serves


def api(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The server's REST API, as a script would call it (the test server has no token)."""
    request = urllib.request.Request(
        f"{base}/stsmagic/api/{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        text = answer.read()
    return json.loads(text) if text else None


def item_text(page: Any) -> str:
    return str(page.locator(ITEM).inner_text()).strip()


def remaining(text: str) -> int:
    """Seconds in the item's countdown (`… · 11:59:58`)."""
    h, m, s = (int(n) for n in text.rsplit(" · ", 1)[1].split(":"))
    return h * 3600 + m * 60 + s


def open_dialog(page: Any) -> Any:
    from playwright.sync_api import expect

    page.locator(ITEM).click()
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    return dialog


def close_dialog(page: Any) -> None:
    from playwright.sync_api import expect

    page.locator(".jp-Dialog button", has_text="Close").click()
    expect(page.locator(DIALOG)).to_have_count(0)


def row(dialog: Any, label: str) -> Any:
    return dialog.locator(f'tr[data-label="{label}"]')


def assert_no_secret(page: Any, sandbox: Any) -> None:
    content = page.content()
    for secret in sandbox.issued_secrets():
        assert secret not in content
    assert sandbox.source_credentials.secret_key not in content
    assert not FULL_KEY.search(content), FULL_KEY.search(content)
    # a path (`/tmp/venv/share/jupyter/labextensions`) has the length and alphabet; a secret
    # mixes capitals, small letters and digits
    secret_like = [
        run
        for run in SECRET_LIKE.findall(content)
        if all(re.search(c, run) for c in ("[A-Z]", "[a-z]", "[0-9]"))
    ]
    assert secret_like == []


def unreadable(locator: Any) -> list[dict[str, Any]]:
    """Texts drawn with less than body text's contrast (WCAG 2 AA, 4.5:1); a disabled control
    is exempt, as WCAG has it."""
    return [
        text
        for text in text_contrasts(locator)
        if text["ratio"] < 4.5 and "disabled" not in str(text["classes"])
    ]


def shot(page: Any, folder: Path | None, name: str, locator: Any, pad: int = 12) -> None:
    """A screenshot of the region around ``locator`` (the page's width at most 900 px)."""
    if folder is None:
        return
    box = locator.bounding_box()
    viewport = page.viewport_size
    x = max(box["x"] - pad, 0)
    y = max(box["y"] - pad, 0)
    clip = {
        "x": x,
        "y": y,
        "width": min(box["width"] + 2 * pad, viewport["width"] - x),
        "height": min(box["height"] + 2 * pad, viewport["height"] - y),
    }
    page.screenshot(path=str(folder / name), clip=clip)


def sign_in(page: Any, sandbox: Any) -> Any:
    """Open the dialog and type the sandbox's code: the sixth digit sends it."""
    from playwright.sync_api import expect

    dialog = open_dialog(page)
    code = dialog.locator("input.jp-stsmagic-code")
    expect(code).to_be_enabled()
    issued = sandbox.count("GetSessionToken")
    code.press_sequentially(sandbox.mfa_code())
    expect(page.locator(ITEM)).to_have_text(SIGNED_IN)
    assert sandbox.count("GetSessionToken") == issued + 1
    expect(code).to_have_value("")  # the code is not kept, not even in the field
    return dialog


def test_status_bar_sign_in_countdown_notebook_use_forget(
    sandbox: Any,
    lab_dir: Path,
    jupyter_lab: str,
    page: Any,
    screenshots_dir: Path | None,
) -> None:
    from playwright.sync_api import expect

    write_notebook(lab_dir / "notebooks/keys.ipynb", [KEY_TAIL])
    page.set_viewport_size({"width": 1200, "height": 720})
    open_notebook(page, JUPYTERLAB, jupyter_lab, "keys.ipynb")
    item = page.locator(f".jp-StatusBar-Widget {ITEM}")
    expect(item).to_have_text("AWS: sign in")
    assert api(jupyter_lab, "GET", "sessions")["serving"] is True

    # Signed in: the item counts down from 12 hours.
    dialog = sign_in(page, sandbox)
    expect(dialog.locator(".jp-stsmagic-message")).to_have_text("Signed in.")
    first = remaining(item_text(page))
    time.sleep(2.2)
    assert remaining(item_text(page)) < first
    key = row(dialog, "session-1").locator("td").nth(3).inner_text()
    assert re.fullmatch(r"ASIA…[A-Z0-9]{4}", key), key
    if screenshots_dir is not None:
        dialog_box = page.locator(".jp-Dialog-content")
        shot(page, screenshots_dir, "status-bar-dialog.png", dialog_box, pad=0)
    assert unreadable(page.locator(".jp-Dialog-content")) == []
    close_dialog(page)
    if screenshots_dir is not None:
        status_bar = page.locator(".jp-StatusBar-Widget")
        box = status_bar.bounding_box()
        page.screenshot(
            path=str(screenshots_dir / "status-bar.png"),
            clip={"x": 0, "y": box["y"] - 24, "width": 480, "height": box["height"] + 24},
        )
    assert unreadable(item) == []

    # The notebook's kernel (started before the sign-in) signs with the server's session.
    output = run_cell(page, 0).locator(".jp-OutputArea-output")
    expect(output).to_have_text(key[-4:])
    assert api(jupyter_lab, "GET", "sessions")["sessions"][0]["access_key"] == key

    # Another session, signed in through the REST API and not made active: Use, then Forget.
    federation = api(
        jupyter_lab,
        "POST",
        "sessions",
        {"kind": "federation", "name": "alice", "label": "reports", "activate": False},
    )
    assert federation["status"] == "standby"
    dialog = open_dialog(page)  # opening it asks the server again
    row(dialog, "reports").locator("button.jp-stsmagic-use").click()
    expect(item).to_have_text(re.compile(r"^AWS: reports · 11:59:[0-5]\d$"))
    expect(dialog.locator(".jp-stsmagic-message")).to_have_text("Using reports.")
    assert api(jupyter_lab, "GET", "sessions")["active"] == "reports"
    output = run_cell_behind(page, dialog)
    expect(output).to_have_text(federation["access_key"][-4:])
    dialog = open_dialog(page)
    row(dialog, "reports").locator("button.jp-stsmagic-forget").click()
    expect(row(dialog, "reports")).to_have_count(0)
    expect(item).to_have_text("AWS: sign in")  # the active one forgotten: none is active
    row(dialog, "session-1").locator("button.jp-stsmagic-use").click()
    expect(item).to_have_text(SIGNED_IN)

    # A wrong code: the server's one line, and nothing changes.
    code = sandbox.mfa_code()
    wrong = f"{(int(code) + 500_000) % 1_000_000:06d}"  # never the code of a nearby window
    dialog.locator("input.jp-stsmagic-code").press_sequentially(wrong)
    message = dialog.locator(".jp-stsmagic-message.jp-stsmagic-error")
    expect(message).to_have_text(
        "GetSessionToken refused: AccessDenied: MultiFactorAuthentication failed with invalid "
        "MFA one time pass code."
    )
    expect(item).to_have_text(SIGNED_IN)
    assert [r["label"] for r in api(jupyter_lab, "GET", "sessions")["sessions"]] == ["session-1"]

    assert_no_secret(page, sandbox)


def run_cell_behind(page: Any, dialog: Any) -> Any:
    """Close the dialog and run the notebook's cell again; its output."""
    close_dialog(page)
    return run_cell(page, 0).locator(".jp-OutputArea-output")


def test_status_bar_in_the_dark_theme(
    sandbox: Any,
    lab_dir: Path,
    jupyter_lab: str,
    page: Any,
    screenshots_dir: Path | None,
) -> None:
    from playwright.sync_api import expect

    set_theme(lab_dir, "JupyterLab Dark")
    page.set_viewport_size({"width": 1200, "height": 720})
    page.goto(f"{jupyter_lab}/lab")
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
    item = page.locator(f".jp-StatusBar-Widget {ITEM}")
    expect(item).to_have_text("AWS: sign in")
    sign_in(page, sandbox)
    assert unreadable(page.locator(".jp-Dialog-content")) == []
    close_dialog(page)
    assert unreadable(item) == []
    if screenshots_dir is not None:
        status_bar = page.locator(".jp-StatusBar-Widget")
        box = status_bar.bounding_box()
        page.screenshot(
            path=str(screenshots_dir / "status-bar-dark.png"),
            clip={"x": 0, "y": box["y"] - 24, "width": 480, "height": box["height"] + 24},
        )
    assert_no_secret(page, sandbox)


@pytest.mark.parametrize("front_end", [NOTEBOOK7], ids=["notebook7"])
def test_the_item_sits_in_notebook_7s_top_bar(
    sandbox: Any,
    lab_dir: Path,
    front_end: FrontEnd,
    jupyter_lab: str,
    page: Any,
    screenshots_dir: Path | None,
) -> None:
    from playwright.sync_api import expect

    write_notebook(lab_dir / "notebooks/nb7.ipynb", [KEY_TAIL])
    page.set_viewport_size({"width": 1100, "height": 560})
    open_notebook(page, NOTEBOOK7, jupyter_lab, "nb7.ipynb")
    assert page.evaluate("window.jupyterapp.name") == "Jupyter Notebook"
    item = page.locator(f"#top-panel {ITEM}.jp-stsmagic-topbar")
    expect(item).to_have_text("AWS: sign in")
    dialog = sign_in(page, sandbox)
    key = row(dialog, "session-1").locator("td").nth(3).inner_text()
    close_dialog(page)
    output = run_cell(page, 0).locator(".jp-OutputArea-output")
    expect(output).to_have_text(key[-4:])
    assert unreadable(item) == []
    if screenshots_dir is not None:
        shot(page, screenshots_dir, "status-bar-notebook7.png", page.locator("#top-panel"), pad=0)
    assert_no_secret(page, sandbox)
