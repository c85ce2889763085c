"""The whole product in real JupyterLab and headless Chromium, against the sandbox.

A user opens a notebook, loads the extension, types the MFA code into the form, sees the
session in the panel counting down, and the next boto3 call is signed with the new session.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.jupyter_page import JUPYTERLAB, open_notebook, run_cell, write_notebook

pytestmark = pytest.mark.browser

# What the panel's layout is in the page: elements wider inside than out (a scrollbar, or cut
# off), the header cells' and the first row's boxes, and the grid's natural width.
PANEL_LAYOUT = """panel => {
  const box = e => { const r = e.getBoundingClientRect(); return {x: r.x, width: r.width}; };
  const overflowing = [panel, ...panel.querySelectorAll('*')]
    .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)
    .map(e => `${e.className} ${e.scrollWidth}>${e.clientWidth}`);
  const grid = panel.querySelector('.stsmagic-grid');
  const cells = [...grid.children];
  const headers = cells.filter(e => e.classList.contains('stsmagic-head'));
  const columns = getComputedStyle(grid).gridTemplateColumns.split(' ').length;
  const natural = [...grid.children].filter(e => !e.classList.contains('stsmagic-details'))
    .reduce((right, e) => Math.max(right, e.getBoundingClientRect().right), 0);
  return {overflowing, columns, headers: headers.map(box),
          cells: cells.slice(headers.length, 2 * headers.length).map(box),
          grid_width: natural - grid.getBoundingClientRect().x};
}"""

IDENTITY = "import boto3\nprint(boto3.client('sts').get_caller_identity()['Arn'])"


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
            "%sts_federation --name carol --no-activate --duration-seconds 3600\n%sts_panel",
            IDENTITY,
        ],
    )
    open_notebook(page, JUPYTERLAB, jupyter_lab, "sts.ipynb")

    run_cell(page, 0)

    # The form: device prefilled; typed a key at a time, the status line says why the button
    # is disabled, Enter on five digits sends nothing, the sixth digit sends the code.
    form_cell = run_cell(page, 1)
    form = form_cell.locator(".stsmagic-mfa-form")
    expect(form.locator(".widget-text input").first).to_have_value(sandbox.mfa_serial)
    submit = form.locator("button.stsmagic-submit")
    expect(submit).to_be_disabled()
    code = form.locator(".stsmagic-token-code input")
    status = form.locator(".stsmagic-status")
    issued_before = sum(r.operation == "GetSessionToken" for r in sandbox.requests)
    typed = sandbox.mfa_code()
    code.press_sequentially(typed[:5])
    expect(status).to_have_text("5 of 6 digits.")
    code.press("Enter")
    expect(submit).to_be_disabled()
    code.press_sequentially(typed[5:])
    expect(status).to_contain_text("session-1")
    expect(status).to_contain_text("active until")
    expect(code).to_have_value("")
    expect(submit).to_be_disabled()
    assert sum(r.operation == "GetSessionToken" for r in sandbox.requests) == issued_before + 1
    if screenshots_dir is not None:
        form.screenshot(path=str(screenshots_dir / "mfa_form.png"))

    # The panel, at 1400 x 1000 with the file browser open: the active row counting down in
    # the kernel's timer thread, no horizontal scrollbar, headers over their cells.
    panel_cell = run_cell(page, 2)
    panel = panel_cell.locator(".stsmagic-session-panel")
    active = panel.locator(".stsmagic-cell.stsmagic-active")
    expect(active.nth(0)).to_have_text("session-1")
    expect(active.nth(2)).to_have_text("● active")
    remaining = active.nth(3)
    expect(remaining).to_have_text(re.compile(r"^\d+:\d\d:\d\d$"))
    first = remaining.inner_text()
    hours, minutes, seconds = map(int, first.split(":"))
    # 12 hours, give or take what other tests moved the shared sandbox's clock.
    assert abs(hours * 3600 + minutes * 60 + seconds - 43200) < 300, first
    expect(remaining).not_to_have_text(first, timeout=5_000)
    expect(active.nth(4)).to_have_text(re.compile(r"^[A-Z][a-z]{2} \d\d \d\d:\d\d UTC$"))
    expect(panel.locator(".stsmagic-cell").filter(has_text="federation-2")).to_have_count(1)
    expect(page.locator("#filebrowser")).to_be_visible()
    layout = panel.evaluate(PANEL_LAYOUT)
    assert layout["overflowing"] == [], layout
    assert layout["columns"] == len(layout["headers"]) == 8, layout  # with calls
    for header, cell in zip(layout["headers"], layout["cells"], strict=True):
        assert abs(header["x"] - cell["x"]) < 1 and abs(header["width"] - cell["width"]) < 1
    assert layout["grid_width"] <= 900, layout  # eight columns and the actions, unsqueezed
    # Narrowed to 860 px (eight columns since calls) it still fits, and its message line says
    # what a click did.
    panel.evaluate("element => { element.style.width = '860px'; }")
    assert panel.evaluate(PANEL_LAYOUT)["overflowing"] == []
    panel.locator(".stsmagic-actions button").filter(has_text="Use").nth(1).click()
    expect(panel.locator(".stsmagic-message")).to_have_text("Using federation-2")
    panel.locator(".stsmagic-actions button").filter(has_text="Use").nth(1).click()
    expect(panel.locator(".stsmagic-message")).to_have_text("Using session-1")
    if screenshots_dir is not None:
        panel.screenshot(path=str(screenshots_dir / "panel.png"))
    # Principal, masked key and issued time on demand: the Details toggle.
    panel.locator("button").filter(has_text="Details").click()
    details = panel.locator(".stsmagic-details").first
    expect(details).to_be_visible()
    expect(details).to_contain_text("issued ")
    # Its own line under the row, as wide as all the columns together.
    box, headers = details.bounding_box(), layout["headers"]
    assert abs(box["x"] - headers[0]["x"]) < 1
    assert abs(box["width"] - sum(h["width"] for h in headers)) < 1
    assert panel.evaluate(PANEL_LAYOUT)["overflowing"] == [], panel.evaluate(PANEL_LAYOUT)
    masked = re.findall(r"access key (ASIA…\w{4})", details.inner_text())[0]

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


def test_an_expired_mfa_session_asks_for_a_code_under_the_cell(
    sandbox: Any, lab_dir: Path, jupyter_lab: str, page: Any
) -> None:
    """Issue 13: the renewer's getpass shows JupyterLab's password box; the cell finishes."""
    from playwright.sync_api import expect

    write_notebook(
        lab_dir / "notebooks/renew.ipynb",
        [
            "%load_ext stsmagic\nfrom stsmagic.sandbox import connect\n"
            f"code = connect({sandbox.endpoint_url!r}).mfa_code()",
            "%sts_session --token-code $code --duration-seconds 900 --label mfa",
            "import datetime as dt, stsmagic\nfirst = stsmagic.sessions.get('mfa')\n"
            "stsmagic.sessions.clock = lambda: (\n"
            "    dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))  # an hour later\n"
            f"{IDENTITY}\n"
            "print('renewed', stsmagic.sessions.get('mfa').access_key_id != first.access_key_id)",
        ],
    )
    open_notebook(page, JUPYTERLAB, jupyter_lab, "renew.ipynb")
    run_cell(page, 0)
    run_cell(page, 1)
    cell = page.locator(".jp-Notebook .jp-Cell").nth(2)
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    box = cell.locator("input.jp-Stdin-input")
    expect(box).to_be_visible(timeout=20_000)
    assert box.get_attribute("type") == "password"
    expect(cell.locator(".jp-Stdin-prompt")).to_contain_text(
        f"MFA code for {sandbox.mfa_serial} to renew mfa"
    )
    box.fill(sandbox.mfa_code())
    box.press("Enter")
    output = cell.locator(".jp-OutputArea-output").last
    expect(output).to_contain_text("renewed True", timeout=20_000)
    assert sandbox.user_arn in cell.locator(".jp-OutputArea").inner_text()
