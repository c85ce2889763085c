"""A kernel under a serving stsmagic Jupyter server joins it: the kernel's side of the link.

The server (``stsmagic.server``) names its control endpoint in every kernel's environment:
``STSMAGIC_SERVER_URL`` (``http://127.0.0.1:PORT/``) and ``STSMAGIC_SERVER_TOKEN_FILE`` (the
token, in a 0600 file). ``joined()`` says whether this kernel has them; ``call`` asks the
server (urllib, JSON), and what it refuses becomes one line (``ServerRefused``). Answers are
rows, never a secret: the server's keys reach this kernel only through the credentials
endpoint (``AWS_CONTAINER_CREDENTIALS_FULL_URI``), as its source credentials.

``ServerFollower`` long-polls ``GET /changes``: when the server's ledger changes (a switch, a
renewal, a forget), the kernel's source credentials that came from the credentials endpoint
are fetched again at the next request (``outlets.live_credentials.refetch_served``), so a
switch in the server reaches even clients made before it at once.

This module never imports ``stsmagic.server`` (nothing below the server does): the two sides
share the variables' names, defined here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from .errors import StsMagicError
from .limits import printable

log = logging.getLogger(__name__)

URL = "STSMAGIC_SERVER_URL"
TOKEN_FILE = "STSMAGIC_SERVER_TOKEN_FILE"
WHERE = "the Jupyter server"
LONG_POLL = 25.0  # the server answers GET /changes within this; the client waits a bit more


class ServerRefused(StsMagicError):
    """The Jupyter server refused a request, or could not be reached: one line."""


def joined() -> bool:
    """Whether this kernel runs under a serving stsmagic Jupyter server."""
    return bool(os.environ.get(URL)) and bool(os.environ.get(TOKEN_FILE))


def call(method: str, path: str, body: Any = None, *, timeout: float = 60.0) -> Any:
    """``method path`` on the server's control endpoint with the JSON ``body``; the JSON
    answer (None for 204). Raises ``ServerRefused`` with the server's one line."""
    import urllib.error  # with urllib.request below
    import urllib.request  # http.client and email: only once the server is asked

    base = os.environ.get(URL)
    token_file = os.environ.get(TOKEN_FILE)
    if not base or not token_file:
        raise ServerRefused("this kernel was not started by a serving stsmagic Jupyter server")
    if not base.startswith("http://127.0.0.1:"):
        raise ServerRefused(f"{URL}: {base!r} is not a loopback http:// URL; not asked")
    try:
        token = Path(token_file).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ServerRefused(
            f"the Jupyter server's token file {token_file} cannot be read ({e.strerror}); "
            "restart the kernel"
        ) from None
    data = None if body is None else json.dumps(body).encode()
    if data is None and method in ("POST", "PUT"):
        data = b""
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only (checked)
        base + path.lstrip("/"),
        data=data,
        method=method,
        headers={"Authorization": token, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            raw = answer.read()
    except urllib.error.HTTPError as e:
        raise ServerRefused(_message(e)) from None
    except (urllib.error.URLError, OSError) as e:
        why = getattr(e, "reason", None) or type(e).__name__
        raise ServerRefused(
            f"the Jupyter server's control endpoint {base} does not answer ({why})"
        ) from None
    return json.loads(raw) if raw else None


def _message(error: Any) -> str:
    try:
        message = json.loads(error.read()).get("message")
    except (ValueError, AttributeError, OSError):
        message = None
    text = " ".join(str(message or f"HTTP {error.code}").split())
    return text


# -- what the server keeps ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ServerSession:
    """A session in the Jupyter server's ledger, as its row says: no secret in it (the
    access key masked). What the issuing magics return when the server signs in."""

    kept_by: ClassVar[str] = WHERE

    label: str
    kind: str
    principal: str | None
    masked_access_key: str
    expiration: datetime
    status: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ServerSession:
        expiration = datetime.strptime(row["expiration"], "%Y-%m-%dT%H:%M:%SZ")
        return cls(
            label=str(row["label"]),
            kind=str(row["kind"]),
            principal=row.get("principal"),
            masked_access_key=str(row["access_key"]),
            expiration=expiration.replace(tzinfo=timezone.utc),
            status=str(row.get("status", "")),
        )

    @property
    def remaining(self) -> timedelta:
        return self.expiration - datetime.now(timezone.utc)

    def describe(self) -> str:
        """One line, as ``stsmagic.session.describe`` says a kernel's session."""
        from .session import format_remaining  # session: only for a served session

        remaining = format_remaining(max(self.remaining, timedelta(0)), words=True)
        return (
            f"{printable(self.label)} ({self.kind}, {self.masked_access_key}, expires "
            f"{self.expiration:%Y-%m-%d %H:%M:%S} UTC, in {remaining})"
        )


def signed_in_line(session: ServerSession) -> str:
    """What a magic prints after signing the server in."""
    if session.status == "active":
        return (
            f"Signed in the Jupyter server: {session.describe()}; every kernel and terminal "
            "of the server signs with it"
        )
    return (
        f"Added to the Jupyter server (not active): {session.describe()}; "
        f"%sts_use {printable(session.label)} uses it"
    )


def state(*, timeout: float = 60.0) -> dict[str, Any]:
    """The server's state: ``active``, ``profile``, ``sessions`` (rows), ..."""
    return dict(call("GET", "sessions", timeout=timeout))


def labels() -> list[str]:
    return [str(row["label"]) for row in state()["sessions"]]


def sign_in(body: Mapping[str, Any]) -> ServerSession:
    """``POST /sessions``: the server issues and keeps the session; its row."""
    return ServerSession.from_row(call("POST", "sessions", dict(body)))


def use(label: str | None) -> dict[str, Any]:
    return dict(call("PUT", "active", {"label": label}))


def forget(label: str) -> None:

    call("DELETE", f"sessions/{quote(label, safe='')}")


def signer(kind: str, **fields: Any) -> Callable[..., ServerSession]:
    """An ``MfaForm`` action that signs the server in: called with ``SerialNumber``,
    ``TokenCode``, ``DurationSeconds`` and ``label``, it posts a ``kind`` sign-in with
    ``fields`` (those that are not None)."""

    def sign(
        *,
        SerialNumber: str | None = None,
        TokenCode: str | None = None,
        DurationSeconds: int | None = None,
        label: str | None = None,
    ) -> ServerSession:
        body = {
            "kind": kind,
            **fields,
            "serial_number": SerialNumber if kind in ("session", "role") else None,
            "token_code": TokenCode,
            "duration_seconds": DurationSeconds,
            "label": label,
        }
        return sign_in({k: v for k, v in body.items() if v is not None})

    return sign


# -- following the server's changes ---------------------------------------------------------


class ServerFollower:
    """A daemon thread that long-polls ``GET /changes`` and, on every change of the server's
    ledger, has the kernel's served source credentials fetched again, then calls each of
    ``listeners`` (the panel refreshes there)."""

    def __init__(self) -> None:
        self.generation = -1
        self.listeners: list[Callable[[], object]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stsmagic-server-link", daemon=True)

    def start(self) -> ServerFollower:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # the thread ends after its poll (a daemon: never holds the exit)

    def _run(self) -> None:
        # outlets/: only when a served session is refetched
        from .outlets.live_credentials import refetch_served

        while not self._stop.is_set():
            try:
                answer = call("GET", f"changes?since={self.generation}", timeout=LONG_POLL + 10)
                generation = int(answer["generation"])
            except (StsMagicError, ValueError, KeyError, TypeError) as e:
                log.debug("stsmagic: following the Jupyter server: %s", e)
                self._stop.wait(5.0)
                continue
            changed = self.generation != -1 and generation != self.generation
            self.generation = generation
            if changed and not self._stop.is_set():
                refetch_served()
                for listener in list(self.listeners):
                    try:
                        listener()
                    except Exception as e:  # a view gone away must not end the thread
                        log.debug("stsmagic: a server listener failed: %s", type(e).__name__)
