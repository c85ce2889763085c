"""What the browser tests share, whichever front end serves the notebook: the front ends, a
notebook written to disk, opening it and waiting for its kernel, running a cell as a user does,
the theme, and how readable a widget's text is.

JupyterLab and Notebook 7 are built from the same parts, so one set of selectors and one kernel
wait serve both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FrontEnd:
    """A Jupyter front end: its server app (``python -m module``), that app's own options, and
    the path of a notebook's page."""

    name: str
    module: str
    options: tuple[str, ...]
    notebook_path: str  # format with the notebook's path under the root dir

    def notebook_url(self, base: str, path: str) -> str:
        return f"{base}/{self.notebook_path.format(path)}"


JUPYTERLAB = FrontEnd(
    "JupyterLab",
    "jupyterlab",
    (
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        "--LabApp.expose_app_in_browser=True",
    ),
    "lab/tree/{}",
)
# Notebook 7 is built from JupyterLab's parts: the same window.jupyterapp once exposed, the same
# notebook, cell and output classes, the same settings dir (theme, news pop-up).
NOTEBOOK7 = FrontEnd(
    "Jupyter Notebook",
    "notebook",
    ("--JupyterNotebookApp.expose_app_in_browser=True",),
    "notebooks/{}",
)


KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""

# WCAG 2's contrast ratio of every piece of text in an element (each element with text of its
# own, and each input's value), against the background it is drawn on: the element's and its
# ancestors' background colours composited from the page down (translucent tints included).
TEXT_CONTRASTS = """root => {
  const parse = value => {
    // rgb()/rgba() with 0-255 channels, or color(srgb ...) with 0-1 ones (a color-mix())
    const m = value.match(/^rgba?\\(([^)]*)\\)$/);
    const c = value.match(/^color\\(srgb ([^)]*)\\)$/);
    if (!m && !c) throw new Error(`a colour this test cannot read: ${value}`);
    const [r, g, b, a = 1] = (m || c)[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return m ? {r, g, b, a} : {r: r * 255, g: g * 255, b: b * 255, a};
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a), a: 1});
  const luminance = c => {
    const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
  };
  const background = element => {
    const layers = [];
    for (let e = element; e; e = e.parentElement) {
      layers.push(parse(getComputedStyle(e).backgroundColor));
    }
    const canvas = {r: 255, g: 255, b: 255, a: 1};
    return layers.reverse().reduce((under, top) => over(top, under), canvas);
  };
  const hasText = e => e.matches('input, select') ||
    [...e.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  return [root, ...root.querySelectorAll('*')]
    .filter(e => hasText(e) && e.getClientRects().length > 0)
    .map(e => {
      const under = background(e);
      const text = over(parse(getComputedStyle(e).color), under);
      const [light, dark] = [luminance(text), luminance(under)].sort((x, y) => y - x);
      const rgb = c => `rgb(${Math.round(c.r)}, ${Math.round(c.g)}, ${Math.round(c.b)})`;
      return {text: (e.value || e.textContent).trim().slice(0, 40), classes: e.className,
              color: rgb(text), background: rgb(under),
              ratio: Math.round((light + 0.05) / (dark + 0.05) * 100) / 100};
    });
}"""


def text_contrasts(locator: Any) -> list[dict[str, Any]]:
    """Each visible text in the element and the contrast ratio it is drawn with."""
    return list(locator.evaluate(TEXT_CONTRASTS))


def set_theme(lab_dir: Path, theme: str) -> None:
    """The theme the front end opens with ("JupyterLab Dark"), as a user's settings choose it."""
    path = lab_dir / "settings/@jupyterlab/apputils-extension/themes.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"theme": theme}))


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


def open_notebook(page: Any, front_end: FrontEnd, base: str, path: str) -> None:
    """Open the notebook's page and wait until its kernel is connected and idle."""
    page.goto(front_end.notebook_url(base, path))
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)


def run_cell(page: Any, index: int) -> Any:
    """Run one cell as a user does (click, Shift+Enter) and wait for it to finish."""
    from playwright.sync_api import expect

    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    expect(cell.locator(".jp-InputArea-prompt")).to_have_text(re.compile(r"\[\d+\]:"))
    return cell
