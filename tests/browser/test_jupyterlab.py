"""The whole product in real JupyterLab and headless Chromium, against the sandbox.

A user opens a notebook, loads the extension, types the MFA code into the form, sees the
session in the panel counting down, and the next boto3 call is signed with the new session.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""

IDENTITY = "import boto3\nprint(boto3.client('sts').get_caller_identity()['Arn'])"


def write_notebook(path: Path, sources: list[str]) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(notebook, path)


def run_cell(page: Any, index: int) -> Any:
    """Run one cell as a user does (click, Shift+Enter) and wait for it to finish."""
    from playwright.sync_api import expect

    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    expect(cell.locator(".jp-InputArea-prompt")).to_have_text(re.compile(r"\[\d+\]:"))
    return cell


def test_mfa_form_panel_and_boto3_in_jupyterlab(
    sandbox: Any,
    lab_dir: Path,
    jupyter_lab: str,
    page: Any,
    screenshots_dir: Path | None,
) -> None:
    from playwright.sync_api import expect

    write_notebook(
        lab_dir / "notebooks/sts.ipynb",
        [
            "%load_ext stsmagic",
            f"%sts_session --serial-number {sandbox.mfa_serial}",
            "%sts_panel",
            IDENTITY,
        ],
    )
    page.goto(f"{jupyter_lab}/lab/tree/sts.ipynb")
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)

    run_cell(page, 0)

    # The form: device prefilled, button enabled by six digits, success line after the click.
    form_cell = run_cell(page, 1)
    form = form_cell.locator(".stsmagic-mfa-form")
    expect(form.locator(".widget-text input").first).to_have_value(sandbox.mfa_serial)
    submit = form.locator("button.stsmagic-submit")
    expect(submit).to_be_disabled()
    code = form.locator(".stsmagic-token-code input")
    issued_before = sum(r.operation == "GetSessionToken" for r in sandbox.requests)
    code.fill(sandbox.mfa_code())
    expect(submit).to_be_enabled()
    submit.click()
    status = form.locator(".stsmagic-status")
    expect(status).to_contain_text("session-1")
    expect(status).to_contain_text("active until")
    expect(code).to_have_value("")
    expect(submit).to_be_disabled()
    assert sum(r.operation == "GetSessionToken" for r in sandbox.requests) == issued_before + 1
    if screenshots_dir is not None:
        form.screenshot(path=str(screenshots_dir / "mfa_form.png"))

    # The panel: the active row, counting down in the kernel's timer thread.
    panel_cell = run_cell(page, 2)
    row = panel_cell.locator(".stsmagic-session-panel tr.stsmagic-active")
    expect(row).to_contain_text("session-1")
    expect(row.locator("td").nth(7)).to_have_text("● active")
    remaining = row.locator("td").nth(6)
    expect(remaining).to_have_text(re.compile(r"^\d+:\d\d:\d\d$"))
    first = remaining.inner_text()
    hours, minutes, seconds = map(int, first.split(":"))
    # 12 hours, give or take what other tests moved the shared sandbox's clock.
    assert abs(hours * 3600 + minutes * 60 + seconds - 43200) < 300, first
    expect(remaining).not_to_have_text(first, timeout=5_000)
    masked = row.locator("td").nth(3).inner_text()
    if screenshots_dir is not None:
        panel_cell.locator(".stsmagic-session-panel").screenshot(
            path=str(screenshots_dir / "panel.png")
        )

    # The next boto3 call in the kernel is signed with the new session.
    identity_cell = run_cell(page, 3)
    expect(identity_cell.locator(".jp-OutputArea-output")).to_contain_text(sandbox.user_arn)
    calls = [r for r in sandbox.requests if r.operation == "GetCallerIdentity"]
    key = calls[-1].access_key_id
    assert key.startswith("ASIA") and key != sandbox.source_credentials.access_key
    assert f"{key[:4]}…{key[-4:]}" == masked

    # Nothing secret reached the page.
    content = page.content()
    for secret in sandbox.issued_secrets():
        assert secret not in content
