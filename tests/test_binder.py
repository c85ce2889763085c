"""binder/ alone builds a working demo: a fresh venv from binder/requirements.txt, then
binder/start runs the quick-start notebook headless against the sandbox it started."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import site
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest
from nbval.plugin import get_sanitize_patterns

pytestmark = pytest.mark.binder  # not in the core run on every Python (scripts/test)

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"


def shown(notebook: dict) -> list[list[str]]:
    """Each code cell's text outputs (streams, text/plain), sanitized as nbval does."""
    patterns = get_sanitize_patterns((ROOT / "tests" / "nbval_sanitize.cfg").read_text())
    cells = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        texts = []
        for output in cell["outputs"]:
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            for regex, replace in patterns:
                text = re.sub(regex, replace, text)
            texts.append(f"{output['output_type']}:{output.get('name', '')}:{text}")
        cells.append(texts)
    return cells


def binder_start(*command: str, env: dict[str, str], tmp_path: Path, timeout: float) -> str:
    """``binder/start command…`` from the repository root, ``TMPDIR`` being ``tmp_path`` and
    ``HOME`` its ``home``: its stdout, once it exited 0 and the sandbox it started, stopping
    with the command, has removed its config from ``tmp_path``."""
    (tmp_path / "home").mkdir()
    result = subprocess.run(
        [str(BINDER / "start"), *command],
        cwd=ROOT,
        env={**env, "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    deadline = time.monotonic() + 10
    while any(p.name.startswith("stsmagic-binder") for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline, list(tmp_path.iterdir())
        time.sleep(0.2)
    return result.stdout


def test_binder_start_is_executable_and_execs_its_arguments() -> None:
    start = (BINDER / "start").read_text()
    assert os.access(BINDER / "start", os.X_OK)
    assert start.startswith("#!/usr/bin/env bash")
    assert start.rstrip().endswith('exec "$@"')
    assert "-e .[demo]" in (BINDER / "requirements.txt").read_text().splitlines()


def test_binder_start_exports_the_demo_profile_and_stops_with_its_command(tmp_path: Path) -> None:
    """This interpreter, binder/start's own logic: fast, for every run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    probe = (
        "import os, boto3; from stsmagic.sso.cache import find_token; "
        "print(os.environ['AWS_PROFILE'], os.environ['AWS_ENDPOINT_URL']); "
        "print(boto3.client('sts').get_caller_identity()['Arn']); "
        "print(len(find_token()) > 20)"
    )
    printed = binder_start(sys.executable, "-c", probe, env=env, tmp_path=tmp_path, timeout=120)
    profile_line, arn, has_token = printed.splitlines()
    assert profile_line.startswith("demo http://127.0.0.1:")
    assert re.fullmatch(r"arn:aws:iam::\d{12}:user/stsmagic-user(-\d+)?", arn)
    assert has_token == "True"
    # The token is where `aws sso login` puts it, in the (here temporary) home.
    assert list((tmp_path / "home" / ".aws" / "sso" / "cache").glob("*.json"))
    port = int(profile_line.rsplit(":", 1)[1])
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # the sandbox stopped with its command


def binder_inputs_digest() -> str:
    """What the venv is built from: binder/requirements.txt, the package's metadata, Python."""
    digest = hashlib.sha256(sys.version.encode())
    for path in (BINDER / "requirements.txt", ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def binder_venv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv built only from binder/ (no system site-packages).

    A fresh install takes 20-60 s here, so the venv is built once and kept in
    pytest's cache under the digest of what it is built from: a change to
    binder/requirements.txt or pyproject.toml builds a new one. The install is editable, so the
    checkout's code is what runs. ``pytest --cache-clear`` (or ``-p no:cacheprovider``) builds
    it from nothing.
    """
    cache = getattr(request.config, "cache", None)
    name = f"binder-venv-{binder_inputs_digest()}"
    base = cache.mkdir(name) if cache is not None else tmp_path_factory.mktemp(name)
    folder = base / "venv"
    if (base / "complete").is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(folder)
    python = folder / "bin" / "python"
    # Where repo2docker runs it: the repository root, so "-e .[demo]" is this checkout. uv
    # installs the same file's requirements as repo2docker's pip does, in a fraction of pip's
    # time from a cold cache (CI's); what is tested is that binder/ alone is enough.
    build = subprocess.run(
        [
            *(sys.executable, "-m", "uv", "pip", "install", "-q"),
            *("--python", str(python), "-r", "binder/requirements.txt"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    (base / "complete").write_text(binder_inputs_digest())
    return folder


@pytest.mark.timeout(900)  # the first use builds the venv (pytest-timeout counts fixture setup)
def test_binder_start_runs_the_quick_start_notebook(binder_venv: Path, tmp_path: Path) -> None:
    python = binder_venv / "bin" / "python"
    # Nothing from this interpreter's packages: only what binder/requirements.txt installed.
    venv_path = subprocess.run(
        [str(python), "-c", "import json, sys; print(json.dumps(sys.path))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    host_packages = set(site.getsitepackages()) | {site.getusersitepackages()}
    assert host_packages.isdisjoint(json.loads(venv_path))
    assert "include-system-site-packages = false" in (binder_venv / "pyvenv.cfg").read_text()

    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PATH"] = f"{binder_venv / 'bin'}{os.pathsep}{env['PATH']}"
    out = tmp_path / "out"
    nbconvert = ["jupyter", "nbconvert", "--to", "notebook", "--execute", "--output-dir", str(out)]
    binder_start(
        *nbconvert,
        "notebooks/01-quick-start.ipynb",
        env=env,
        tmp_path=tmp_path,
        timeout=300,
    )
    executed = json.loads((out / "01-quick-start.ipynb").read_text())
    committed = json.loads((ROOT / "notebooks" / "01-quick-start.ipynb").read_text())
    assert shown(executed) == shown(committed)  # the same outputs as the committed notebook
    assert "arn:aws:iam::ACCOUNT:user/" in json.dumps(shown(executed))
