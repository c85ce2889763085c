"""StsMagics.remember: the sessions file (0600 in a 0700 directory, from creation), rewritten on
every ledger change, and brought back by %load_ext in a new kernel (a subprocess)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
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


# ---- issue 22 item 5: a hostile sessions file ----------------------------------------------------

HOSTILE_SECRET = "hostileSecret-" + "H" * 40

HOSTILE_KERNEL = r"""
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

config = Config()
config.HistoryManager.enabled = False
config.HistoryManager.hist_file = ":memory:"
config.StsMagics.remember = True
ip = InteractiveShell.instance(config=config)
ip.run_line_magic("load_ext", "stsmagic")
import stsmagic

print("registered" if ip.find_line_magic("sts_session") else "not registered")
print("labels", *stsmagic.sessions.labels)
"""


def record(session: Any, **changes: Any) -> dict[str, Any]:
    from stsmagic.session import to_record

    return {**to_record(session), **changes}


def issued(sandbox: Any, label: str) -> Any:
    """A new session (not in any ledger)."""
    import stsmagic

    return stsmagic.Broker().get_federation_token(Name=label, label=label)


def write_hostile(path: Path, kind: str, sandbox: Any) -> None:
    """``path`` as the hostile file ``kind`` (its folder 0700, the file 0600 unless a device)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if kind == "deep":
        text = '{"format": 1, "sessions": ' + "[" * 100_000 + "]" * 100_000 + "}"
        path.write_text(text)
    elif kind == "fifo":
        os.mkfifo(path, 0o600)  # nobody writes: reading it would wait for ever
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "huge":
        with open(path, "wb") as f:
            f.truncate(1 << 30)
    elif kind == "wrong-types":
        good = issued(sandbox, "good")
        bad = [
            record(good, label=5, secret_access_key=HOSTILE_SECRET),
            record(good, kind="bogus", secret_access_key=HOSTILE_SECRET),
            record(good, expiration=["tomorrow"], secret_access_key=HOSTILE_SECRET),
            record(good, packed_policy_size="big", secret_access_key=HOSTILE_SECRET),
            record(good, secret_access_key={"nested": HOSTILE_SECRET}),
            HOSTILE_SECRET,
        ]
        text = json.dumps({"format": 1, "active": ["x"], "sessions": [*bad, record(good)]})
        path.write_text(text)
    if kind != "dev-zero":
        os.chmod(path, 0o600)


HOSTILE = ["deep", "fifo", "dev-zero", "huge", "wrong-types"]
# A reader that does not stop at a bound would take all the machine's memory from /dev/zero
# (other processes with it): the address space is capped while a hostile file is read.
CAP = 512 << 20


@contextlib.contextmanager
def memory_capped() -> Iterator[None]:
    """This process may grow by ``CAP`` bytes at most: past it, a MemoryError (no OOM killer)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    status = Path("/proc/self/status").read_text().splitlines()
    size = int(next(x for x in status if x.startswith("VmSize")).split()[1]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size + CAP, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def capped_child() -> None:
    """A child process's address space, capped at 2 GiB (a new kernel needs far less)."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, resource.RLIM_INFINITY))


@pytest.mark.timeout(20, method="signal")
@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_file_is_one_line_and_reads_what_it_may(
    sandbox: Any, aws_profile: Path, cache_home: Path, caplog: Any, kind: str
) -> None:
    import logging
    import resource

    path = remember.default_path()
    write_hostile(path, kind, sandbox)
    caplog.set_level(logging.WARNING)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with memory_capped():
        sessions, active = remember.load(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KB
    assert active is None
    messages = [r.getMessage() for r in caplog.records]
    assert messages and all("\n" not in m for m in messages)
    assert all(r.exc_info is None for r in caplog.records)
    for secret in [HOSTILE_SECRET, *sandbox.issued_secrets()]:
        assert all(secret not in m for m in messages)
    if kind == "wrong-types":
        assert [s.label for s in sessions] == ["good"]  # the good record, alone, restored
        assert len(messages) == 6  # each bad record refused in its own line
        assert "session record 1 ignored: a session record's label must be" in messages[0]
        assert "session record 6 ignored: a session record must be an object" in messages[5]
    else:
        assert sessions == [] and len(messages) == 1


@pytest.mark.parametrize("kind", HOSTILE)
def test_load_ext_registers_the_magics_whatever_the_file_holds(
    sandbox: Any, aws_profile: Path, cache_home: Path, kind: str
) -> None:
    write_hostile(remember.default_path(), kind, sandbox)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", HOSTILE_KERNEL],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=capped_child,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-2000:]
    assert "registered" in done.stdout.splitlines() and "Traceback" not in output
    labels = done.stdout.splitlines()[-1]
    assert labels == ("labels good" if kind == "wrong-types" else "labels")
    for secret in [HOSTILE_SECRET, *sandbox.issued_secrets()]:
        assert secret not in output
    assert len(output.splitlines()) <= (9 if kind == "wrong-types" else 3), output


# ---- issue 22 item 9: the folder and file must be the user's own; merged, not overwritten -----


def test_a_loose_folder_is_made_0700(sandbox: Any, ip: Any, cache_home: Path) -> None:
    folder = cache_home / "stsmagic"
    folder.mkdir(parents=True, mode=0o755)
    os.chmod(folder, 0o755)
    ip.run_line_magic("config", "StsMagics.remember = True")
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / "sessions.json").stat().st_mode & 0o777 == 0o600


def test_a_symlinked_folder_is_refused(
    sandbox: Any, ip: Any, cache_home: Path, tmp_path: Path, capsys: Any
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    cache_home.mkdir()
    (cache_home / "stsmagic").symlink_to(shared)
    capsys.readouterr()
    ip.run_line_magic("config", "StsMagics.remember = True")
    out = capsys.readouterr().out
    assert out.startswith("StsMagics.remember: ") and "is a symlink" in out
    assert len(out.splitlines()) == 1
    ip.run_line_magic("sts_federation", "--name alice")
    assert list(shared.iterdir()) == []
    assert shared.stat().st_mode & 0o777 == 0o777  # not ours to change


@pytest.mark.parametrize("whose", ["readable-by-others", "another-user"])
def test_a_file_that_is_not_the_users_own_is_not_restored(
    sandbox: Any, ip: Any, cache_home: Path, capsys: Any, whose: str
) -> None:
    import stsmagic
    from stsmagic.ledger import SessionLedger

    planted = SessionLedger()
    planted.add(issued(sandbox, "planted"))
    path = remember.default_path()
    remember.save(planted, path)
    if whose == "readable-by-others":
        os.chmod(path, 0o644)
    else:
        if os.geteuid() != 0:
            pytest.skip("only root can give a file to another user")
        os.chown(path, 12345, 12345)
    capsys.readouterr()
    ip.run_line_magic("config", "StsMagics.remember = True")
    out = capsys.readouterr().out
    assert stsmagic.sessions.labels == () and stsmagic.sessions.active is None
    assert out.startswith("StsMagics.remember: ") and len(out.splitlines()) == 1
    assert ("0644" if whose == "readable-by-others" else "another user") in out
    assert "Restored" not in out


def test_a_session_forgotten_in_one_kernel_is_not_written_back_by_another(
    sandbox: Any, aws_profile: Path, cache_home: Path
) -> None:
    from stsmagic.ledger import SessionLedger

    path = remember.default_path()
    first, second = SessionLedger(), SessionLedger()
    first.add(issued(sandbox, "kept"))
    first.add(issued(sandbox, "forgotten"))
    one = remember.Remembering(first)
    one.start()
    other = remember.Remembering(second)
    assert [s.label for s in other.start()] == ["kept", "forgotten"]
    first.forget("forgotten")
    assert stored(path)[0] == ["kept"]
    second.add(issued(sandbox, "new"))  # the other kernel writes: its own change only
    assert stored(path)[0] == ["kept", "new"]
    first.activate("kept")  # and back: the first kernel keeps the other's new session
    assert stored(path) == (["kept", "new"], "kept")
    second.forget("kept")
    assert stored(path) == (["new"], None)
    one.stop()
    other.stop()


def test_turning_remember_off_deletes_the_file_it_wrote(
    sandbox: Any, ip: Any, cache_home: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    written = remember.default_path()
    ip.run_line_magic("config", "StsMagics.remember = True")
    ip.run_line_magic("sts_federation", "--name alice")
    assert stored(written)[0] == ["federation-1"]
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("XDG_CACHE_HOME", str(elsewhere))
    someone = remember.default_path()
    someone.parent.mkdir(parents=True, mode=0o700)
    someone.write_text("not this kernel's")
    ip.run_line_magic("config", "StsMagics.remember = False")
    assert not written.exists()
    assert someone.read_text() == "not this kernel's"
