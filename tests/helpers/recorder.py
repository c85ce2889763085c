"""A stand-in for a proxy on another machine: an HTTP server on 127.0.0.1 that records every
request it is sent (its request line and body) and answers 502.

Set as ``HTTP_PROXY``/``HTTPS_PROXY``, it catches whatever would have left this machine: a
request for a non-loopback endpoint (that stsmagic must refuse before sending), or a request for
a loopback endpoint that went through the proxy instead of straight to the endpoint. No request
reaches the network either way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.requests.append((self.requestline, body))
                self.send_response(502)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = do_PUT = _record

            def do_CONNECT(self) -> None:  # an https request through the proxy: refused
                recorder.requests.append((self.requestline, b""))
                self.send_response(502)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"

    def sent(self, text: str) -> list[str]:
        """The recorded requests whose line or body holds ``text``."""
        return [line for line, body in self.requests if text in line or text.encode() in body]


@contextmanager
def recording_proxy() -> Iterator[Recorder]:
    recorder = Recorder()
    thread = threading.Thread(target=recorder.http.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        recorder.http.shutdown()
        recorder.http.server_close()
        thread.join(5)
