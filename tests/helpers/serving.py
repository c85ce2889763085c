"""What the serving tests share: a clock to move, a ledger the outlets follow, and a raw fetch
from the kernel's endpoint with each header chosen."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from stsmagic.ledger import SessionLedger
from stsmagic.outlets import live
from stsmagic.outlets.serve import CredentialServer


class OffsetClock:
    """The ledger's clock: the real time plus an offset the test moves (it keeps running, as
    the children's clocks do: what the endpoint serves is compared with those)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def to(self, when: datetime) -> None:
        self.offset = when - datetime.now(timezone.utc)


def watched_ledger(clock: Callable[[], datetime]) -> SessionLedger:
    """A ledger with a movable clock, followed by every outlet (as `%load_ext` does)."""
    ledger = SessionLedger(clock=clock)
    live.watch(ledger)
    return ledger


def token(server: CredentialServer) -> str:
    """The token, as the SDKs read it: from the token file (it is not in the environment)."""
    return server.token_file.read_text()


def fetch(
    server: CredentialServer,
    *,
    method: str = "GET",
    path: str | None = None,
    headers: dict[str, str] | None = None,
    authorization: str | None = "right",
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """One request to the endpoint: (status, headers, JSON body). ``authorization="right"``
    sends the token; None sends no header; any other text is sent as it is."""
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    sent = {"Host": f"127.0.0.1:{url.port}"}
    if authorization is not None:
        sent["Authorization"] = token(server) if authorization == "right" else authorization
    sent.update(headers or {})
    try:
        connection.putrequest(method, path or url.path, skip_host=True)
        for name, value in sent.items():
            if value is not None:
                connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        data = response.read()
        return (
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            json.loads(data) if data else {},
        )
    finally:
        connection.close()


def aws_variables() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith("AWS_")}
