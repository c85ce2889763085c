"""What the serving tests share: a clock to move, a ledger the outlets follow, and a raw fetch
from the kernel's endpoint with each header chosen."""

from __future__ import annotations

import http.client
import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from stsmagic.ledger import SessionLedger
from stsmagic.outlets import live
from stsmagic.outlets.serve import CredentialServer


class Clock:
    """The ledger's clock: real time plus an offset the test moves; ``frozen``, it stays at
    the instant it was moved to."""

    def __init__(self, frozen: bool = False) -> None:
        self.offset = timedelta()
        self.frozen: datetime | None = datetime.now(timezone.utc) if frozen else None

    def __call__(self) -> datetime:
        if self.frozen is not None:
            return self.frozen
        return datetime.now(timezone.utc) + self.offset

    def to(self, when: datetime) -> None:
        if self.frozen is not None:
            self.frozen = when
        else:
            self.offset = when - datetime.now(timezone.utc)


def watched_ledger(clock: Clock) -> SessionLedger:
    """A ledger with a movable clock, followed by every outlet (as `%load_ext` does)."""
    ledger = SessionLedger(clock=clock)
    live.watch(ledger)
    return ledger


def token(server: CredentialServer) -> str:
    return server.environ()["AWS_CONTAINER_AUTHORIZATION_TOKEN"]


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


def caller_arn() -> str:
    """Who the process calling this signs as (run in spawned children and Dask workers)."""
    import boto3

    return str(boto3.client("sts").get_caller_identity()["Arn"])
