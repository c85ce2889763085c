"""Issue overhead as users see it: `%sts_session --token-code` against raw boto3 when every
GetSessionToken takes a simulated 20 ms network round trip.

The loopback sandbox answers in about a millisecond, which makes stsmagic's own work look
large; a real STS endpoint is tens of milliseconds away. The sandbox holds each
GetSessionToken 20 ms before answering (``hang_next``), so the same delay falls on both
callers, whatever their clients.
"""

from __future__ import annotations

from typing import Any

from timing import Figure, interleaved, raw_client

ROUND_TRIP_SECONDS = 0.020


def measure(sandbox: Any, shell: Any, rounds: int = 31, warmup: int = 2) -> list[Figure]:
    raw = raw_client(sandbox)

    def raw_call() -> None:
        raw.get_session_token(SerialNumber=sandbox.mfa_serial, TokenCode=sandbox.mfa_code())

    def magic_call() -> None:
        shell.run_line_magic("sts_session", f"--token-code {sandbox.mfa_code()}")

    calls = 2 * (rounds + warmup)  # each call sends one GetSessionToken
    sandbox.hang_next("GetSessionToken", ROUND_TRIP_SECONDS, times=calls)
    before = sandbox.count("GetSessionToken")
    magic_s, raw_s, ratio = interleaved(magic_call, raw_call, rounds, warmup=warmup)
    sent = sandbox.count("GetSessionToken") - before
    if sent != calls:  # a delay left over (or missing) would skew what is measured next
        raise RuntimeError(f"expected {calls} GetSessionToken requests, the sandbox saw {sent}")
    detail = (
        f"20 ms round trip, median of {rounds} interleaved rounds: magic {magic_s * 1000:.2f} ms,"
        f" raw boto3 {raw_s * 1000:.2f} ms, +{(magic_s - raw_s) * 1e6:.0f} us"
    )
    return [Figure("issue overhead, 20 ms RTT", ratio, "x", 1.05, detail)]
