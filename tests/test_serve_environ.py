"""Serving's environment (issue 19): what children inherit, the private copies of the config
files, the kernel still reading the user's own, every way back (exactly), and the faults."""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest

import stsmagic
from stsmagic.broker import Broker, profiles
from stsmagic.errors import ParameterError, StsMagicError
from stsmagic.ledger import SessionLedger
from stsmagic.outlets import environ, live
from stsmagic.outlets.serve import (
    CredentialServer,
    ServeError,
    describe_serving,
    serve_credentials,
    serving,
    stop_serving,
)
from tests.helpers.aws_clients import signed_with
from tests.helpers.serving import OffsetClock, fetch, token, watched_ledger

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
def ledger(clock: OffsetClock, aws_profile: Path) -> SessionLedger:
    return watched_ledger(clock)


@pytest.fixture
def server(ledger: SessionLedger) -> Iterator[CredentialServer]:
    with serve_credentials(ledger) as server:
        yield server


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where serving makes its folder: empty, so anything left behind is seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def file_bytes(*paths: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in paths}


# --- what children inherit ------------------------------------------------------------------


def test_the_environment_children_inherit(
    sandbox: Any,
    aws_profile: Path,
    ledger: SessionLedger,
    monkeypatch: pytest.MonkeyPatch,
    private_tmp: Path,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUSERSOWNKEY00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "users-own-secret")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc")
    server = serve_credentials(ledger)
    try:
        env = os.environ
        assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == server.url
        assert server.url.startswith(f"http://127.0.0.1:{server.port}/")
        for name in (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",  # in the file only: printing os.environ is safe
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        ):
            assert name not in env
        # the token: 32 random bytes, in a 0600 file in a 0700 folder, no trailing newline
        path = Path(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"])
        assert path == server.token_file and path.read_text() == token(server)
        assert len(token(server)) == 43
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert path.parent.parent == private_tmp
        for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            copy = Path(env[name])
            assert copy.parent == path.parent and stat.S_IMODE(copy.stat().st_mode) == 0o600
        assert server.environ() == {
            name: env[name]
            for name in (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                "AWS_CONFIG_FILE",
                "AWS_SHARED_CREDENTIALS_FILE",
            )
        }
        assert server.set_aside == (
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        )
        assert token(server) not in repr(dict(os.environ))
        assert serve_credentials(ledger) is server  # idempotent
    finally:
        server.stop()


CONFIG = """\
# the user's own comments
[default]
region = eu-west-1
endpoint_url = {endpoint}
mfa_serial = {serial}
role_arn = arn:aws:iam::123456789012:role/kernel
source_profile = base
sso_session = work
retries =
    max_attempts = 7
s3 =
    addressing_style = path
services = local

[profile other]
region = us-west-2
endpoint_url = {endpoint}
mfa_serial = {serial}

[profile base]
region = us-east-1

[services local]
sts =
    endpoint_url = {endpoint}

[sso-session work]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
"""


def loaded(config: str, credentials: str, profile: str) -> dict[str, Any]:
    """The profile as botocore's own loader reads the two files."""
    session = botocore.session.Session(profile=profile)
    session.set_config_variable("config_file", config)
    session.set_config_variable("credentials_file", credentials)
    return dict(session.full_config["profiles"][profile])


def test_the_copies_keep_settings_and_lose_the_kernel_profiles_keys(
    sandbox: Any, aws_profile: Path, ledger: SessionLedger, private_tmp: Path
) -> None:
    keys = sandbox.source_credentials
    config = aws_profile
    credentials = aws_profile.with_name("credentials")
    config.write_text(CONFIG.format(endpoint=sandbox.endpoint_url, serial=sandbox.mfa_serial))
    credentials.write_text(
        f"[default]\naws_access_key_id = {keys.access_key}\n"
        f"aws_secret_access_key = {keys.secret_key}\nregion = eu-west-1\n"
        f"[other]\naws_access_key_id = {keys.access_key}\n"
        f"aws_secret_access_key = {keys.secret_key}\n"
        f"[base]\naws_access_key_id = {keys.access_key}\n"
        f"aws_secret_access_key = {keys.secret_key}\n"
    )
    originals = file_bytes(config, credentials)
    before = {p: loaded(str(config), str(credentials), p) for p in ("default", "other", "base")}
    with serve_credentials(ledger) as server:
        copies = str(server.config_file), str(server.credentials_file)
        default = loaded(*copies, "default")
        assert default == {
            "region": "eu-west-1",
            "endpoint_url": sandbox.endpoint_url,
            "retries": {"max_attempts": "7"},
            "s3": {"addressing_style": "path"},
            "services": "local",
        }
        assert loaded(*copies, "other") == before["other"]  # every other profile as it was
        assert loaded(*copies, "base") == before["base"]
        session = botocore.session.Session()
        session.set_config_variable("config_file", copies[0])
        assert session.full_config["services"] == {
            "local": {"sts": {"endpoint_url": sandbox.endpoint_url}}
        }
        assert session.full_config["sso_sessions"]["work"]["sso_region"] == "us-east-1"
        for secret in sandbox.issued_secrets():
            assert secret not in Path(copies[0]).read_text()
        assert keys.secret_key not in Path(copies[1]).read_text().split("[other]")[0]
        # the kernel itself reads the originals: its profile's mfa_serial and role chain
        assert Broker().mfa_serial == sandbox.mfa_serial
        plan = profiles.resolve("default")
        assert plan.hops[0].role_arn == "arn:aws:iam::123456789012:role/kernel"
    assert file_bytes(config, credentials) == originals
    assert list(private_tmp.iterdir()) == []


def test_the_kernel_keeps_its_own_keys_while_serving(
    sandbox: Any, aws_profile: Path, ledger: SessionLedger, server: CredentialServer
) -> None:
    source_key = sandbox.source_credentials.access_key
    # issuing signs with the profile's own keys, which the copies no longer hold
    session = ledger.add(Broker().get_federation_token(Name="kernel", DurationSeconds=3600))
    assert sandbox.signers("GetFederationToken")[-1] == source_key
    # the live credentials' source chains: no session active, sessions made while serving
    # sign with the user's keys, not with the kernel's own endpoint (404)
    assert signed_with(sandbox, boto3.client("sts")) == session.access_key_id
    ledger.deactivate()
    for made in (
        boto3.Session().client("sts"),
        botocore.session.get_session().create_client("sts"),
    ):
        assert signed_with(sandbox, made) == source_key
    assert server.answers().get(404) is None


def test_every_credential_source_is_dropped_and_nothing_else() -> None:
    from stsmagic.outlets.child_files import render, without_keys

    sources = {
        "aws_access_key_id": "AKIA",
        "aws_secret_access_key": "s",
        "aws_session_token": "t",
        "aws_security_token": "t",
        "role_arn": "arn",
        "source_profile": "base",
        "credential_source": "Environment",
        "credential_process": "/bin/false",
        "web_identity_token_file": "/token",
        "login_session": "arn",
        "mfa_serial": "arn",
        "sso_session": "work",
        "sso_start_url": "https://example.awsapps.com/start",
        "sso_account_id": "123456789012",
        "sso_role_name": "Dev",
        "sso_region": "us-east-1",
    }
    settings = {"region": "eu-west-1", "output": "json", "s3": {"addressing_style": "path"}}
    sections = {"profile work": {**sources, **settings}, "profile other": dict(sources)}
    cleared = without_keys(sections, {"profile work"})
    assert cleared == {"profile work": settings, "profile other": sources}
    assert render(cleared).startswith("[profile work]\nregion = eu-west-1\n")


# --- every way back, exactly ------------------------------------------------------------------


@pytest.mark.parametrize("how", ["stop", "stop_serving", "unload"])
def test_every_way_back_restores_exactly(
    sandbox: Any,
    aws_profile: Path,
    ledger: SessionLedger,
    monkeypatch: pytest.MonkeyPatch,
    private_tmp: Path,
    how: str,
) -> None:
    ledger.add(Broker().get_federation_token(Name="back", DurationSeconds=3600))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUSERSOWNKEY00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "users-own-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "users-own-token")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "users-own-container-token")
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE")  # unset: must be unset again
    before = dict(os.environ)
    originals = file_bytes(aws_profile)
    server = serve_credentials(ledger)
    assert dict(os.environ) != before
    {"stop": server.stop, "stop_serving": stop_serving, "unload": live.uninstall}[how]()
    assert dict(os.environ) == before
    assert file_bytes(aws_profile) == originals
    assert list(private_tmp.iterdir()) == []  # no copies, no token file, no folder
    assert serving() is None and not server.running
    with pytest.raises(OSError):
        fetch(server)
    server.stop()  # again: nothing happens
    assert dict(os.environ) == before


EXITING = textwrap.dedent(
    """
    import os, sys, warnings
    from stsmagic.outlets.serve import serve_credentials
    # Python 3.12+ warns at any fork of a process with threads (the endpoint's): the fork is
    # this script's own, and anything else on stderr still fails the test.
    warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
    server = serve_credentials()
    print(server.token_file.parent, flush=True)
    if os.fork() == 0:
        sys.exit(0)  # a forked child's exit (atexit runs) leaves its parent serving
    os.wait()
    url = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    print(server.token_file.exists(), url == server.url)
    """
)


def test_the_kernels_exit_restores_and_deletes(aws_profile: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", EXITING], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    folder, alive = done.stdout.splitlines()
    assert alive == "True True"
    assert Path(folder).parent == tmp_path and not Path(folder).exists()
    assert done.stderr == ""


KILLED = textwrap.dedent(
    """
    import os, time
    from stsmagic.outlets.serve import serve_credentials
    server = serve_credentials()
    print(server.token_file.parent, flush=True)
    time.sleep(120)  # killed before this ends
    """
)


def test_a_folder_left_by_a_killed_kernel_is_removed_by_the_next_start(
    sandbox: Any, ledger: SessionLedger, private_tmp: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(private_tmp)}
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED], env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    left = Path(child.stdout.readline().strip())
    child.kill()  # kill -9: no exit handler runs
    child.wait(timeout=30)
    child.stdout.close()
    assert left.name.startswith(f"stsmagic-serve-{child.pid}-") and left.parent == private_tmp
    assert (left / "token").exists() and (left / "credentials").exists()  # left behind
    # what is not a dead serving process's folder of this user's stays
    alive = private_tmp / f"stsmagic-serve-{os.getppid()}-abc"  # pytest's parent runs
    alive.mkdir()
    unrelated = private_tmp / "stsmagic-serve-notapid"
    unrelated.mkdir()
    (private_tmp / f"stsmagic-serve-{child.pid}-file").write_text("not a folder")
    link = private_tmp / f"stsmagic-serve-{child.pid}-link"
    link.symlink_to(alive)
    with serve_credentials(ledger) as server:
        assert not left.exists()
        assert server.token_file.parent.name.startswith(f"stsmagic-serve-{os.getpid()}-")
        assert alive.exists() and unrelated.exists() and link.is_symlink()
        assert (private_tmp / f"stsmagic-serve-{child.pid}-file").exists()


# --- --env and serving exclude each other ---------------------------------------------------


def test_serving_turns_the_export_off_and_the_export_is_refused_while_serving(
    sandbox: Any, aws_profile: Path, ledger: SessionLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = ledger.add(Broker().get_federation_token(Name="export", DurationSeconds=3600))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUSERSOWNKEY00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "users-own-secret")
    before = dict(os.environ)
    environ.export_environ(True, ledger)
    assert os.environ["AWS_ACCESS_KEY_ID"] == session.access_key_id
    server = serve_credentials(ledger)
    try:
        assert not environ.exporting()
        assert "AWS_ACCESS_KEY_ID" not in os.environ
        assert "AWS_CREDENTIAL_EXPIRATION" not in os.environ
        assert "the --env export is off while serving" in describe_serving(server)
        with pytest.raises(ParameterError) as refused:
            environ.export_environ(True, ledger)
        message = str(refused.value)
        assert "\n" not in message and "export_env" in message and "%sts_serve --off" in message
        assert not environ.exporting() and "AWS_ACCESS_KEY_ID" not in os.environ
    finally:
        server.stop()
    assert dict(os.environ) == before
    environ.export_environ(True, ledger)  # allowed again once serving stopped
    assert os.environ["AWS_ACCESS_KEY_ID"] == session.access_key_id
    environ.export_environ(False)
    assert dict(os.environ) == before


# --- faults: one line each, nothing left behind, the active session unchanged ------------------


def test_a_config_file_that_does_not_parse(
    sandbox: Any, aws_profile: Path, ledger: SessionLedger, private_tmp: Path
) -> None:
    secret = sandbox.source_credentials.secret_key
    session = ledger.add(Broker().get_federation_token(Name="kept", DurationSeconds=3600))
    aws_profile.write_text(f"[default]\nregion = us-east-1\naws_secret_access_key {secret}\n")
    before = dict(os.environ)
    with pytest.raises(ServeError) as refused:
        serve_credentials(ledger)
    message = str(refused.value)
    assert "\n" not in message and str(aws_profile) in message and "line 3" in message
    assert secret not in message
    assert dict(os.environ) == before and serving() is None
    assert list(private_tmp.iterdir()) == []
    assert ledger.active is session


def test_a_port_that_is_taken(sandbox: Any, ledger: SessionLedger, private_tmp: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = dict(os.environ)
        with pytest.raises(ServeError) as refused:
            serve_credentials(ledger, port=port)
    message = str(refused.value)
    assert "\n" not in message and f"127.0.0.1:{port}" in message and "0 for a free one" in message
    assert dict(os.environ) == before and serving() is None
    assert list(private_tmp.iterdir()) == []


class _Container(BaseHTTPRequestHandler):
    """The endpoint of a container the kernel itself runs in: it gives the kernel its keys."""

    answer: dict[str, str] = {}
    token = "the-containers-own-token"

    def do_GET(self) -> None:
        ok = self.headers.get("Authorization") == self.token
        data = json.dumps(self.answer if ok else {}).encode()
        self.send_response(200 if ok else 403)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def kernel_in_a_container(
    sandbox: Any, aws_profile: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The kernel gets the IAM user's keys from its container's endpoint; no keys in files."""
    import threading

    keys = sandbox.source_credentials
    _Container.answer = {
        "AccessKeyId": keys.access_key,
        "SecretAccessKey": keys.secret_key,
        "Token": "",
        "Expiration": (datetime.now(timezone.utc) + timedelta(hours=6)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
    }
    aws_profile.with_name("credentials").write_text("")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Container)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_port}/container"
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url)
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", _Container.token)
    yield url
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_a_kernel_in_a_container_keeps_its_endpoint_and_children_get_the_kernels(
    sandbox: Any, kernel_in_a_container: str, ledger: SessionLedger
) -> None:
    before = dict(os.environ)
    server = serve_credentials(ledger)
    try:
        said = describe_serving(server)
        assert (
            "Set aside until --off: AWS_CONTAINER_CREDENTIALS_FULL_URI, "
            "AWS_CONTAINER_AUTHORIZATION_TOKEN" in said
        )
        assert _Container.token not in said and kernel_in_a_container not in said
        # the kernel's own source chain still reads its container's endpoint
        session = ledger.add(Broker().get_federation_token(Name="boxed", DurationSeconds=3600))
        assert sandbox.signers("GetFederationToken")[-1] == sandbox.source_credentials.access_key
        assert fetch(server)[2]["AccessKeyId"] == session.access_key_id
    finally:
        server.stop()
    assert dict(os.environ) == before


def test_a_token_file_deleted_under_the_server(
    sandbox: Any,
    ledger: SessionLedger,
    server: CredentialServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = ledger.add(Broker().get_federation_token(Name="deleted", DurationSeconds=3600))
    caplog.set_level(logging.WARNING, logger="stsmagic")
    secret = token(server)
    server.token_file.unlink()
    assert serve_credentials(ledger) is server  # %sts_serve again: written again, said once
    assert server.token_file.read_text() == secret
    (record,) = caplog.records
    assert "token file was deleted" in record.getMessage() and "\n" not in record.getMessage()
    # and by the next answer to any child
    server.token_file.unlink()
    server.config_file.unlink()
    assert fetch(server, authorization=secret)[2]["AccessKeyId"] == session.access_key_id
    assert server.token_file.read_text() == secret
    assert "[default]" in server.config_file.read_text()
    assert ledger.active is session


# --- no secret becomes text -------------------------------------------------------------------


def test_no_secret_in_any_output_record_or_repr(
    sandbox: Any,
    ledger: SessionLedger,
    server: CredentialServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from IPython.lib.pretty import pretty

    caplog.set_level(logging.DEBUG)
    session = ledger.add(Broker().get_federation_token(Name="scan", DurationSeconds=3600))
    for authorization in ("wrong", None, "right"):
        fetch(server, authorization=authorization)
    fetch(server, headers={"Origin": "http://evil.example"})
    server.token_file.unlink()
    serve_credentials(ledger)
    texts = [
        repr(server),
        str(server),
        repr(server.environ()),
        str(server.environ()),
        pretty(server.environ()),
        pretty(server),
        describe_serving(server),
        repr(stsmagic.serve_credentials),
        *(r.getMessage() for r in caplog.records),
    ]
    errors: list[StsMagicError] = []
    with pytest.raises(ParameterError) as refused:
        environ.export_environ(True, ledger)
    errors.append(refused.value)
    texts += [str(e) for e in errors]
    secrets = [token(server), *sandbox.issued_secrets(), session.credentials.secret_key]
    assert [s[:6] for s in secrets for text in texts if s in text] == []
    assert "ChildEnviron" in texts[2] and "AWS_CONTAINER_AUTHORIZATION_TOKEN'" not in texts[2]
    assert describe_serving(server).count("\n") == 5  # one line, "In a terminal:", 4 exports
    server.stop()
    assert "Not serving" in describe_serving(server)
