"""The control endpoint: the kernels of this Jupyter server ask its desk, over loopback.

A kernel that loads stsmagic under a serving server joins it (``stsmagic.server_link``): its
``%sts_session`` signs in the server, its ``%sts_use`` may switch the server's session, its
panel shows the server's sessions, and it hears of every change at once. It cannot reach the
REST API (it has no Jupyter token, and should not), so the desk answers the same requests
here: a ``ThreadingHTTPServer`` on 127.0.0.1 with a token of its own, in a 0600 file in a
0700 folder, named to kernels by ``STSMAGIC_SERVER_URL`` and ``STSMAGIC_SERVER_TOKEN_FILE``
in the server's ``os.environ`` (set before any kernel starts, removed at stop).

The checks are the credentials endpoint's (``outlets.endpoint.loopback_refusal``: Host,
Origin, the token in constant time), then the routes, which mirror the REST API:

- ``GET /sessions`` (the state), ``POST /sessions`` (sign in), ``PUT /active``,
  ``DELETE /sessions/<label>``, ``POST /sessions/<label>/renew``, ``POST``/``GET /sso/login``;
- ``GET /changes?since=N``: answers ``{"generation": M}`` as soon as the ledger's generation
  is past ``N`` (at most ~25 s later: then the same ``N``), so kernels follow a switch at once.

Answers are rows and lines, never a secret: keys reach a kernel only through the credentials
endpoint.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..outlets.endpoint import Hidden, loopback_hosts, loopback_refusal
from ..private_file import write_private
from ..server_link import TOKEN_FILE, URL
from .refused import Refused

if TYPE_CHECKING:
    from .desk import ServerDesk

log = logging.getLogger(__name__)

LONG_POLL = 25.0  # seconds a GET /changes waits for a change before answering the same N
MAX_BODY = 64 * 1024

Answer = tuple[int, Any]


class ControlServer(ThreadingHTTPServer):
    """The desk's control endpoint on 127.0.0.1 (a free port); ``start()`` answers and names
    it in ``os.environ``, ``stop()`` undoes both and deletes the token file."""

    daemon_threads = True
    allow_reuse_address = False
    request_queue_size = 64

    def __init__(self, desk: ServerDesk) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.desk = desk
        self.url = f"http://127.0.0.1:{self.server_port}/"
        self._hosts = loopback_hosts(self.server_port)
        self._token = Hidden(secrets.token_urlsafe(32).encode())  # not in clear in vars()
        self._folder = Path(tempfile.mkdtemp(prefix="stsmagic-control-"))  # 0700
        self.token_file = self._folder / "token"
        self._thread: threading.Thread | None = None
        self._saved: dict[str, str | None] = {}

    def __repr__(self) -> str:
        return f"<ControlServer {self.url}>"

    def start(self) -> None:
        write_private(self.token_file, self._token.reveal().decode())
        # the server may end without unloading its extensions (a signal): the token goes too
        atexit.register(shutil.rmtree, self._folder, True)
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"stsmagic-control-{self.server_port}",
            daemon=True,
        )
        self._thread.start()
        for name, value in ((URL, self.url), (TOKEN_FILE, str(self.token_file))):
            self._saved[name] = os.environ.get(name)
            os.environ[name] = value

    def stop(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved = {}
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, no traceback (a frame could hold a body with an MFA code)."""
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            log.warning("stsmagic: control: an answer failed: %s", type(error).__name__)

    def refusal(self, headers: Any) -> Answer | None:
        refused = loopback_refusal(headers, self._hosts, self._token.reveal(), "this server's")
        if refused is None:
            return None
        status, body = refused
        return status, {"message": body["Message"]}

    def answer(self, method: str, target: str, body: Any) -> Answer:
        """Route one request that passed the checks to the desk."""
        parsed = urllib.parse.urlsplit(target)
        parts = [urllib.parse.unquote(p) for p in parsed.path.strip("/").split("/") if p]
        desk = self.desk
        try:
            if parts == ["sessions"] and method == "GET":
                return 200, desk.state()
            if parts == ["sessions"] and method == "POST":
                return 201, desk.sign_in(body)
            if parts == ["active"] and method == "PUT":
                return 200, desk.switch(body)
            if len(parts) == 2 and parts[0] == "sessions" and method == "DELETE":
                desk.forget(parts[1])
                return 204, None
            if len(parts) == 3 and parts[::2] == ["sessions", "renew"] and method == "POST":
                return 200, desk.renew(parts[1], body)
            if parts == ["sso", "login"] and method == "POST":
                return 200, desk.sso_start(body)
            if parts == ["sso", "login"] and method == "GET":
                return 200, desk.sso_status()
            if parts == ["changes"] and method == "GET":
                return 200, {"generation": desk.changes(_since(parsed.query), LONG_POLL)}
        except Refused as e:
            return e.status, {"message": e.message}
        return 404, {"message": f"no route {method} /{'/'.join(parts)}"}


def _since(query: str) -> int:
    values = urllib.parse.parse_qs(query).get("since") or ["-1"]
    try:
        return int(values[0])
    except ValueError:
        raise Refused("since: must be a whole number") from None


class _Handler(BaseHTTPRequestHandler):
    server: ControlServer
    server_version = "stsmagic"
    sys_version = ""
    timeout = 10  # an idle or slow connection is closed, never holds a thread for ever

    def _reply(self) -> None:
        status, answer = self.server.refusal(self.headers) or self._answer()
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _answer(self) -> Answer:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return 400, {"message": "Content-Length: not a number"}
        if not 0 <= length <= MAX_BODY:
            return 413, {"message": f"the body is over {MAX_BODY} bytes"}
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return 400, {"message": "the body is not JSON"}
        return self.server.answer(self.command, self.path, body)

    do_GET = do_POST = do_PUT = do_DELETE = _reply

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a kernel long-polls every 25 s."""
