"""StsMagics.remember: the sessions file (0600 in a 0700 directory, from creation), rewritten on
every ledger change, and brought back by %load_ext in a new kernel (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from stsmagic.outlets import remember

REPO = Path(__file__).resolve().parent.parent

NEW_KERNEL = r"""
import json, sys
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

config = Config()
config.HistoryManager.enabled = False
config.HistoryManager.hist_file = ":memory:"
if sys.argv[1] == "ipython_config":
    config.StsMagics.remember = True
ip = InteractiveShell.instance(config=config)
ip.run_line_magic("load_ext", "stsmagic")
if sys.argv[1] == "notebook":  # %config after %load_ext, as a notebook's cells go
    ip.run_line_magic("config", "StsMagics.remember = True")
import boto3, stsmagic

active = stsmagic.sessions.active
boto3.client("sts").get_caller_identity()
print(json.dumps({"labels": list(stsmagic.sessions.labels), "active": active and active.label}))
"""


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def stored(path: Path) -> tuple[list[str], str | None]:
    document = json.loads(path.read_text())
    return [s["label"] for s in document["sessions"]], document["active"]


def new_kernel(order: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", NEW_KERNEL, order],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {"stdout": done.stdout, **json.loads(done.stdout.splitlines()[-1])}


def test_off_writes_nothing(sandbox: Any, ip: Any, cache_home: Path) -> None:
    ip.run_line_magic("sts_session", f"--token-code {sandbox.mfa_code()}")
    ip.run_line_magic("sts_federation", "--name alice")
    ip.run_line_magic("sts_use", "--source")
    assert not cache_home.exists()


def test_round_trip_through_a_new_kernel(
    sandbox: Any, ip: Any, cache_home: Path, private_umask: None
) -> None:
    path = cache_home / "stsmagic" / "sessions.json"
    assert remember.default_path() == path
    ip.run_line_magic("config", "StsMagics.remember = True")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert stored(path) == ([], None)

    first = ip.run_line_magic("sts_session", f"--token-code {sandbox.mfa_code()} --label first")
    assert stored(path) == (["first"], "first")
    ip.run_line_magic("sts_federation", "--name alice --label second")
    assert stored(path) == (["first", "second"], "second")
    ip.run_line_magic("sts_use", "first")
    assert stored(path) == (["first", "second"], "first")
    assert path.stat().st_mode & 0o777 == 0o600

    for order in ("notebook", "ipython_config"):
        sandbox.reset_requests()
        kernel = new_kernel(order)
        assert kernel["labels"] == ["first", "second"] and kernel["active"] == "first"
        assert "Restored 2 sessions" in kernel["stdout"]
        signers = [r.access_key_id for r in sandbox.requests if r.operation == "GetCallerIdentity"]
        assert signers == [first.access_key_id]
        for secret in sandbox.issued_secrets():
            assert secret not in kernel["stdout"]

    ip.run_line_magic("sts_forget", "second")
    assert stored(path) == (["first"], "first")
    ip.run_line_magic("sts_use", "--source")
    assert stored(path) == (["first"], None)
    assert new_kernel("notebook")["active"] is None

    ip.run_line_magic("config", "StsMagics.remember = False")
    assert not path.exists()
    ip.run_line_magic("sts_federation", "--name bob")
    assert not path.exists()


def test_expired_or_unreadable_files_bring_nothing_back(
    sandbox: Any, ip: Any, cache_home: Path, good_response: dict[str, Any]
) -> None:
    from datetime import datetime, timezone

    from stsmagic.ledger import SessionLedger
    from stsmagic.session import IssuedSession

    session = IssuedSession.from_sts(
        "session", good_response, issued_at=datetime.now(timezone.utc), label="s"
    )
    ledger = SessionLedger()
    ledger.add(session)
    path = cache_home / "sessions.json"
    remember.save(ledger, path)
    assert [s.label for s in remember.load(path)[0]] == ["s"]
    loaded = remember.load(path)[0][0]
    assert loaded.credentials.secret_key == session.credentials.secret_key
    assert loaded.credentials.token == session.credentials.token
    assert remember.load(path, now=session.expiration + timedelta(seconds=1)) == ([], "s")

    path.write_text("{not json")
    assert remember.load(path) == ([], None)
    path.write_text(json.dumps({"format": 99, "sessions": []}))
    assert remember.load(path) == ([], None)


def test_the_ledger_does_not_import_it() -> None:
    source = (REPO / "stsmagic" / "ledger.py").read_text()
    assert "remember" not in source
