"""stsmagic's errors raised in a cell's own code (a boto3 call, inside botocore's frames) show
one line that says where the full traceback is; ``%tb`` shows it. A real kernel through
jupyter_client, and an InteractiveShell with a handler of its own that stsmagic keeps."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from stsmagic.errors import StsMagicError

REPO = Path(__file__).resolve().parent.parent

EXPIRE = """
%load_ext stsmagic
import datetime as dt
import boto3, stsmagic
from stsmagic.broker import Broker
from stsmagic.renewal import without_renewal
alice = stsmagic.sessions.add(
    without_renewal(Broker().get_federation_token(Name="alice", DurationSeconds=900))
)
stsmagic.sessions.clock = lambda: alice.expiration + dt.timedelta(seconds=1)
"""
CALL = 'boto3.client("sts").get_caller_identity()'


def run(kc: Any, code: str) -> dict[str, Any]:
    """Execute ``code``: its error messages, stream text and reply."""
    msg_id = kc.execute(code)
    out: dict[str, Any] = {"errors": [], "streams": "", "reply": None}
    while True:
        msg = kc.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            out["errors"].append(content)
        elif kind == "stream":
            out["streams"] += content["text"]
        elif kind == "status" and content["execution_state"] == "idle":
            break
    while out["reply"] is None:
        reply = kc.get_shell_msg(timeout=120)
        if reply["parent_header"].get("msg_id") == msg_id:
            out["reply"] = reply["content"]
    return out


def test_a_kernel_shows_session_expired_in_one_line_and_tb_shows_the_rest(
    sandbox: Any, aws_profile: Path
) -> None:
    from jupyter_client.manager import start_new_kernel

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        setup = run(kc, EXPIRE)
        assert setup["reply"]["status"] == "ok", setup
        failed = run(kc, CALL)
        (error,) = failed["errors"]
        assert error["ename"] == "SessionExpired"
        (line,) = error["traceback"]
        assert line.startswith("SessionExpired: session 'federation-1' expired at ")
        assert line.endswith("(%tb shows the full traceback)") and "\n" not in line
        assert "botocore" not in line and failed["streams"] == ""
        # the reply carries the same line, not a traceback left by an earlier cell
        assert failed["reply"]["status"] == "error"
        assert failed["reply"]["traceback"] == [line]

        full = run(kc, "%tb")
        (shown,) = full["errors"]
        text = "\n".join(shown["traceback"])
        assert shown["ename"] == "SessionExpired" and len(shown["traceback"]) > 3
        assert "botocore" in text and "get_caller_identity" in text

        # a plain error keeps IPython's traceback; after %unload_ext, ours does too
        other = run(kc, "1 / 0")
        assert len(other["errors"][0]["traceback"]) > 1
        run(kc, "%unload_ext stsmagic")
        after = run(kc, "raise stsmagic.StsMagicError('plain again')")
        assert len(after["errors"][0]["traceback"]) > 1
        for secret in sandbox.issued_secrets():
            assert secret not in str([failed, full])
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_an_interactive_shell_shows_one_line_and_keeps_a_handler_it_had(
    sandbox: Any, shell: Any, aws_profile: Path, capsys: Any
) -> None:
    seen: list[str] = []

    def theirs(self: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> Any:
        seen.append(f"theirs: {etype.__name__}")

    shell.set_custom_exc((KeyError,), theirs)
    try:
        shell.run_cell(EXPIRE)
        capsys.readouterr()
        result = shell.run_cell(CALL)
        printed = capsys.readouterr()
        assert type(result.error_in_exec).__name__ == "SessionExpired"
        lines = (printed.out + printed.err).strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("SessionExpired: session 'federation-1'")
        assert lines[0].endswith("(%tb shows the full traceback)")
        # what %tb reads, as IPython's own showtraceback would have left it
        assert sys.last_value is result.error_in_exec
        shell.run_line_magic("tb", "")
        full = capsys.readouterr()
        assert "botocore" in full.out + full.err

        shell.run_cell("{}['missing']")
        assert seen == ["theirs: KeyError"]  # the handler that was there still handles its own
        shell.run_line_magic("unload_ext", "stsmagic")
        assert shell.custom_exceptions == (KeyError,)
        shell.run_cell("{}['gone']")
        assert seen == ["theirs: KeyError", "theirs: KeyError"]
        capsys.readouterr()
        shell.run_cell("raise stsmagic.StsMagicError('not ours to shorten now')")
        again = capsys.readouterr()
        assert (again.out + again.err).count("\n") > 3  # IPython's traceback again
    finally:
        if "stsmagic" in shell.extension_manager.loaded:
            shell.run_line_magic("unload_ext", "stsmagic")
        shell.set_custom_exc((), None)


def test_load_and_unload_leave_a_shell_without_handlers_as_they_found_it(shell: Any) -> None:
    shell.set_custom_exc((), None)
    shell.run_line_magic("load_ext", "stsmagic")
    try:
        assert shell.custom_exceptions == (StsMagicError,)
    finally:
        shell.run_line_magic("unload_ext", "stsmagic")
    assert shell.custom_exceptions == ()


@pytest.fixture(autouse=True)
def no_stale_last_traceback() -> None:
    for name in ("last_type", "last_value", "last_traceback"):
        if hasattr(sys, name):
            delattr(sys, name)
