"""The MFA form and the session panel in Jupyter Notebook 7 (the ``notebook`` package), whose
page is one notebook, without JupyterLab's side panels."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.jupyter_page import NOTEBOOK7, FrontEnd, open_notebook, run_cell, write_notebook

pytestmark = pytest.mark.browser


@pytest.fixture
def front_end() -> FrontEnd:
    return NOTEBOOK7


def test_mfa_form_and_panel_in_notebook_7(
    sandbox: Any,
    lab_dir: Path,
    jupyter_lab: str,
    page: Any,
    screenshots_dir: Path | None,
) -> None:
    from playwright.sync_api import expect

    write_notebook(
        lab_dir / "notebooks/nb7.ipynb",
        ["%load_ext stsmagic", f"%sts_session --serial-number {sandbox.mfa_serial}", "%sts_panel"],
    )
    page.set_viewport_size({"width": 1100, "height": 560})
    open_notebook(page, NOTEBOOK7, jupyter_lab, "nb7.ipynb")
    assert page.evaluate("window.jupyterapp.name") == "Jupyter Notebook"
    run_cell(page, 0)

    form = run_cell(page, 1).locator(".stsmagic-mfa-form")
    expect(form.locator(".widget-text input").first).to_have_value(sandbox.mfa_serial)
    submit = form.locator("button.stsmagic-submit")
    expect(submit).to_be_disabled()
    issued_before = sandbox.count("GetSessionToken")
    form.locator(".stsmagic-token-code input").fill(sandbox.mfa_code())  # six digits: sent
    status = form.locator(".stsmagic-status")
    expect(status).to_have_text(
        re.compile(r"^✓ session-1 \(ASIA…\w{4}\) active until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
    )
    assert sandbox.count("GetSessionToken") == issued_before + 1

    panel = run_cell(page, 2).locator(".stsmagic-session-panel")
    active = panel.locator(".stsmagic-cell.stsmagic-active")
    expect(active.nth(0)).to_have_text("session-1")
    expect(active.nth(1)).to_have_text("session")
    expect(active.nth(2)).to_have_text("● active")
    expect(active.nth(3)).to_have_text(re.compile(r"^\d+:\d\d:\d\d$"))
    first = active.nth(3).inner_text()
    expect(active.nth(3)).not_to_have_text(first, timeout=5_000)  # counting down
    if screenshots_dir is not None:
        page.screenshot(path=str(screenshots_dir / "notebook7.png"))

    content = page.content()
    for secret in sandbox.issued_secrets():
        assert secret not in content
