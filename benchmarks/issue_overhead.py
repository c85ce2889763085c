"""`%sts_session --token-code` end to end against a raw, warm boto3 GetSessionToken."""

from __future__ import annotations

import itertools
from typing import Any

from timing import Figure, interleaved, raw_client

RESPONSE = (
    '<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    "<GetSessionTokenResult><Credentials><AccessKeyId>ASIA{n:016d}</AccessKeyId>"
    "<SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken>"
    "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></GetSessionTokenResult>"
    "<ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata>"
    "</GetSessionTokenResponse>"
)


def _canned_sender() -> Any:
    """A 'before-send' handler answering GetSessionToken locally, with a new key each time."""
    from botocore.awsrequest import AWSResponse

    numbers = itertools.count(1)

    class Raw:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def stream(self, **_: Any) -> Any:
            yield self.body

    def send(**_: Any) -> Any:
        body = RESPONSE.format(n=next(numbers), secret="s" * 40, token="t" * 400).encode()
        return AWSResponse("https://bench", 200, {}, Raw(body))

    return send


def _without_network(sandbox: Any, shell: Any, raw: Any, rounds: int) -> Figure:
    """The same two calls with the HTTP exchange replaced by a canned answer: what is left is
    stsmagic's own work (parsing, validation, IssuedSession, ledger) against botocore's."""
    magics = shell.magics_manager.registry["StsMagics"]
    clients = [broker.client("sts") for broker in magics._brokers.values()] + [raw]
    send = _canned_sender()
    event = "before-send.sts.GetSessionToken"
    for client in clients:
        client.meta.events.register(event, send)
    try:

        def magic_call() -> None:
            shell.run_line_magic("sts_session", "--token-code 123456")

        def raw_call() -> None:
            raw.get_session_token(SerialNumber=sandbox.mfa_serial, TokenCode="123456")

        magic_s, raw_s, ratio = interleaved(magic_call, raw_call, rounds, warmup=2)
    finally:
        for client in clients:
            client.meta.events.unregister(event, send)
    detail = (
        f"no network: magic {magic_s * 1e6:.0f} us, raw boto3 {raw_s * 1e6:.0f} us, ratio"
        f" {ratio:.3f}x"
    )
    return Figure("magic's own work per issue", (magic_s - raw_s) * 1e6, " us", None, detail)


def measure(sandbox: Any, shell: Any, rounds: int = 61) -> list[Figure]:
    raw = raw_client(sandbox)

    def raw_call() -> None:
        raw.get_session_token(SerialNumber=sandbox.mfa_serial, TokenCode=sandbox.mfa_code())

    def magic_call() -> None:
        shell.run_line_magic("sts_session", f"--token-code {sandbox.mfa_code()}")

    from stsmagic import Broker

    broker = Broker()  # the Python API without the magic: no parsing, no ledger

    def broker_call() -> None:
        broker.get_session_token(TokenCode=sandbox.mfa_code())

    magic_s, raw_s, ratio = interleaved(magic_call, raw_call, rounds, warmup=2)
    broker_s, raw2_s, broker_ratio = interleaved(broker_call, raw_call, rounds, warmup=2)
    detail = (
        f"median of {rounds} interleaved rounds: magic {magic_s * 1000:.2f} ms,"
        f" raw boto3 {raw_s * 1000:.2f} ms, +{(magic_s - raw_s) * 1e6:.0f} us"
    )
    broker_detail = (
        f"Broker.get_session_token {broker_s * 1000:.2f} ms, raw boto3 {raw2_s * 1000:.2f} ms"
    )
    return [
        Figure("issue overhead (magic/raw)", ratio, "x", 1.05, detail),
        Figure("issue overhead (Broker/raw)", broker_ratio, "x", None, broker_detail),
        _without_network(sandbox, shell, raw, rounds),
    ]
