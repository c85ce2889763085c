"""The MFA form and the session panel in JupyterLab's light and dark themes: every text readable.

Their colours are JupyterLab's CSS variables, so they follow the theme; a fixed colour chosen
for a white page shows up in the dark theme as text too dark to read, and a theme's own orange
on white (3.8:1) as a warning too faint to read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.jupyter_page import (
    JUPYTERLAB,
    open_notebook,
    run_cell,
    set_theme,
    text_contrasts,
    write_notebook,
)

pytestmark = pytest.mark.browser

BODY_TEXT = 4.5  # WCAG 2 AA for body text

# Each theme's --jp-success-color1 and --jp-warn-color1, as computed: the light theme's green
# and orange 700 (#388e3c, #f57c00), the dark theme's 500 (#4caf50, #ff9800).
THEMES = {
    "JupyterLab Light": ("true", ["rgb(56, 142, 60)", "rgb(245, 124, 0)"]),
    "JupyterLab Dark": ("false", ["rgb(76, 175, 80)", "rgb(255, 152, 0)"]),
}
# Read in one go from the panel: the timer re-renders each cell's HTML every second.
FILLS = """panel => ['.stsmagic-active .stsmagic-fill', '.stsmagic-warn .stsmagic-fill']
  .map(selector => getComputedStyle(panel.querySelector(selector)).backgroundColor)"""

# Three sessions in the three states a row can be in: session-1 active with hours left, "soon"
# five minutes from its end (warned), "gone" expired. The ledger's clock is set from "soon"'s
# expiry, so whatever other tests did to the shared sandbox's clock the states are the same.
PANEL = """\
%sts_federation --name carol --no-activate --duration-seconds 3600 --label soon
%sts_federation --name dave --no-activate --duration-seconds 900 --label gone
import datetime as dt, stsmagic
now = lambda: dt.datetime.now(dt.timezone.utc)
ahead = stsmagic.sessions.get('soon').expiration - dt.timedelta(minutes=5) - now()
stsmagic.sessions.clock = lambda: now() + ahead
%sts_panel"""


def unreadable(locator: Any) -> list[dict[str, Any]]:
    """The texts in the element drawn with less contrast than body text needs."""
    texts = text_contrasts(locator)
    assert texts, "no text found"
    return [text for text in texts if text["ratio"] < BODY_TEXT]


@pytest.mark.parametrize("theme", list(THEMES))
def test_form_and_panel_read_well_in_each_theme(
    theme: str,
    sandbox: Any,
    lab_dir: Path,
    jupyter_lab: str,
    page: Any,
    screenshots_dir: Path | None,
) -> None:
    from playwright.sync_api import expect

    is_light, fills = THEMES[theme]
    dark = theme == "JupyterLab Dark"
    set_theme(lab_dir, theme)
    write_notebook(
        lab_dir / "notebooks/dark.ipynb",
        ["%load_ext stsmagic", f"%sts_session --serial-number {sandbox.mfa_serial}", PANEL],
    )
    open_notebook(page, JUPYTERLAB, jupyter_lab, "dark.ipynb")
    expect(page.locator("body")).to_have_attribute("data-jp-theme-name", theme)
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", is_light)
    run_cell(page, 0)

    # The form: its refusal line (the error colour), then its success line.
    form = run_cell(page, 1).locator(".stsmagic-mfa-form")
    serial = form.locator(".widget-text input").first
    code = form.locator(".stsmagic-token-code input")
    submit = form.locator("button.stsmagic-submit")
    status = form.locator(".stsmagic-status")
    serial.fill(f"arn:aws:iam::{sandbox.account_id}:mfa/nobody")
    code.fill(sandbox.mfa_code())  # six digits: sent
    expect(status).to_contain_text("✗")
    assert unreadable(form) == []
    serial.fill(sandbox.mfa_serial)
    code.fill(sandbox.mfa_code())
    expect(submit).to_be_disabled()
    expect(status).to_contain_text("session-1")
    expect(status).to_contain_text("active until")
    assert unreadable(form) == []
    if screenshots_dir is not None and dark:
        form.screenshot(path=str(screenshots_dir / "mfa_form-dark.png"))

    # The panel: an active, a warned and an expired row, the warning line, the details lines.
    panel = run_cell(page, 2).locator(".stsmagic-session-panel")
    cells = panel.locator(".stsmagic-cell")
    expect(panel.locator(".stsmagic-cell.stsmagic-active").first).to_have_text("session-1")
    expect(panel.locator(".stsmagic-cell.stsmagic-warn").first).to_have_text("soon")
    expect(panel.locator(".stsmagic-cell.stsmagic-expired").first).to_have_text("gone")
    expect(cells.filter(has_text="✕ expired")).to_have_count(1)
    expect(panel.locator(".stsmagic-warning")).to_contain_text("soon ends in 0:0")
    panel.locator("button").filter(has_text="Details").click()
    expect(panel.locator(".stsmagic-details")).to_have_count(3)
    expect(panel.locator(".stsmagic-details").first).to_be_visible()
    texts = text_contrasts(panel)
    assert {"session-1", "soon", "gone", "✕ expired"} <= {t["text"] for t in texts}
    assert [t for t in texts if t["ratio"] < BODY_TEXT] == []
    # The bars are the theme's success and warning colours, not fixed ones.
    assert panel.evaluate(FILLS) == fills
    panel.locator("button").filter(has_text="Details").click()
    expect(panel.locator(".stsmagic-details").first).to_be_hidden()
    if screenshots_dir is not None and dark:
        panel.screenshot(path=str(screenshots_dir / "panel-dark.png"))
