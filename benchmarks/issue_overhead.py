"""`%sts_session --token-code` end to end against a raw, warm boto3 GetSessionToken."""

from __future__ import annotations

from typing import Any

from timing import Figure, interleaved


def measure(sandbox: Any, shell: Any, rounds: int = 61) -> list[Figure]:
    import boto3

    keys = sandbox.source_credentials
    raw = boto3.Session(
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        region_name="us-east-1",
    ).client("sts", endpoint_url=sandbox.endpoint_url)

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
    ]
