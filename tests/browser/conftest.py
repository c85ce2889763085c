"""Real JupyterLab (or Notebook 7: the `front_end` fixture) in headless Chromium, its kernel
pointed at the test's sandbox.

The browser is the system's Chromium (/usr/bin/chromium), driven by Playwright, which never
downloads one of its own; the server runs without a token on 127.0.0.1, its settings, runtime
and AWS files in the test's tmp dir.

The server, the kernel it starts and the browser are separate processes; every one is stopped
in teardown, whatever happened. On a failure the page is saved as a screenshot under the
test's tmp dir and the path printed, with the server's log.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.jupyter_page import JUPYTERLAB, FrontEnd
from tests.helpers.jupyter_server import end

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Under CI the browser test must run (a missing Chromium fails it); elsewhere it may skip.
    if Path(CHROMIUM).exists() or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (scripts/test installs it)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def front_end() -> FrontEnd:
    """Which front end the server is: JupyterLab unless a test module overrides this."""
    return JUPYTERLAB


@pytest.fixture
def stsmagic_server_options() -> tuple[str, ...]:
    """The stsmagic server extension's options (installing stsmagic enables it in every Jupyter
    server). These tests drive the *kernel's* widgets: with the extension serving (serve=auto,
    and the profile below has an mfa_serial) every kernel would sign through the server's
    endpoint, which has no session until someone signs in there, instead of the profile's
    keys. `serve=never` (a documented setting: the server keeps sessions, its kernels sign as
    before) keeps them the kernel's own; test_status_bar.py overrides this to serve."""
    return ("--StsMagicServer.serve=never",)


@pytest.fixture
def lab_dir(tmp_path: Path, sandbox: Any) -> Path:
    """A home for the server: Jupyter's dirs, no news pop-up, an AWS config for the sandbox."""
    root = tmp_path / "lab"
    for name in ("config", "runtime", "settings", "workspaces", "ipython", "notebooks", "aws"):
        (root / name).mkdir(parents=True)
    notification = root / "settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    keys = sandbox.source_credentials
    (root / "aws/credentials").write_text(
        f"[default]\naws_access_key_id = {keys.access_key}\n"
        f"aws_secret_access_key = {keys.secret_key}\n"
    )
    (root / "aws/config").write_text(
        "[default]\nregion = us-east-1\n"
        f"mfa_serial = {sandbox.mfa_serial}\nendpoint_url = {sandbox.endpoint_url}\n"
    )
    return root


class LabServer:
    """A Jupyter server process (JupyterLab, or Notebook 7) on 127.0.0.1 and where its log
    goes."""

    def __init__(
        self, process: subprocess.Popen[bytes], base: str, log: Path, name: str = "JupyterLab"
    ) -> None:
        self.process = process
        self.base = base
        self.log = log
        self.name = name

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/status", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} not up in {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """POST /api/shutdown (which stops its kernels), then terminate, then kill."""

        def shutdown() -> None:
            request = urllib.request.Request(f"{self.base}/api/shutdown", method="POST")
            urllib.request.urlopen(request, timeout=5).close()

        end(self.process, shutdown, wait=10)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def lab_server(
    lab_dir: Path, sandbox: Any, front_end: FrontEnd, stsmagic_server_options: tuple[str, ...]
) -> Iterator[LabServer]:
    """The front end's server starting (no token), its kernels inheriting the sandbox's AWS
    settings."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JUPYTER"))},
        "HOME": str(lab_dir),
        "JUPYTER_CONFIG_DIR": str(lab_dir / "config"),
        "JUPYTER_RUNTIME_DIR": str(lab_dir / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(lab_dir / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(lab_dir / "workspaces"),
        "IPYTHONDIR": str(lab_dir / "ipython"),
        "AWS_CONFIG_FILE": str(lab_dir / "aws/config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(lab_dir / "aws/credentials"),
        "AWS_ENDPOINT_URL": sandbox.endpoint_url,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    command = [
        sys.executable,
        "-m",
        front_end.module,
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={lab_dir / 'notebooks'}",
        "--allow-root",
        *front_end.options,
        *stsmagic_server_options,
    ]
    log_path = lab_dir / f"{front_end.module}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = LabServer(process, f"http://127.0.0.1:{port}", log_path, front_end.name)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def jupyter_lab(lab_server: LabServer, page: Any) -> str:
    """The server's URL once it answers (the browser started while it booted)."""
    lab_server.wait_ready()
    return lab_server.base


@pytest.fixture
def page(request: pytest.FixtureRequest, tmp_path: Path, lab_server: LabServer) -> Iterator[Any]:
    """A headless Chromium page (Debian's Chromium; Playwright never downloads one)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"CI is set but {CHROMIUM} is missing: scripts/test installs it")
    from playwright.sync_api import expect, sync_playwright

    # A kernel importing boto3 and pandas on a busy 2-core machine can take longer than 5 s.
    expect.set_options(timeout=30_000)

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            context.set_default_timeout(30_000)
            page = context.new_page()
            yield page
            report = getattr(request.node, "report_call", None)
            if report is not None and report.failed:
                folder = tmp_path / "screenshots"
                folder.mkdir(exist_ok=True)
                shot = folder / f"{request.node.name}.png"
                page.screenshot(path=str(shot), full_page=True)
                print(f"\nscreenshot of the failure: {shot}")
                print(f"{lab_server.name} log: {lab_server.log}")
                print(lab_server.log_tail())
        finally:
            context.close()


@pytest.fixture
def screenshots_dir() -> Path | None:
    """``STSMAGIC_SCREENSHOTS=<dir>``: where the docs' screenshots (docs/*.png) are written."""
    target = os.environ.get("STSMAGIC_SCREENSHOTS")
    if not target:
        return None
    path = Path(target)
    path.mkdir(parents=True, exist_ok=True)
    return path
