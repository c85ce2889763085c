"""%sts_console in real JupyterLab: the link appears with its countdown, a click opens the
console (the sandbox's login page) as the session's principal in a new tab, and the notebook
saved with its widget state holds no URL."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.browser.jupyter_page import JUPYTERLAB, open_notebook, run_cell, write_notebook

pytestmark = pytest.mark.browser


def save_widget_state(lab_dir: Path) -> None:
    """JupyterLab's "Save Jupyter widget state in notebooks": on, so a save writes every
    widget's state into the file, as a user who turned it on gets."""
    settings = lab_dir / "settings/@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"saveState": True}))


@pytest.fixture
def lab_with_widget_state(lab_dir: Path) -> Path:
    save_widget_state(lab_dir)
    return lab_dir


def test_the_console_link_opens_the_console_as_the_principal_in_a_new_tab(
    sandbox: Any,
    lab_with_widget_state: Path,
    jupyter_lab: str,
    page: Any,
    screenshots_dir: Path | None,
) -> None:
    from playwright.sync_api import expect

    lab_dir = lab_with_widget_state
    notebook = lab_dir / "notebooks/console.ipynb"
    write_notebook(
        notebook,
        [
            f"%load_ext stsmagic\n%config StsMagics.signin_url = {sandbox.signin_url!r}",
            "fed = %sts_federation --name console-user --duration-seconds 3600",
            "%sts_console --service s3 --region eu-west-1",
        ],
    )
    open_notebook(page, JUPYTERLAB, jupyter_lab, "console.ipynb")
    run_cell(page, 0)
    run_cell(page, 1)
    logins = sandbox.count("login")

    cell = run_cell(page, 2)
    widget = cell.locator(".stsmagic-console-link")
    link = widget.locator("a.stsmagic-console-open[href]")
    expect(link).to_be_visible()
    principal = f"arn:aws:sts::{sandbox.account_id}:federated-user/console-user"
    expect(link).to_have_text(f"Open the AWS console as {principal}")
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("rel") == "noopener noreferrer"
    countdown = widget.locator(".stsmagic-console-countdown")
    expect(countdown).to_have_text(re.compile(r"^expires in 0:1[45]:\d\d$"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=5_000)  # the kernel's timer ticks
    # What a notebook's text shows of it: the masked repr, never the URL.
    href = str(link.get_attribute("href"))
    assert href.startswith(sandbox.signin_url + "?Action=login&Issuer=stsmagic&")
    if screenshots_dir is not None:
        cell.screenshot(path=str(screenshots_dir / "console.png"))

    with page.context.expect_page() as opened:
        link.click()
    console = opened.value
    console.wait_for_load_state()
    expect(console.locator(".principal")).to_have_text(principal)
    expect(console.locator(".destination")).to_have_text(
        "https://eu-west-1.console.aws.amazon.com/s3/home?region=eu-west-1"
    )
    assert sandbox.count("login") == logins + 1
    # noreferrer: the console's tab was not told which notebook it came from
    assert console.evaluate("() => document.referrer") == ""
    console.close()

    # Saved with the widget state on: the state is there, the URL and its token are not.
    before = notebook.stat().st_mtime
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while notebook.stat().st_mtime == before and time.monotonic() < deadline:
        time.sleep(0.2)
    saved = notebook.read_text()
    assert "application/vnd.jupyter.widget-state+json" in saved
    assert "stsmagic.widgets.console_link.ConsoleLink" in saved  # its state was saved
    token = parse_qs(urlsplit(href).query)["SigninToken"][0]
    for secret in (href, token, quote(token, safe=""), *sandbox.issued_secrets()):
        assert secret not in saved
    assert "ConsoleLink(who=" in saved  # its text/plain, masked
