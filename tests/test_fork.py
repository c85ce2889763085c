"""A process forked from the kernel (multiprocessing's fork context: a process pool) signs with
the session active at the fork, but renews nothing by itself, writes no sessions file and
pushes nothing to Dask; it says why when its copy of the session expires, and logs it once."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import stsmagic
from stsmagic.broker import Broker
from stsmagic.outlets import live
from stsmagic.outlets.remember import Remembering

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")

FORK = multiprocessing.get_context("fork")


def in_the_child(report: Any, label: str, path: str) -> None:
    """What a forked worker does: sign inside the refresh window, then after expiry, change the
    ledger; report what happened (the parent checks the sandbox and the file)."""
    import boto3

    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logging.getLogger("stsmagic").addHandler(Keep(logging.INFO))
    logging.getLogger("stsmagic").setLevel(logging.INFO)
    ledger = stsmagic.sessions
    session = ledger.get(label)
    out: dict[str, Any] = {}
    try:
        out["forked_from"] = getattr(ledger, "forked_from", "no such property")
        ledger.clock = lambda: session.renew_from + timedelta(seconds=1)  # inside the window
        boto3.client("sts").get_caller_identity()
        out["same session"] = ledger.get(label) is session
        ledger.clock = lambda: session.expiration + timedelta(seconds=1)
        try:
            boto3.client("sts").get_caller_identity()
            out["expired"] = None
        except stsmagic.SessionExpired as e:
            out["expired"] = str(e)
        ledger.forget(label)  # a change: the parent's sessions file must not hear of it
        out["logged"] = [r for r in records if "fork" in r]
    except BaseException as e:  # report, never hang the parent
        out["error"] = repr(e)
    report.send(json.dumps(out))


def test_a_forked_child_renews_nothing_and_writes_no_sessions_file(
    sandbox: Any, aws_profile: Path, tmp_path: Path
) -> None:
    ledger = stsmagic.sessions
    live.watch(ledger)
    path = tmp_path / "sessions.json"
    remembering = Remembering(ledger, path)
    remembering.start()
    try:
        nightly = ledger.add(Broker().get_federation_token(Name="nightly", label="nightly"))
        assert nightly.renewal == "auto"
        written = path.read_text()
        issued = sandbox.count("GetFederationToken")
        n = len(sandbox.requests)

        report, sending = FORK.Pipe(duplex=False)
        child = FORK.Process(target=in_the_child, args=(sending, "nightly", str(path)))
        child.start()
        answered = report.poll(120)
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
        assert answered, "the forked child hung or died without a word"
        out = json.loads(report.recv())
        assert "error" not in out, out
        # inside the window the child signed with the session it had, and issued nothing
        assert out["same session"] is True
        assert sandbox.count("GetFederationToken") == issued
        callers = [r for r in sandbox.requests[n:] if r.operation == "GetCallerIdentity"]
        assert [r.access_key_id for r in callers] == [nightly.access_key_id]
        # expired there, it says why it was not renewed
        assert out["expired"].startswith("session 'nightly' expired at ")
        assert f"is a fork of process {os.getpid()}, which renews its sessions" in out["expired"]
        assert len(out["logged"]) == 1 and "no session renews itself here" in out["logged"][0]
        # its forget reached neither the parent's ledger nor the parent's sessions file
        assert path.read_text() == written
        assert ledger.get("nightly") is nightly and ledger.forked_from is None
        assert out["forked_from"] == os.getpid()
    finally:
        remembering.stop(delete=True)


def test_the_parent_still_renews_after_a_fork(sandbox: Any, aws_profile: Path) -> None:
    ledger = stsmagic.sessions
    live.watch(ledger)
    session = ledger.add(Broker().get_federation_token(Name="parent", label="parent"))
    child = FORK.Process(target=time.sleep, args=(0,))
    child.start()
    child.join(timeout=60)
    import boto3

    real = ledger.clock
    ledger.clock = lambda: session.renew_from + timedelta(seconds=1)
    try:
        boto3.client("sts").get_caller_identity()
    finally:
        ledger.clock = real
    assert ledger.get("parent") is not session  # renewed here, in the kernel


def signing_child(commands: Any, answers: Any) -> None:
    """A forked worker that signs one request per command and answers with the key the
    sandbox will see (or the error's first line)."""
    import boto3

    while commands.recv() == "sign":
        try:
            client = boto3.client("sts")
            client.get_caller_identity()
            frozen = client._request_signer._credentials.get_frozen_credentials()
            answers.send(frozen.access_key)
        except Exception as e:  # reported, never raised: the parent decides
            answers.send(f"{type(e).__name__}: {str(e).splitlines()[0]}")


def test_a_fork_of_a_serving_kernel_follows_its_endpoint(
    sandbox: Any, aws_profile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stsmagic import renewal
    from stsmagic.outlets.serve import ServedCredentials, serve_credentials

    monkeypatch.setattr(ServedCredentials, "FRESH", 0.0)  # the child asks at every request
    ledger = stsmagic.sessions
    live.watch(ledger)
    first = ledger.add(Broker().get_federation_token(Name="first", label="first"))
    with serve_credentials(ledger):
        commands, to_child = FORK.Pipe(duplex=False)
        from_child, answers = FORK.Pipe(duplex=False)
        child = FORK.Process(target=signing_child, args=(commands, answers))
        child.start()

        def sign() -> str:
            to_child.send("sign")
            assert from_child.poll(60), "the forked child hung"
            return str(from_child.recv())

        n = len(sandbox.requests)
        try:
            assert sign() == first.access_key_id
            second = ledger.add(Broker().get_federation_token(Name="second", label="second"))
            assert sign() == second.access_key_id  # a switch in the parent
            renewed = renewal.renew(ledger, "second")
            assert sign() == renewed.access_key_id  # a renewal in the parent
            ledger.forget_all()  # %sts_forget --all: no keys, never the source's
            assert sign().startswith("CredentialRetrievalError")
            to_child.send("stop")
        finally:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
        signers = {
            r.access_key_id for r in sandbox.requests[n:] if r.operation == "GetCallerIdentity"
        }
        assert sandbox.source_credentials.access_key not in signers
        assert signers == {first.access_key_id, second.access_key_id, renewed.access_key_id}
