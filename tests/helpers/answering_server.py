"""An endpoint on 127.0.0.1 that is not AWS: it answers every request with the one status and
body the test set (a proxy's error page, a captive portal's, an odd 200 that botocore parses)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class AnsweringServer:
    """Started and stopped as a context manager; ``url`` is where it listens, ``requests`` how
    many it answered. ``content_type=None`` sends no Content-Type header."""

    def __init__(
        self, body: bytes = b"", status: int = 200, content_type: str | None = "text/xml"
    ) -> None:
        self.requests = 0
        self.answer(body, content_type, status)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests += 1
                self.send_response(server.status)
                if server.content_type is not None:
                    self.send_header("Content-Type", server.content_type)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            do_POST = do_GET = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self._thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def answer(self, body: bytes, content_type: str | None = "text/xml", status: int = 200) -> None:
        """What every request gets from now on."""
        self.body, self.content_type, self.status = body, content_type, status

    def __enter__(self) -> AnsweringServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()
        self.http.server_close()
        self._thread.join(timeout=5)
