"""The package as a user installs it: the wheel built from a clean clone, installed (not
editable) with its `demo` extra in a fresh virtual environment; `stsmagic demo` serves the
notebooks the wheel ships (the build maps the repository's notebooks/ into the package), and the
quick-start notebook passes nbval against the installed package and the demo's own sandbox. The
wheel is built from the sdist, as `python -m build` and `uv build` do.

The clone holds what is committed: commit a packaging change before running this. The install
fetches the `demo` extra's dependencies from the package index with uv (pip takes several times
as long from a cold cache) and takes minutes: `-m "not wheel"` leaves this out.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

pytestmark = [pytest.mark.wheel, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
QUICK_START = "01-quick-start.ipynb"


def run(command: list[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def outside_env(**extra: str) -> dict[str, str]:
    """This machine's environment less anything that would point back at the checkout or at
    another environment, and no AWS_* of the machine's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV", "JUPYTER", "STSMAGIC_"))
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist of a `git clone` of this repository (what is committed, nothing else) and the
    wheel built from that sdist, as `python -m build` builds them: in an isolated environment
    with the build-system requirements. A wheel that builds from the sdist proves the sdist
    holds what a wheel needs (the notebooks the build maps into the package among them)."""
    folder = tmp_path_factory.mktemp("wheel")
    clone = folder / "clone"
    run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], timeout=120)
    dist = folder / "dist"
    run(
        [sys.executable, "-m", "uv", "build", "-q", "-o", str(dist), str(clone)],
        timeout=600,
        env=outside_env(),
    )
    return dist


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (built,) = dist.glob("stsmagic-*.whl")
    return built


def test_the_sdist_holds_what_a_wheel_build_needs(dist: Path) -> None:
    from stsmagic._version import __version__

    (sdist,) = dist.glob("stsmagic-*.tar.gz")
    assert sdist.name == f"stsmagic-{__version__}.tar.gz"
    top = f"stsmagic-{__version__}/"
    with tarfile.open(sdist) as archive:
        names = {n.removeprefix(top) for n in archive.getnames()}
    assert {"pyproject.toml", "LICENSE", "README.md", "stsmagic/py.typed"} <= names
    assert sorted(n.split("/", 1)[1] for n in names if n.startswith("notebooks/")) == NOTEBOOKS
    assert not [n for n in names if n.startswith("stsmagic/notebooks")]
    # The TypeScript and the server extension's config file, and the extension built from the
    # TypeScript (an artifact: a wheel built from the sdist needs no Node), but none of npm's
    # install or tsc's output.
    assert {
        "labextension/package.json",
        "labextension/package-lock.json",
        "labextension/install.json",
        "labextension/src/index.ts",
        "jupyter-config/server-config/stsmagic.json",
        "stsmagic/labextension/package.json",
        "stsmagic/labextension/static/style.js",
    } <= names
    assert not [n for n in names if n.startswith(("labextension/node_modules", "labextension/lib"))]


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no system site-packages) with the wheel and its `demo` extra, plus nbval."""
    folder = tmp_path_factory.mktemp("venv") / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(folder)
    run(
        [
            *(sys.executable, "-m", "uv", "pip", "install", "-q"),
            *("--python", str(folder / "bin" / "python")),
            *(f"{wheel}[demo]", "nbval", "pytest"),
        ],
        timeout=1500,
        env=outside_env(),
    )
    return folder


def test_the_wheel_ships_the_jupyterlab_extension_and_enables_the_server_extension(
    wheel: Path,
) -> None:
    from stsmagic._version import __version__

    data = f"stsmagic-{__version__}.data/data/"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        package = json.loads(
            archive.read(f"{data}share/jupyter/labextensions/stsmagic/package.json")
        )
        install = json.loads(
            archive.read(f"{data}share/jupyter/labextensions/stsmagic/install.json")
        )
        config = json.loads(
            archive.read(f"{data}etc/jupyter/jupyter_server_config.d/stsmagic.json")
        )
    assert package["name"] == "stsmagic" and package["version"] == __version__
    assert install["packageName"] == "stsmagic"
    assert config == {"ServerApp": {"jpserver_extensions": {"stsmagic": True}}}
    assert f"{data}share/jupyter/labextensions/stsmagic/static/style.js" in names
    assert [
        n
        for n in names
        if n.startswith(f"{data}share/jupyter/labextensions/stsmagic/static/remoteEntry.")
    ]
    # shipped once, where Jupyter looks: not also inside the package
    assert not [n for n in names if n.startswith("stsmagic/labextension")]


def test_the_wheel_ships_the_notebooks_the_license_and_its_metadata(wheel: Path) -> None:
    from stsmagic._version import __version__

    assert wheel.name == f"stsmagic-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = f"stsmagic-{__version__}.dist-info"
        metadata = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        shipped_license = archive.read(f"{dist_info}/licenses/LICENSE")
        shipped_quick_start = archive.read(f"stsmagic/notebooks/{QUICK_START}")
    assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("stsmagic/notebooks/")) == (
        NOTEBOOKS
    )
    assert shipped_quick_start == (ROOT / "notebooks" / QUICK_START).read_bytes()
    assert "stsmagic/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "binder/", "docs/"))]
    assert shipped_license == (ROOT / "LICENSE").read_bytes()
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert metadata["Version"] == __version__
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert sorted(urls) == ["Changelog", "Documentation", "Issues", "Source"]
    assert urls["Source"] == "https://github.com/stsmagic/stsmagic"
    classifiers = metadata.get_all("Classifier")
    assert {c for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    assert "Provides-Extra: demo" in str(metadata)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_jupyter_finds_both_extensions_enabled_in_the_installed_wheel(installed: Path) -> None:
    """`jupyter labextension list` and `jupyter server extension list` of the venv, as a user
    reads them (less their colours)."""
    from stsmagic._version import __version__

    bin_dir = installed / "bin"
    assert (installed / "share/jupyter/labextensions/stsmagic/static/style.js").is_file()
    config = installed / "etc/jupyter/jupyter_server_config.d/stsmagic.json"
    assert json.loads(config.read_text())["ServerApp"]["jpserver_extensions"] == {"stsmagic": True}
    env = outside_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", HOME=str(installed))
    labextensions = run([str(bin_dir / "jupyter"), "labextension", "list"], timeout=120, env=env)
    lab = ANSI.sub("", labextensions.stdout + labextensions.stderr)
    assert re.search(
        rf"^\s+stsmagic v{re.escape(__version__)} enabled OK \(python, stsmagic\)$", lab, re.M
    ), lab
    extensions = run(
        [str(bin_dir / "jupyter"), "server", "extension", "list"], timeout=120, env=env
    )
    server = ANSI.sub("", extensions.stdout + extensions.stderr)
    assert re.search(r"^\s+stsmagic enabled$", server, re.M), server
    assert re.search(rf"^\s+stsmagic {re.escape(__version__)} OK$", server, re.M), server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def get_json(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def pids_marked(folder: Path) -> list[int]:
    """Live processes the demo started (it marks them with STSMAGIC_DEMO_DIR=<its folder>)."""
    wanted = f"STSMAGIC_DEMO_DIR={folder}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_the_installed_demo_serves_the_shipped_notebooks_and_the_quick_start_passes(
    installed: Path, tmp_path: Path
) -> None:
    bin_dir = installed / "bin"
    scratch = tmp_path / "tmp"  # the demo's TMPDIR: empty again once it stops
    scratch.mkdir()
    env = outside_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", TMPDIR=str(scratch))

    # The package runs from the venv's site-packages, installed from the wheel (not editable).
    where = run(
        [str(bin_dir / "python"), "-c", "import stsmagic; print(stsmagic.__file__)"],
        timeout=60,
        env=env,
        cwd=tmp_path,
    ).stdout.strip()
    (site_packages,) = installed.glob("lib/python*/site-packages")
    assert Path(where).resolve() == (site_packages / "stsmagic" / "__init__.py").resolve()
    assert not list(site_packages.glob("__editable__*"))  # what an editable install leaves
    from stsmagic._version import __version__

    version = run([str(bin_dir / "stsmagic"), "--version"], timeout=60, env=env).stdout
    assert version == f"stsmagic {__version__}\n"

    port, sandbox_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            *(str(bin_dir / "stsmagic"), "demo", "--no-browser"),
            *("--port", str(port), "--sandbox-port", str(sandbox_port)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    folder: Path | None = None
    try:
        assert process.stdout is not None
        lines: list[str] = []
        endpoint = token = None
        # Until the three lines are there or the demo ends (the test's timeout bounds the wait:
        # the sandbox takes its time to start on a loaded machine).
        while not (endpoint and folder and token):
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if m := re.search(r"sandbox at (\S+), AWS config in (\S+)", line):
                endpoint, folder = m.group(1), Path(m.group(2))
            if m := re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=(\w+)", line):
                token = m.group(1)
        assert endpoint and folder and token, "".join(lines)

        # JupyterLab answers, on a working copy of the notebooks the wheel installed.
        deadline = time.monotonic() + 300
        while True:
            assert process.poll() is None, "stsmagic demo exited early"
            try:
                status = get_json(f"http://127.0.0.1:{port}/api/status", token)
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not answer"
                time.sleep(0.5)
        assert "started" in status
        served = get_json(f"http://127.0.0.1:{port}/api/contents", token)["content"]
        assert sorted(item["name"] for item in served) == NOTEBOOKS
        copy = folder / "notebooks"
        shipped = site_packages / "stsmagic" / "notebooks" / QUICK_START
        assert (copy / QUICK_START).read_bytes() == shipped.read_bytes()

        # The quick-start notebook under nbval, in the venv, against the demo's sandbox and
        # profile, as the demo's own kernels get them.
        notebook_env = {
            **env,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": str(folder / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(folder / "credentials"),
            "AWS_PROFILE": "demo",
            "HOME": str(folder / "home"),
        }
        nbval = subprocess.run(
            [
                *(str(bin_dir / "python"), "-m", "pytest", "--nbval", "--nbval-current-env"),
                *(str(copy / QUICK_START), "--nbval-cell-timeout", "120"),
                *("--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg")),
                *("-p", "no:cacheprovider", "-q", "-o", "addopts="),
                *("--rootdir", str(copy)),
            ],
            cwd=copy,
            env=notebook_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        summary = nbval.stdout.strip().splitlines()[-1] if nbval.stdout.strip() else ""
        assert nbval.returncode == 0, nbval.stdout[-6000:] + nbval.stderr[-2000:]
        cells = json.loads((copy / QUICK_START).read_text())["cells"]
        expected = sum(1 for cell in cells if cell["cell_type"] == "code")
        assert re.search(rf"\b{expected} passed\b", summary), summary
        assert "failed" not in summary and "skipped" not in summary

        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if folder is not None:  # a broken demo must not leave its JupyterLab behind either
            for pid in pids_marked(folder):
                os.kill(pid, signal.SIGKILL)

    assert process.returncode == 0, output
    assert "stopped; sandbox and temporary files removed" in output
    assert not listening(port)
    assert not listening(sandbox_port)
    assert not folder.exists()
    assert list(scratch.iterdir()) == []
    assert pids_marked(folder) == []
