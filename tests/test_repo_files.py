"""What a fresh clone holds and what git ignores: no build products in the repository, and a
virtual environment, caches and notebook checkpoints never show up as changes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module", autouse=True)
def checkout() -> None:
    if git("rev-parse", "--is-inside-work-tree").stdout.strip() != "true":
        pytest.skip("not a git checkout (an sdist)")


def test_no_build_products_are_tracked() -> None:
    tracked = git("ls-files").stdout.splitlines()
    assert tracked
    assert [p for p in tracked if "__pycache__/" in p or p.endswith((".pyc", ".pyo"))] == []
    assert [
        p
        for p in tracked
        if p.startswith((".venv/", ".venvs/", "venv/", "stsmagic/labextension/"))
        or ".ipynb_checkpoints" in p
        or "node_modules/" in p
    ] == []


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".venvs/python3.12/bin/python",
        "venv/lib/site.py",
        "stsmagic/widgets/__pycache__/panel.cpython-311.pyc",
        "stsmagic/x.pyc",
        "notebooks/.ipynb_checkpoints/01-quick-start-checkpoint.ipynb",
        "stsmagic.egg-info/PKG-INFO",
        ".pytest_cache/v/cache",
        ".env",
        "site/index.html",  # mkdocs build
        # the JupyterLab extension's npm install and build (the sdist carries the built one)
        "labextension/node_modules/@jupyterlab/application/package.json",
        "labextension/lib/index.js",
        "labextension/tsconfig.tsbuildinfo",
        "stsmagic/labextension/package.json",
        "stsmagic/labextension/static/style.js",
    ],
)
def test_git_ignores(path: str) -> None:
    assert git("check-ignore", "--no-index", "-q", path).returncode == 0, path
