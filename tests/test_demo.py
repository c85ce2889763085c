"""`stsmagic demo`: the throwaway config works, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import configparser
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from stsmagic.demo import (
    DEMO_PROFILE,
    SSO_SESSION,
    bundled_notebooks,
    mfa_hint,
    write_demo_config,
)
from stsmagic.demo import main as demo_main

pytestmark = pytest.mark.demo  # not in the core run on every Python (scripts/test)

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_command(port: int, sandbox_port: int) -> list[str]:
    """`stsmagic demo` without a browser, JupyterLab and the sandbox on the given ports."""
    return [
        *(sys.executable, "-m", "stsmagic.cli", "demo", "--no-browser"),
        *("--port", str(port), "--sandbox-port", str(sandbox_port)),
    ]


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def processes_with_env(name: str, value: str) -> list[int]:
    """Pids of live processes whose environment has name=value (the demo marks its children)."""
    wanted = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in environ:
            found.append(int(entry.name))
    return found


def test_demo_config_gives_source_keys_mfa_device_and_sso_token(
    sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = write_demo_config(tmp_path / "demo", sandbox)
    assert env["AWS_PROFILE"] == DEMO_PROFILE
    assert env["AWS_ENDPOINT_URL"] == sandbox.endpoint_url
    assert env["STSMAGIC_SIGNIN_URL"] == sandbox.signin_url == f"{sandbox.endpoint_url}/federation"
    assert env["HOME"] == str(tmp_path / "demo" / "home")
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    config = configparser.ConfigParser()
    config.read(env["AWS_CONFIG_FILE"])
    profile = config[f"profile {DEMO_PROFILE}"]
    assert profile["mfa_serial"] == sandbox.mfa_serial
    assert profile["sso_session"] == SSO_SESSION
    assert config[f"sso-session {SSO_SESSION}"]["sso_start_url"] == sandbox.sso_start_url

    import boto3

    session = boto3.session.Session()  # reads the demo profile through botocore, as a user's
    keys = session.get_credentials().get_frozen_credentials()
    assert keys.access_key == sandbox.source_credentials.access_key
    identity = session.client("sts").get_caller_identity()
    assert identity["Arn"] == sandbox.user_arn

    from stsmagic.sso.cache import find_token

    token = find_token(DEMO_PROFILE)
    assert token in sandbox.issued_secrets()
    sso = session.client("sso", region_name=sandbox.sso_region)
    role = sso.get_role_credentials(
        accountId=sandbox.sso_account_id, roleName=sandbox.sso_role_name, accessToken=token
    )
    assert role["roleCredentials"]["accessKeyId"]


def test_bundled_notebooks_in_a_checkout_are_the_top_level_folder() -> None:
    assert bundled_notebooks() == ROOT / "notebooks"


def test_demo_without_notebooks_folder_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = subprocess.run(
        [sys.executable, "-m", "stsmagic.cli", "demo", "--no-browser", "--notebooks", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"stsmagic demo: no notebooks folder in {missing}; pass --notebooks FOLDER"
    ]


def _wait_for_status(url: str, token: str, process: subprocess.Popen[str], timeout: float) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "stsmagic demo exited early"
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.25)
    raise AssertionError(f"JupyterLab did not answer {url} within {timeout} s")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_demo_runs_jupyterlab_and_a_signal_stops_everything(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    port, sandbox_port = free_port(), free_port()
    scratch = tmp_path / "tmp"  # the demo's TMPDIR: its temp folder must be gone afterwards
    scratch.mkdir()
    process = subprocess.Popen(
        demo_command(port, sandbox_port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    token: str | None = None
    folder: Path | None = None
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while (token is None or folder is None) and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if m := re.search(r"AWS config in (\S+)", line):
                folder = Path(m.group(1))
            if m := re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=(\w+)", line):
                token = m.group(1)
        assert token and folder, "".join(lines)
        assert folder.parent == scratch
        assert (folder / "config").is_file()

        status = _wait_for_status(f"http://127.0.0.1:{port}/api/status", token, process, 60)
        assert "started" in status
        assert listening(sandbox_port)
        # The server's root is the notebooks folder, and it runs with the demo's environment.
        contents_url = f"http://127.0.0.1:{port}/api/contents"
        request = urllib.request.Request(contents_url, headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            names = {item["name"] for item in json.loads(response.read())["content"]}
        assert "01-quick-start.ipynb" in names
        # The stsmagic server extension is loaded (installing stsmagic enables it), signs in for
        # the demo profile, and its dialog says where the demo's MFA codes are; they are there.
        sessions_url = f"http://127.0.0.1:{port}/stsmagic/api/sessions"
        request = urllib.request.Request(sessions_url, headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            ledger = json.loads(response.read())
        assert ledger["profile"] == DEMO_PROFILE and ledger["active"] is None
        assert ledger["mfa_serial"]
        (endpoint,) = re.findall(r"sandbox at (\S+),", "".join(lines))
        code_url = f"{endpoint}/_sandbox/mfa-code"
        assert ledger["hint"] == mfa_hint(endpoint)
        assert code_url in ledger["hint"]
        with urllib.request.urlopen(code_url, timeout=10) as response:
            assert re.fullmatch(r"\d{6}", json.loads(response.read())["code"])
        # File > New writes into the demo's working copy, never into the checkout.
        request = urllib.request.Request(
            contents_url,
            data=b'{"type": "notebook"}',
            method="POST",
            headers={"Authorization": f"token {token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            created = json.loads(response.read())["path"]
        assert (folder / "notebooks" / created).is_file()
        assert not (ROOT / "notebooks" / created).exists()
        # A kernel, as a user opening a notebook starts one: it must be stopped too.
        kernels_url = f"http://127.0.0.1:{port}/api/kernels"
        request = urllib.request.Request(
            kernels_url, data=b"{}", method="POST", headers={"Authorization": f"token {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201
        deadline = time.monotonic() + 30
        while len(processes_with_env("STSMAGIC_DEMO_DIR", str(folder))) < 2:
            assert time.monotonic() < deadline, "no kernel carries the demo environment"
            time.sleep(0.2)

        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=45)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if folder is not None:  # a broken demo must not leave its JupyterLab behind either
            for pid in processes_with_env("STSMAGIC_DEMO_DIR", str(folder)):
                os.kill(pid, signal.SIGKILL)

    assert process.returncode == 0, output
    assert "stopped; sandbox and temporary files removed" in output
    assert not listening(port)
    assert not listening(sandbox_port)
    assert not folder.exists()
    assert list(scratch.iterdir()) == []
    assert processes_with_env("STSMAGIC_DEMO_DIR", str(folder)) == []


def test_demo_whose_port_is_taken_says_so_in_one_line(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    sandbox_port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            demo_command(port, sandbox_port),
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "TMPDIR": str(scratch)},
        )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"stsmagic demo: port {port} on 127.0.0.1 is in use; pass another --port, "
        "or none to pick a free one"
    ]
    assert "JupyterLab at" not in result.stdout  # no URL that would not answer
    assert not listening(sandbox_port)
    assert list(scratch.iterdir()) == []


def test_without_a_port_the_demo_takes_8888_or_a_free_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import stsmagic.demo as demo

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        monkeypatch.setattr(demo, "DEFAULT_PORT", busy)
        chosen = demo.choose_port(None)
        assert chosen != busy
        with socket.socket() as probe:  # the port chosen is one JupyterLab can bind
            probe.bind(("127.0.0.1", chosen))
        with pytest.raises(demo.PortTaken, match=rf"^stsmagic demo: port {busy} on 127"):
            demo.choose_port(busy)
    free = free_port()
    monkeypatch.setattr(demo, "DEFAULT_PORT", free)
    assert demo.choose_port(None) == free
    assert demo.choose_port(free) == free


def test_demo_files_holding_a_secret_are_born_0600(
    sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under umask 000, with chmod made a no-op, so a file chmod-ed after creation shows."""
    from stsmagic.sandbox.serve import write_profile

    for name in ("chmod", "fchmod", "lchmod"):
        monkeypatch.setattr(os, name, lambda *a, **k: None, raising=False)
    monkeypatch.setattr(Path, "chmod", lambda *a, **k: None)
    previous = os.umask(0)
    try:
        write_demo_config(tmp_path / "demo", sandbox)
        (tmp_path / "serve").mkdir()
        write_profile(tmp_path / "serve", sandbox)
    finally:
        os.umask(previous)
    secrets = [*sandbox.issued_secrets(), sandbox.source_credentials.secret_key]
    holding = []
    for path in sorted(p for p in tmp_path.rglob("*") if p.is_file()):
        text = path.read_text(errors="replace")
        if any(secret in text for secret in secrets):
            holding.append(path.relative_to(tmp_path).as_posix())
            assert oct(path.stat().st_mode & 0o777) == oct(0o600), path
    assert "demo/credentials" in holding and "serve/credentials" in holding
    assert any(name.startswith("demo/home/.aws/sso/cache/") for name in holding)


def test_the_demo_serves_a_working_copy_of_the_notebooks(tmp_path: Path) -> None:
    from stsmagic.demo import working_copy

    source = bundled_notebooks()
    assert source is not None
    copy = working_copy(source, tmp_path)
    assert copy.parent == tmp_path
    assert sorted(p.name for p in copy.glob("*.ipynb")) == sorted(
        p.name for p in source.glob("*.ipynb")
    )
    assert (copy / "01-quick-start.ipynb").read_bytes() == (
        source / "01-quick-start.ipynb"
    ).read_bytes()


def test_execute_reruns_a_notebook_in_place_against_a_fresh_sandbox(tmp_path: Path) -> None:
    import nbformat

    path = tmp_path / "probe.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import os, boto3\n"
            "print(os.environ['AWS_PROFILE'])\n"
            "boto3.client('sts').get_caller_identity()['Arn']"
        )
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, path)

    assert demo_main(["execute", str(path)]) == 0

    cell = nbformat.read(path, as_version=4).cells[0]
    assert cell.execution_count == 1
    assert cell.outputs[0]["text"] == "demo\n"
    assert re.fullmatch(
        r"'arn:aws:iam::\d{12}:user/stsmagic-user(-\d+)?'", cell.outputs[1]["data"]["text/plain"]
    )
    assert "execution" not in cell.metadata  # no timings to churn the diff


def test_demo_role_profiles_work_for_boto3_and_sts_profile(
    sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stsmagic.broker import Broker, profiles
    from stsmagic.demo import ROLE_PROFILES

    env = write_demo_config(tmp_path / "demo", sandbox)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import boto3

    # botocore's own assume-role provider reads the profile as the AWS CLI would
    arn = boto3.session.Session(profile_name="demo-partner").client("sts").get_caller_identity()
    assert ":assumed-role/stsmagic-external-id/" in arn["Arn"]
    plans = {name: profiles.resolve(name) for name in ROLE_PROFILES}
    assert plans["demo-mfa-role"].serial_number == sandbox.mfa_serial
    assert plans["demo-mfa-role"].hops[0].duration_seconds == 7200
    session = profiles.issue(plans["demo-role"], Broker, label="demo-role")
    assert session.principal == (
        f"arn:aws:sts::{sandbox.account_id}:assumed-role/stsmagic-plain/demo"
    )
