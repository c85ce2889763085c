"""The documentation: the site builds with ``mkdocs build --strict``, and that gate fails on a
broken link, a broken anchor or a reference object without a docstring; the README's relative
links point at files of the repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# The same answer on every Python: the main one only.
pytestmark = pytest.mark.once


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=300,
        # Material's banner about its successor is noise in a failure's output
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_the_site_builds_with_strict(tmp_path: Path) -> None:
    done = mkdocs_build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    site = tmp_path / "site"
    assert (site / "guide" / "reach" / "index.html").is_file()
    assert (site / "notebooks" / "01-quick-start" / "index.html").is_file()
    # the reference is rendered from the docstrings, not left empty
    reference = (site / "reference" / "sessions" / "index.html").read_text()
    assert 'id="stsmagic.ledger.SessionLedger.get"' in reference


SAMPLE = '''"""A module for the docs gate's test."""


def documented() -> None:
    """Has a docstring."""


def undocumented_function() -> None:
    pass


class Sample:
    """A class."""

    def method(self) -> None:
        pass

    def _private(self) -> None:
        pass
'''

PAGE = """# Home

[A page that is not there](missing.md) and [an anchor that is not there](#nowhere).

## Here
"""


def tiny_project(root: Path, *, broken: bool) -> Path:
    """The real mkdocs.yml (its validation, its docstrings hook) over a two-page docs_dir and a
    one-module package: broken, with a bad link, a bad anchor and two missing docstrings."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    config["docs_dir"] = "docs"
    config["nav"] = [{"Home": "index.md"}, {"API": "api.md"}]
    config["hooks"] = [str(ROOT / h) for h in config["hooks"] if "docstrings" in h]
    config["plugins"] = [p for p in config["plugins"] if p == "search" or "mkdocstrings" in p]
    assert config["plugins"][-1]["mkdocstrings"]["handlers"]["python"]["paths"] == ["."]
    docs = root / "docs"
    docs.mkdir(parents=True)
    sample = SAMPLE
    page = PAGE
    if not broken:
        sample = sample.replace("pass", '"""Documented."""')
        page = page.replace("missing.md", "api.md").replace("#nowhere", "#here")
    (root / "docgate_sample.py").write_text(sample)
    (docs / "index.md").write_text(page)
    (docs / "api.md").write_text("# API\n\n::: docgate_sample\n")
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config))
    return root / "mkdocs.yml"


def test_the_strict_build_fails_on_a_broken_link_anchor_or_docstring(tmp_path: Path) -> None:
    done = mkdocs_build(tiny_project(tmp_path / "broken", broken=True), tmp_path / "site")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    warnings = [line for line in output.splitlines() if line.startswith("WARNING")]
    assert any("missing.md" in line for line in warnings), output
    assert any("#nowhere" in line for line in warnings), output
    assert any("docgate_sample.undocumented_function has no docstring" in w for w in warnings), (
        output
    )
    assert any("docgate_sample.Sample.method has no docstring" in w for w in warnings), output
    assert not [w for w in warnings if "documented has no" in w or "_private" in w], output
    assert len(warnings) == 4, output


def test_the_same_project_fixed_builds(tmp_path: Path) -> None:
    """The failure above is those four problems, not the tiny project itself."""
    done = mkdocs_build(tiny_project(tmp_path / "fixed", broken=False), tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md", "CHANGELOG.md"])
def test_relative_links_point_at_files_of_the_repository(name: str) -> None:
    """GitHub shows these files: each relative link (and image) opens a file that exists, and
    each ``#anchor`` a heading of the same file."""
    text = (ROOT / name).read_text()
    anchors = {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        if not path:
            if anchor not in anchors:
                broken.append(target)
        elif not (ROOT / path).exists():
            broken.append(target)
    assert broken == []
