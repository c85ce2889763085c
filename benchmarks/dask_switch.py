"""Time from a switch in the kernel to the last of 4 Dask workers signing with the new key.

A real ``LocalCluster`` (4 worker processes) with ``CredentialsPlugin`` registered. Each round
one task waits on every worker, checking every millisecond the key its boto3 S3 client would
sign with; once it is the new one, it sends a real request and reports when that request was
signed (botocore's ``before-send``). The kernel then switches between two sessions. 20 rounds:
median and max of (last worker's signing time - the moment of the switch).
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import datetime, timezone
from typing import Any

import cloudpickle
from timing import Figure, raw_client

ROUNDS = 20
WORKERS = 4
GOAL_SECONDS = 1.0

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this


def signed_with(target: str, deadline_seconds: float) -> float | None:
    """On a worker: wait until boto3 signs with ``target``; the wall time of that signing."""
    import boto3

    s3 = boto3.client("s3")
    credentials = s3._request_signer._credentials
    end = time.monotonic() + deadline_seconds
    while credentials.get_frozen_credentials().access_key != target:
        if time.monotonic() > end:
            return None
        time.sleep(0.001)
    sent: list[tuple[float, str]] = []

    def note(request: Any, **kwargs: Any) -> None:
        authorization = request.headers.get("Authorization", b"")
        if isinstance(authorization, bytes):
            authorization = authorization.decode()
        sent.append((time.time(), authorization))

    s3.meta.events.register("before-send.s3", note)
    s3.list_buckets()
    when, authorization = sent[0]
    return when if f"Credential={target}/" in authorization else None


def measure(sandbox: Any) -> list[Figure]:
    import distributed

    from stsmagic.dask import CredentialsPlugin
    from stsmagic.ledger import SessionLedger
    from stsmagic.session import IssuedSession

    sts = raw_client(sandbox)
    now = datetime.now(timezone.utc)
    sessions = [
        IssuedSession.from_sts("session", sts.get_session_token(), issued_at=now, label=label)
        for label in ("even", "odd")
    ]
    ledger = SessionLedger()
    ledger.add(sessions[0], activate=False)
    ledger.add(sessions[1])
    env = {"AWS_ENDPOINT_URL": sandbox.endpoint_url, "AWS_EC2_METADATA_DISABLED": "true"}
    with (
        distributed.LocalCluster(
            n_workers=WORKERS,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=env,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        plugin = CredentialsPlugin(ledger, client)
        client.register_plugin(plugin)
        workers = list(client.scheduler_info()["workers"])
        latencies: list[float] = []
        calls: list[float] = []
        for index in range(ROUNDS + 1):  # the first round warms up (imports, connections)
            session = sessions[index % 2]
            futures = [
                client.submit(signed_with, session.access_key_id, 30.0, workers=[w], pure=False)
                for w in workers
            ]
            time.sleep(0.3)  # every watcher is running
            switched = time.time()
            start = time.perf_counter()
            ledger.activate(session.label or "")
            calls.append(time.perf_counter() - start)
            times = client.gather(futures)
            if any(t is None for t in times):
                raise RuntimeError(f"a worker never signed with {session.label}")
            if index:
                latencies.append(max(times) - switched)
        assert plugin._pusher is not None
        plugin._pusher.stop()
    median = statistics.median(latencies)
    worst = max(latencies)
    return [
        Figure(
            f"dask switch -> {WORKERS} workers, median",
            median,
            "s",
            GOAL_SECONDS,
            f"{ROUNDS} switches; the kernel's call returns in "
            f"{statistics.median(calls[1:]) * 1e3:.1f} ms (median)",
        ),
        Figure(f"dask switch -> {WORKERS} workers, max", worst, "s", GOAL_SECONDS),
    ]
