"""Serving: how fast the kernel's endpoint answers, and what a child pays for fetching from it.

1. The endpoint's answer time with 16 children fetching at once: 16 child processes, each
   sending one GET (a new connection, as the SDKs' container fetch does) at the same instants,
   50 rounds 100 ms apart; p50 and p99 of every request's time as the children measured it.
   Goal: p99 <= 10 ms. Also, without a goal: one child fetching back to back (the floor: a
   connection, a thread and a parse per answer) and the 16 children fetching back to back (200
   each, no pause): what the endpoint does when 16 processes do nothing but fetch.
2. A child's first `get_caller_identity` (client made, credentials resolved, one call) with
   serving (credentials fetched from the kernel) against with the `--env` export (read from
   the environment): median of per-round ratios over interleaved rounds of fresh child
   processes. Goal: <= 1.10x.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from timing import Figure, run_child

CHILDREN = 16
BURSTS = 50  # each child fetches once per burst, all at the same instant
BURST_INTERVAL = 0.1
REQUESTS = 200  # back to back
ROUNDS = 25

FETCHER = """
import http.client, json, sys, time
from urllib.parse import urlsplit
url, token, start_at, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
interval = float(sys.argv[5])  # 0: back to back
where = urlsplit(url)
headers = {"Authorization": token}
times = []
for index in range(n):
    at = start_at + index * interval
    while time.time() < at:
        time.sleep(min(0.001, max(at - time.time(), 0)))
    begin = time.perf_counter()
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=5)
    connection.request("GET", where.path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    times.append(time.perf_counter() - begin)
    assert response.status == 200, response.status
print(json.dumps(times))
"""

FIRST_CALL = """
import json, time
begin = time.perf_counter()
import boto3
imported = time.perf_counter()
sts = boto3.client("sts")
sts.get_caller_identity()
done = time.perf_counter()
print(json.dumps({"call": done - imported, "total": done - begin}))
"""


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def endpoint_times(
    url: str, token: str, requests: int, interval: float, children: int = CHILDREN
) -> list[float]:
    start_at = time.time() + 2.0  # every child started and waiting
    arguments = [url, token, str(start_at), str(requests), str(interval)]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", FETCHER, *arguments],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(children)
    ]
    times: list[float] = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        if child.returncode != 0:
            raise RuntimeError("a fetching child failed")
        times.extend(json.loads(out.strip().splitlines()[-1]))
    return times


def measure(sandbox: Any) -> list[Figure]:
    from stsmagic.broker import Broker
    from stsmagic.ledger import SessionLedger
    from stsmagic.outlets import environ
    from stsmagic.outlets.serve import serve_credentials

    ledger = SessionLedger()
    ledger.add(Broker().get_federation_token(Name="bench", DurationSeconds=3600))
    environ.export_environ(True, ledger)
    exported = dict(os.environ)
    environ.export_environ(False)
    with serve_credentials(ledger) as server:
        served = dict(os.environ)
        token = server.environ()["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        bursts = endpoint_times(server.url, token, BURSTS, BURST_INTERVAL)
        p50, p99 = _percentile(bursts, 0.50) * 1e3, _percentile(bursts, 0.99) * 1e3
        alone = endpoint_times(server.url, token, REQUESTS, 0.0, children=1)
        alone50, alone99 = _percentile(alone, 0.50) * 1e3, _percentile(alone, 0.99) * 1e3
        flood = endpoint_times(server.url, token, REQUESTS, 0.0)
        flood50, flood99 = _percentile(flood, 0.50) * 1e3, _percentile(flood, 0.99) * 1e3
        with_serving: list[float] = []
        with_env: list[float] = []
        for index in range(ROUNDS + 1):
            order = [(served, with_serving), (exported, with_env)]
            if index % 2:
                order.reverse()
            for env, sink in order:
                result = run_child(FIRST_CALL, env, "first call")
                if index:  # the first round warms the disk cache
                    sink.append(result["call"])
    ratios = [a / b for a, b in zip(with_serving, with_env, strict=True)]
    detail = f"{CHILDREN} children fetching at once, {BURSTS} rounds, a connection each"
    flooded = f"{CHILDREN} children x {REQUESTS} GETs back to back: p50 {flood50:.1f} ms"
    return [
        Figure("serve: endpoint p50", p50, " ms", None, detail),
        Figure("serve: endpoint p99", p99, " ms", 10.0, detail),
        Figure(
            "serve: endpoint p50, one child",
            alone50,
            " ms",
            None,
            f"{REQUESTS} GETs back to back, p99 {alone99:.1f} ms",
        ),
        Figure("serve: endpoint p99, flooded", flood99, " ms", None, flooded),
        Figure(
            "serve: child call / --env",
            statistics.median(ratios),
            "x",
            1.10,
            f"{ROUNDS} interleaved fresh children, client + first get_caller_identity: "
            f"serving {statistics.median(with_serving) * 1e3:.1f} ms, "
            f"--env {statistics.median(with_env) * 1e3:.1f} ms",
        ),
    ]
