"""aiobotocore (so s3fs) signing, and a pandas ``s3://`` read, with live credentials against
static ones: the cost of the active session reaching aiobotocore.

Signing: the same prepared S3 GetObject request is signed by an aiobotocore client whose
session was reached by stsmagic (no keys given) and by one given the same key triple
explicitly; nothing is sent. Reading: ``pandas.read_csv("s3://…")`` of a 10 MB CSV from the
sandbox, through an s3fs filesystem with no keys (live) and one with the keys (static).
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from timing import Figure, interleaved, raw_client

BUCKET = "stsmagic-bench"
KEY = "ten-megabytes.csv"


def _csv_of(megabytes: int) -> bytes:
    row = b"2026-11-26T12:00:00Z,arn:aws:iam::123456789012:user/bench,s3:GetObject,200,1234567\n"
    rows = megabytes * 1024 * 1024 // len(row)
    return b"time,principal,action,status,bytes\n" + row * rows


def _put_object(sandbox: Any) -> None:
    s3 = raw_client(sandbox, "s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=_csv_of(10))


async def _aio_signers(sandbox: Any, frozen: Any, count: int, rounds: int) -> tuple[float, ...]:
    from aiobotocore.session import AioSession
    from botocore.awsrequest import AWSRequest

    url = f"{sandbox.endpoint_url}/{BUCKET}/{KEY}"
    live_session = AioSession()
    static_session = AioSession()
    static_session.set_credentials(frozen.access_key, frozen.secret_key, frozen.token)
    async with (
        live_session.create_client("s3", region_name="us-east-1") as live_client,
        static_session.create_client("s3", region_name="us-east-1") as static_client,
    ):

        async def batch(client: Any) -> str:
            request = None
            for _ in range(count):
                request = AWSRequest(method="GET", url=url, headers={})
                await client._request_signer.sign("GetObject", request)
            assert request is not None
            return str(request.headers["Authorization"])

        if f"Credential={frozen.access_key}/" not in await batch(live_client):
            raise RuntimeError("aiobotocore did not sign with the active session")
        loop = asyncio.get_running_loop()

        def run(client: Any) -> Any:
            # interleaved() is synchronous: run each batch on a worker thread's own loop.
            return lambda: asyncio.run_coroutine_threadsafe(batch(client), side_loop).result()

        side_loop = asyncio.new_event_loop()
        import threading

        thread = threading.Thread(target=side_loop.run_forever, daemon=True)
        thread.start()
        try:
            return await loop.run_in_executor(
                None, lambda: interleaved(run(live_client), run(static_client), rounds)
            )
        finally:
            side_loop.call_soon_threadsafe(side_loop.stop)
            thread.join()
            side_loop.close()


def measure(sandbox: Any, frozen: Any, rounds: int = 40, per_round: int = 250) -> list[Figure]:
    """``frozen``: the active session's credentials (a ReadOnlyCredentials)."""
    import pandas as pd
    import s3fs

    live_s, static_s, ratio = asyncio.run(_aio_signers(sandbox, frozen, per_round, rounds))
    sign_detail = (
        f"{rounds * per_round} signatures each, {rounds} interleaved rounds: live"
        f" {live_s / per_round * 1e6:.1f} us, static {static_s / per_round * 1e6:.1f} us each"
    )

    _put_object(sandbox)
    client_kwargs = {"endpoint_url": sandbox.endpoint_url, "region_name": "us-east-1"}
    live_fs = s3fs.S3FileSystem(client_kwargs=client_kwargs, skip_instance_cache=True)
    static_fs = s3fs.S3FileSystem(
        key=frozen.access_key,
        secret=frozen.secret_key,
        token=frozen.token,
        client_kwargs=client_kwargs,
        skip_instance_cache=True,
    )
    path = f"{BUCKET}/{KEY}"

    def read(fs: Any) -> Any:
        def once() -> None:
            # read_csv("s3://…") as pandas does it, through the given filesystem
            with fs.open(path, "rb") as f:
                pd.read_csv(io.BufferedReader(f))

        return once

    r_live, r_static, r_ratio = interleaved(read(live_fs), read(static_fs), 7)
    read_detail = f"10 MB CSV, 7 interleaved rounds: live {r_live:.3f} s, static {r_static:.3f} s"
    return [
        Figure("aiobotocore signing (live/static)", ratio, "x", 1.02, sign_detail),
        Figure("pandas s3:// 10 MB read (live/static)", r_ratio, "x", 1.02, read_detail),
    ]
