"""The container-credentials endpoint: the ledger's active session over HTTP, to children.

Every AWS SDK and the AWS CLI fetch credentials from ``AWS_CONTAINER_CREDENTIALS_FULL_URI``
with the ``Authorization`` header from ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` (or
``..._TOKEN``), and fetch again when what they hold nears its end. ``Endpoint.answer`` decides
each answer from memory (never a request to STS, never a prompt); ``EndpointServer`` is the
standard library's ``ThreadingHTTPServer`` on 127.0.0.1 in a daemon thread.

Refusals, in the order they are checked: a repeated ``Host`` or ``Authorization`` header
(403: which one counts is a parser's choice), a ``Host`` other than 127.0.0.1/localhost with
the port (403: DNS rebinding), an ``Origin`` header (403: a browser page), a wrong or missing
``Authorization`` (403, compared in constant time), a method other than GET (405), another path
(404). Answers: 200 with ``AccessKeyId``, ``SecretAccessKey``, ``Token``, ``Expiration`` (ISO
8601, Z; capped at ``SERVED_FOR`` from now) and ``AccountId`` where known, counted in the
ledger's usage (``via`` ``serve``, operation ``fetch``); 404 ``NoActiveSession`` (its message
is the server's: ``no_session``); 503 ``SessionExpired`` with its one line; 503 ``NotServing``
once the endpoint is closed (a request that arrives after ``--off`` on a connection accepted
before it). Every answer has ``Cache-Control: no-store``.

The HTTP server holds at most ``MAX_CONNECTIONS`` connections at once (one thread each; more
are closed at once) and closes one that has not sent its request within ``READ_TIMEOUT``
seconds: idle or half-sent connections cannot pile up threads.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .. import renewal
from ..errors import SessionExpired

if TYPE_CHECKING:
    from email.message import Message

    from ..ledger import SessionLedger
    from ..session import IssuedSession

log = logging.getLogger(__name__)

PATH = "/stsmagic/credentials"
_ACCOUNT = re.compile(r"^arn:[\w-]+:(?:sts|iam)::(\d{12}):")

Answer = tuple[int, dict[str, str]]

NO_SESSION = "no session is active in the kernel; issue one or activate one with %sts_use"

# The answered ``Expiration`` is at most this far ahead. botocore (and the AWS CLI, which is
# botocore) keeps container credentials until 15 minutes before their ``Expiration`` (advisory
# refresh; mandatory at 10) and never fetches before: a child handed a 12-hour session ignored
# every switch, renewal and forget for hours. 15 minutes and 60 seconds ahead, a child's first
# request after a minute fetches again, so a switch or a forget reaches it within 2 minutes;
# it fetches at most once a minute (each answer is from memory, in milliseconds). The AWS SDK
# for C++ (pyarrow) fetches again about every 5 minutes whatever the expiry (measured); the cap
# changes nothing for it.
SERVED_FOR = timedelta(minutes=15, seconds=60)

READ_TIMEOUT = 5  # seconds a connection has to send its whole request
MAX_CONNECTIONS = 64  # open at once, one thread each; beyond it a connection is closed at once

_T = TypeVar("_T", str, bytes)


class Hidden(Generic[_T]):
    """A secret kept out of every view: its repr is masked, it refuses to be pickled, and it
    is held XORed with a random pad of its length, so neither a ``vars()`` walk nor a
    debugger's variables view (which opens ``__slots__``) shows it in clear."""

    __slots__ = ("_masked", "_pad", "_text")

    def __init__(self, value: _T) -> None:
        self._text = isinstance(value, str)
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        self._pad = secrets.token_bytes(len(data))
        self._masked = _xor(data, self._pad)

    def reveal(self) -> _T:
        data = _xor(self._masked, self._pad)
        return data.decode("utf-8") if self._text else data  # type: ignore[return-value]

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: object) -> Any:
        raise TypeError("a secret is not pickled")


def _xor(data: bytes, pad: bytes) -> bytes:
    """``data`` XOR ``pad`` (of the same length), as whole integers: the endpoint reveals its
    token at every answer, and a byte at a time took 6 us of it."""
    number = int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")
    return number.to_bytes(len(data), "big")


# Why an expired session was not renewed, by its renewal kind; the server never asks or waits.
_NOT_RENEWED = {
    "auto": "its renewal has not succeeded yet (the kernel's log says why)",
    "mfa": "it needs an MFA code, which only the kernel asks for",
    "none": "it cannot be made again",
}


def account_id(session: IssuedSession) -> str | None:
    """The 12-digit account of the session's principal, where its ARN says it."""
    found = _ACCOUNT.match(session.principal or "")
    return found.group(1) if found else None


def served_expiration(session: IssuedSession, ledger_now: datetime) -> datetime:
    """The ``Expiration`` answered for ``session``, by the ledger's clock: its own, or
    ``SERVED_FOR`` from now if that is sooner (so the SDKs fetch again soon)."""
    return min(session.expiration, ledger_now + SERVED_FOR)


def expiration_text(session: IssuedSession, ledger_now: datetime) -> str:
    """``Expiration`` as children compare it with their own clock: the time left by the
    ledger's clock, from now (the same instant unless a demo or a test moved that clock),
    capped at ``SERVED_FOR``."""
    expiration = served_expiration(session, ledger_now)
    wall = datetime.now(timezone.utc)
    if abs((ledger_now - wall).total_seconds()) > 1:
        expiration = wall + (expiration - ledger_now)
    # strftime's "%Y-%m-%dT%H:%M:%SZ", at a third of its cost (it runs at every answer)
    return expiration.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


class Endpoint:
    """What the endpoint answers: the ledger's active session to a request that passes every
    check. ``token`` is the authorization token (kept ``Hidden``); ``port`` the port the
    ``Host`` header must name; ``expired`` is called when a child finds the session expired
    (the renewal timer looks at once); ``no_session`` is the message of the 404 answered while
    no session is active (a Jupyter server says where to sign in). Once ``close()`` has run,
    no answer carries keys."""

    def __init__(
        self,
        ledger: SessionLedger,
        token: str,
        port: int,
        *,
        expired: Callable[[], None] | None = None,
        no_session: str = NO_SESSION,
    ) -> None:
        self._ledger = ledger
        self._token: Hidden[bytes] = Hidden(token.encode("ascii"))
        self._hosts = loopback_hosts(port)
        self._expired = expired
        self._no_session = no_session
        self._lock = threading.Lock()
        self._counts: dict[int, int] = {}
        self.closed = False

    @property
    def ledger(self) -> SessionLedger:
        return self._ledger

    def close(self) -> None:
        """Answer no more keys (``--off``): a request on a connection accepted before gets 503."""
        self.closed = True

    def counts(self) -> dict[int, int]:
        """How many answers of each status were given."""
        with self._lock:
            return dict(self._counts)

    def answer(self, method: str, path: str, headers: Message | dict[str, str]) -> Answer:
        status, body = self._decide(method, path, headers)
        with self._lock:
            self._counts[status] = self._counts.get(status, 0) + 1
        return status, body

    def _decide(self, method: str, path: str, headers: Message | dict[str, str]) -> Answer:
        refused = loopback_refusal(headers, self._hosts, self._token.reveal(), "this kernel's")
        if refused is not None:
            return refused
        if method != "GET":
            return _refusal(405, "MethodNotAllowed", "only GET is answered")
        if path != PATH:
            return _refusal(404, "NotFound", f"the one path served is {PATH}")
        return self.credentials()

    def credentials(self) -> Answer:
        """The active session as the SDKs read it, or why there is none (from memory)."""
        if self.closed:
            return _refusal(503, "NotServing", "serving has stopped (%sts_serve --off)")
        ledger = self._ledger
        session = ledger.active
        if session is None:
            return _refusal(404, "NoActiveSession", self._no_session)
        now = ledger.now()
        if now >= session.expiration:
            if self._expired is not None:
                self._expired()
            why = _NOT_RENEWED.get(session.renewal, _NOT_RENEWED["none"])
            if session.renewal == "auto" and not renewal.renews_itself(ledger, session):
                why = "automatic renewal is off for it"
            expired = SessionExpired(
                session.label or "(unlabelled)", session.kind, session.expiration, why
            )
            return _refusal(503, "SessionExpired", str(expired))
        creds = session.credentials
        body = {
            "AccessKeyId": creds.access_key,
            "SecretAccessKey": creds.secret_key,
            "Token": creds.token or "",
            "Expiration": expiration_text(session, now),
        }
        account = account_id(session)
        if account is not None:
            body["AccountId"] = account
        if session.label is not None:
            # usage(): via "serve", operation "fetch" (one dict update under a lock)
            ledger.usage_table.record_fetch(session.label)
        return 200, body

    def __repr__(self) -> str:
        return f"<Endpoint {PATH} for {self._ledger!r}>"


def _refusal(status: int, code: str, message: str) -> Answer:
    return status, {"Code": code, "Message": message}


def loopback_hosts(port: int) -> frozenset[str]:
    """The ``Host`` values a loopback endpoint on ``port`` accepts."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})


_CHECKED = {"host": "Host", "authorization": "Authorization", "origin": "Origin"}


def loopback_refusal(
    headers: Message | dict[str, str], hosts: frozenset[str], token: bytes, whose: str
) -> Answer | None:
    """The checks every loopback endpoint of stsmagic's makes before anything else, in order:
    a repeated ``Host`` or ``Authorization`` (a proxy or a client may read another copy than
    this check does), a ``Host`` not in ``hosts`` (DNS rebinding), an ``Origin`` header (a web
    page), an ``Authorization`` other than ``token`` (compared in constant time); the 403
    answer, or None when the request passes. ``whose`` names the token in the refusal ("this
    kernel's")."""
    # One pass over the headers (each lookup of an email Message walks them all): the first
    # value of each of the three names, and whether Host or Authorization came twice.
    found: dict[str, str] = {}
    repeated = None
    for name, value in headers.items():
        key = name.lower()
        if key not in _CHECKED:
            continue
        if key in found and repeated is None and key != "origin":
            repeated = _CHECKED[key]
        found.setdefault(key, value)
    if repeated is not None:
        return _refusal(403, "Forbidden", f"the {repeated} header is repeated")
    host = (found.get("host") or "").strip().lower()
    if host not in hosts:
        return _refusal(403, "Forbidden", "the Host header must be 127.0.0.1 or localhost")
    if "origin" in found:
        return _refusal(403, "Forbidden", "requests from a web page are refused")
    given = (found.get("authorization") or "").encode("latin-1", "replace")
    if not hmac.compare_digest(given, token):
        return _refusal(403, "Forbidden", f"the Authorization header is not {whose} token")
    return None


class _Handler(BaseHTTPRequestHandler):
    server: EndpointServer
    server_version = "stsmagic"
    sys_version = ""
    # The socket's timeout: a connection that has not sent its whole request by then is
    # closed (socketserver's StreamRequestHandler sets it on the connection).
    timeout = READ_TIMEOUT

    def _reply(self) -> None:
        self.server.before_answer()
        status, body = self.server.endpoint.answer(self.command, self.path, self.headers)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if status == 405:
            self.send_header("Allow", "GET")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = _reply

    def __getattr__(self, name: str) -> Any:
        # Every other method is answered too (405 once the token is right), not 501.
        if name.startswith("do_"):
            return self._reply
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: one line to stderr per fetch would fill a notebook's output."""


class EndpointServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` on 127.0.0.1 answering with ``endpoint``; ``before_answer`` runs
    before each answer (the server's own checks: a few ``stat`` calls)."""

    daemon_threads = True
    allow_reuse_address = False  # a port in use is refused, never shared
    # socketserver's default backlog is 5: sixteen children starting at once overflowed it,
    # and a dropped connection is retried by the kernel's TCP only after a second.
    request_queue_size = 128

    def __init__(
        self, endpoint: Endpoint | None, port: int, before_answer: Callable[[], None]
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.endpoint: Endpoint = endpoint  # type: ignore[assignment]  # set once the port is known
        self._before_answer = before_answer
        self._thread: threading.Thread | None = None
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._open = 0
        self._open_lock = threading.Lock()

    @property
    def open_connections(self) -> int:
        """Connections accepted and not yet closed (each holds a thread)."""
        with self._open_lock:
            return self._open

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection, unless ``MAX_CONNECTIONS`` are open: then it is closed."""
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        with self._open_lock:
            self._open += 1
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self) -> None:
        with self._open_lock:
            self._open -= 1
        self._slots.release()

    def before_answer(self) -> None:
        try:
            self._before_answer()
        except Exception as e:  # never a traceback from the server thread
            log.warning("stsmagic: serving: %s", type(e).__name__)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"stsmagic-serve-{self.server_port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, no traceback (a frame could show a header)."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return  # a child that went away mid-answer
        log.warning("stsmagic: serving: an answer failed: %s", type(error).__name__)
