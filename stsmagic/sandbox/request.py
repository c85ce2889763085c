"""The incoming HTTP request as the handlers see it, read once from the WSGI environ."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, quote

RAW_PATH = "stsmagic.raw_path"
_SCOPE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    body: bytes
    environ: dict[str, Any]

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        return cls(
            method=environ.get("REQUEST_METHOD", "GET").upper(),
            path=environ.get("PATH_INFO", "/") or "/",
            query_string=environ.get("QUERY_STRING", ""),
            body=body,
            environ=environ,
        )

    def header(self, name: str) -> str | None:
        """A header by its wire name; WSGI folds ``-`` and ``_`` alike, so both match."""
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            value = self.environ.get(key)
        else:
            value = self.environ.get("HTTP_" + key)
        return None if value is None else str(value)

    @property
    def raw_path(self) -> str:
        """The path as the client sent it, percent-encoding and all."""
        return str(self.environ.get(RAW_PATH) or quote(self.path.encode("latin-1")))

    @cached_property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    @cached_property
    def form(self) -> dict[str, str]:
        """Query-protocol parameters: the form body merged over the query string."""
        params = {k: v[-1] for k, v in self.query.items()}
        content_type = self.header("Content-Type") or ""
        if self.body and "x-www-form-urlencoded" in content_type:
            decoded = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
            params.update({k: v[-1] for k, v in decoded.items()})
        return params

    @property
    def presigned(self) -> bool:
        """SigV4 in the query string (a presigned URL) rather than in a header."""
        return not self.header("Authorization") and "X-Amz-Signature" in self.query

    @cached_property
    def scope(self) -> tuple[str, str, str, str] | None:
        """(access key id, date, region, service) of a SigV4 signature, header or presigned."""
        if self.presigned:
            text = "Credential=" + self.query.get("X-Amz-Credential", [""])[-1]
        else:
            text = self.header("Authorization") or ""
        match = _SCOPE.search(text)
        return None if match is None else (match[1], match[2], match[3], match[4])

    def signed_value(self, name: str) -> str | None:
        """A SigV4 parameter (``X-Amz-Date``, ``X-Amz-Security-Token``) wherever it was sent."""
        if self.presigned:
            values = self.query.get(name)
            return values[-1] if values else None
        return self.header(name)

    @property
    def access_key_id(self) -> str | None:
        return None if self.scope is None else self.scope[0]

    @property
    def signing_service(self) -> str | None:
        return None if self.scope is None else self.scope[3]
