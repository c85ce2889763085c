"""A refusal as the user must meet it: one short line that holds no secret, and the kernel as it
was (the ledger, its active session, the key boto3's default session signs with, the
environment)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import pytest


def live_access_key() -> str | None:
    """The access key boto3's default session signs with now (None: it has no credentials)."""
    import boto3

    session = boto3.DEFAULT_SESSION
    credentials = None if session is None else session.get_credentials()
    return None if credentials is None else str(credentials.get_frozen_credentials().access_key)


def kernel_state() -> tuple[Any, ...]:
    import stsmagic

    ledger = stsmagic.sessions
    labels = tuple(s.label for s in ledger.sessions)
    return ledger.active, ledger.sessions, labels, live_access_key(), dict(os.environ)


def fails_cleanly(
    sandbox: Any,
    attempt: Callable[[], object],
    kind: type[BaseException],
    *,
    active: Any = None,
    may_send: bool = False,
    secrets: Iterable[str] = (),
) -> Any:
    """Run ``attempt``, which must raise ``kind``; returns the error.

    Its message is one line under 400 characters holding none of the secrets the sandbox
    issued nor ``secrets``; the kernel's state is as it was. Unless ``may_send``, no request
    reached the sandbox. With ``active``: that session is the active one, and boto3 signs with
    it, before the attempt (so "as it was" means it still is).
    """
    if active is not None:
        assert kernel_state()[0] is active and live_access_key() == active.access_key_id
    sent = len(sandbox.requests)
    before = kernel_state()
    with pytest.raises(kind) as caught:
        attempt()
    after = kernel_state()
    if not may_send:
        assert len(sandbox.requests) == sent, "a request reached the sandbox"
    assert after[0] is before[0], "the active session changed"
    assert after[1:3] == before[1:3], "the ledger changed"
    assert after[3] == before[3], "boto3's live credentials changed"
    assert after[4] == before[4], "the environment changed"
    message = str(caught.value)
    assert message.strip() and "\n" not in message, f"not one line: {message!r}"
    assert len(message) < 400, f"message too long ({len(message)} chars)"
    for secret in (*sandbox.issued_secrets(), *secrets):
        assert secret not in message, "a secret is in the message"
    return caught.value
