"""Shared fixtures: one sandbox for the session, a clean AWS environment for every test, and
what several test files start from (a good session, a ledger on a clock the test moves, a
broker, a shell with the extension loaded)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.helpers.clock import Clock

if TYPE_CHECKING:
    from stsmagic.broker import Broker
    from stsmagic.ledger import SessionLedger
    from stsmagic.session import IssuedSession


@pytest.fixture(scope="session")
def sandbox() -> Iterator[object]:
    """The local AWS endpoint on 127.0.0.1, shared by the whole run."""
    from stsmagic.sandbox import Sandbox

    with Sandbox() as box:
        yield box


@pytest.fixture(autouse=True)
def clean_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AWS_* from the machine; config and credentials files live in tmp_path."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    aws = tmp_path / "aws"
    aws.mkdir()
    (aws / "config").write_text("")
    (aws / "credentials").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws / "credentials"))
    monkeypatch.setenv("HOME", str(tmp_path))
    return aws


@pytest.fixture(autouse=True)
def reset_stsmagic_state() -> Iterator[None]:
    """Leave the kernel-wide ledger and boto3's default session as each test found them."""
    yield
    import sys

    if "stsmagic.outlets.live" in sys.modules:
        sys.modules["stsmagic.outlets.live"].uninstall()
    if "stsmagic.ledger" in sys.modules:
        sys.modules["stsmagic.ledger"].sessions.forget_all()
    if "boto3" in sys.modules:
        sys.modules["boto3"].DEFAULT_SESSION = None


@pytest.fixture(scope="module")
def good_response(sandbox: object) -> dict[str, object]:
    """One real GetSessionToken answer from the sandbox, issued once per test module."""
    import boto3

    keys = sandbox.source_credentials  # type: ignore[attr-defined]
    sts = boto3.Session(
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        region_name="us-east-1",
    ).client("sts", endpoint_url=sandbox.endpoint_url)  # type: ignore[attr-defined]
    code = sandbox.mfa_code()  # type: ignore[attr-defined]
    return dict(sts.get_session_token(SerialNumber=sandbox.mfa_serial, TokenCode=code))  # type: ignore[attr-defined]


@pytest.fixture
def good(good_response: dict[str, object], aws_profile: Path) -> IssuedSession:
    """The module's GetSessionToken answer as the session `good`, active in the kernel's ledger
    (so boto3's live credentials sign with it)."""
    import stsmagic
    from stsmagic.session import IssuedSession

    session = IssuedSession.from_sts(
        "session", good_response, issued_at=datetime.now(timezone.utc), label="good"
    )
    stsmagic.sessions.add(session)
    assert stsmagic.sessions.active == session
    return stsmagic.sessions.active


@pytest.fixture
def clock() -> Clock:
    """A clock the test moves, at the real time now until it does."""
    return Clock()


@pytest.fixture
def ledger(clock: Clock) -> SessionLedger:
    """A ledger of the test's own (not the kernel's `stsmagic.sessions`), on the test's clock."""
    from stsmagic.ledger import SessionLedger

    return SessionLedger(clock=clock)


@pytest.fixture
def broker(sandbox: object, aws_profile: Path) -> Broker:
    """A Broker for the `default` profile (the sandbox's IAM user), sending to the sandbox."""
    from stsmagic.broker import Broker

    return Broker(endpoint_url=sandbox.endpoint_url)  # type: ignore[attr-defined]


@pytest.fixture
def aws_profile(sandbox: object, clean_environ: Path) -> Path:
    """A `default` profile for the sandbox's IAM user, as a user's ~/.aws would hold it."""
    keys = sandbox.source_credentials  # type: ignore[attr-defined]
    (clean_environ / "credentials").write_text(
        "[default]\n"
        f"aws_access_key_id = {keys.access_key}\n"
        f"aws_secret_access_key = {keys.secret_key}\n"
    )
    (clean_environ / "config").write_text(
        "[default]\n"
        "region = us-east-1\n"
        f"mfa_serial = {sandbox.mfa_serial}\n"  # type: ignore[attr-defined]
        f"endpoint_url = {sandbox.endpoint_url}\n"  # type: ignore[attr-defined]
    )
    return clean_environ / "config"


@pytest.fixture
def sso_logged_in(sandbox: object, clean_environ: Path) -> Path:
    """As after `aws sso login --sso-session work`: the sandbox portal's access token, valid
    for an hour, in this test's SSO cache. Returns the cached file."""
    from datetime import datetime, timedelta, timezone

    from stsmagic.sso.cache import write_token

    return write_token(
        session_name="work",
        start_url=sandbox.sso_start_url,  # type: ignore[attr-defined]
        region=sandbox.sso_region,  # type: ignore[attr-defined]
        access_token=sandbox.sso_access_token(),  # type: ignore[attr-defined]
        expires_at=datetime.now(timezone.utc) + timedelta(hours=1),
    )


@pytest.fixture(scope="session")
def shell() -> object:
    """IPython's one InteractiveShell, history off (nothing typed is kept anywhere)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    config.HistoryManager.hist_file = ":memory:"
    return InteractiveShell.instance(config=config)


@pytest.fixture
def ip(shell: object, aws_profile: Path) -> Iterator[object]:
    """The shell with `%load_ext stsmagic` done for this test and undone after it; the names the
    test put in the namespace (a token in a variable, a result in `_`) go with it."""
    namespace = shell.user_ns  # type: ignore[attr-defined]
    before = {name: namespace[name] for name in ("_", "__", "___") if name in namespace}
    names = set(namespace)
    shell.run_line_magic("load_ext", "stsmagic")  # type: ignore[attr-defined]
    yield shell
    shell.run_line_magic("unload_ext", "stsmagic")  # type: ignore[attr-defined]
    shell.config.pop("StsMagics", None)  # type: ignore[attr-defined]  # left by %config
    for name in set(namespace) - names:
        del namespace[name]
    namespace.update(before)


@pytest.fixture
def private_umask(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """umask 000 and no chmod at all: a file is 0600 (a directory 0700) only if made so."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("chmod after creation")

    monkeypatch.setattr(os, "chmod", refuse)
    monkeypatch.setattr(os, "fchmod", refuse)
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A proxy "on another machine" (a recorder on 127.0.0.1) in HTTP_PROXY and HTTPS_PROXY,
    with no NO_PROXY: whatever a client sends through it is recorded, nothing leaves."""
    from tests.helpers.recorder import recording_proxy

    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with recording_proxy() as recorder:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, recorder.url)
        yield recorder


@pytest.fixture(scope="module")
def server(sandbox: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real Jupyter server with the stsmagic extension for the test module (``server``
    tests), its AWS files the sandbox's: tests/helpers/jupyter_server.py."""
    from tests.helpers.jupyter_server import JupyterServer, server_environ

    home = tmp_path_factory.mktemp("jupyter-server")
    running = JupyterServer(home, server_environ(home, sandbox))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def signed_out(server: object) -> Iterator[object]:
    """The module's Jupyter server with no session, before and after the test."""
    from tests.helpers.jupyter_server import forget_all

    forget_all(server)
    yield server
    forget_all(server)
