"""Serving: how fast the kernel's endpoint answers, and what a child pays for fetching from it.

1. The endpoint's answer time with 16 children fetching at once: 16 child processes, each
   sending one GET (a new connection, as the SDKs' container fetch does) at the same instants,
   50 rounds 100 ms apart; p50 and p99 of every request's time as the children measured it.
   Goal: p99 <= 10 ms. Against the floor: the same children, in the same bursts, fetch
   alternately from the endpoint and from the standard library's ``ThreadingHTTPServer``
   answering a constant body of the same size in this process (a thread a connection, the
   same backlog); endpoint/floor at p50 and at p99, goal <= 1.05x at p99. The Jupyter
   server's endpoint is the same class (it serves through ``stsmagic.outlets.serve`` too).
   Also, without a goal: one child fetching back to back (the floor: a
   connection, a thread and a parse per answer) and the 16 children fetching back to back (200
   each, no pause): what the endpoint does when 16 processes do nothing but fetch.
2. A child's first `get_caller_identity` (client made, credentials resolved, one call) with
   serving (credentials fetched from the kernel) against with the `--env` export (read from
   the environment): median of per-round ratios over interleaved rounds of fresh child
   processes. Goal: <= 1.10x.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from timing import Figure, run_child

CHILDREN = 16
BURSTS = 50  # each child fetches once per burst, all at the same instant
BURST_INTERVAL = 0.1
REQUESTS = 200  # back to back
ROUNDS = 25

FETCHER = """
import http.client, json, sys, time
from urllib.parse import urlsplit
urls, token, start_at, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
interval = float(sys.argv[5])  # 0: back to back
wheres = [urlsplit(url) for url in urls.split(",")]  # taken in turn, one a fetch
headers = {"Authorization": token}
times = [[] for _ in wheres]
for index in range(n):
    at = start_at + index * interval
    while time.time() < at:
        time.sleep(min(0.001, max(at - time.time(), 0)))
    where = wheres[index % len(wheres)]
    begin = time.perf_counter()
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=5)
    connection.request("GET", where.path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    times[index % len(wheres)].append(time.perf_counter() - begin)
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
    return interleaved_times([url], token, requests, interval, children)[0]


def interleaved_times(
    urls: list[str], token: str, requests: int, interval: float, children: int = CHILDREN
) -> list[list[float]]:
    """Each child's fetches take ``urls`` in turn (every child the same one at each instant):
    the times of each URL's fetches."""
    start_at = time.time() + 2.0  # every child started and waiting
    arguments = [",".join(urls), token, str(start_at), str(requests), str(interval)]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", FETCHER, *arguments],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(children)
    ]
    times: list[list[float]] = [[] for _ in urls]
    for child in children:
        out, _ = child.communicate(timeout=120)
        if child.returncode != 0:
            raise RuntimeError("a fetching child failed")
        for sink, got in zip(times, json.loads(out.strip().splitlines()[-1]), strict=True):
            sink.extend(got)
    return times


class _Floor(ThreadingHTTPServer):
    """The floor: the standard library's threading server answering ``body`` to every GET,
    with the endpoint's backlog (socketserver's 5 drops connections under 16 at once)."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, body: bytes) -> None:
        class Constant(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Constant)
        self.url = f"http://127.0.0.1:{self.server_port}/"


def _answer_size(url: str, token: str) -> int:
    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=5)
    connection.request("GET", where.path, headers={"Authorization": token})
    size = len(connection.getresponse().read())
    connection.close()
    return size


def against_floor(url: str, token: str) -> list[Figure]:
    """The endpoint and the floor, in alternate bursts of the same 16 children."""
    floor = _Floor(b"x" * _answer_size(url, token))
    thread = threading.Thread(target=floor.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        ours, base = interleaved_times([url, floor.url], token, 2 * BURSTS, BURST_INTERVAL)
    finally:
        floor.shutdown()
        thread.join()
        floor.server_close()
    figures = []
    for name, fraction in (("p50", 0.50), ("p99", 0.99)):
        mine, theirs = _percentile(ours, fraction), _percentile(base, fraction)
        figures.append(
            Figure(
                f"serve: endpoint/floor {name}",
                mine / theirs,
                "x",
                1.05 if name == "p99" else None,
                f"endpoint {mine * 1e3:.1f} ms, ThreadingHTTPServer with a constant body of the"
                f" same size {theirs * 1e3:.1f} ms; {CHILDREN} children at once, {BURSTS} bursts"
                " each, alternating; the Jupyter server's endpoint is the same class",
            )
        )
    return figures


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
        token = server.token_file.read_text()  # the token is in its file only
        bursts = endpoint_times(server.url, token, BURSTS, BURST_INTERVAL)
        p50, p99 = _percentile(bursts, 0.50) * 1e3, _percentile(bursts, 0.99) * 1e3
        alone = endpoint_times(server.url, token, REQUESTS, 0.0, children=1)
        alone50, alone99 = _percentile(alone, 0.50) * 1e3, _percentile(alone, 0.99) * 1e3
        floor = against_floor(server.url, token)
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
        *floor,
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
