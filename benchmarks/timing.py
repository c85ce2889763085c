"""How every figure is timed: medians of repeated runs, two variants interleaved in rounds,
against a raw boto3 client on the same endpoint, or in a fresh Python process."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One printed line: a measured value, its unit, and the goal it is held to (if any)."""

    name: str
    value: float
    unit: str
    goal: float | None = None
    detail: str = ""

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else self.value <= self.goal

    def line(self) -> str:
        verdict = "" if self.met is None else ("  ok" if self.met else "  MISSED")
        goal = "" if self.goal is None else f" (goal <= {self.goal:g}{self.unit})"
        detail = f"  [{self.detail}]" if self.detail else ""
        return f"{self.name:<34} {self.value:10.3f}{self.unit}{goal}{verdict}{detail}"


def median_seconds(
    action: Callable[[], object],
    repeats: int,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median time of ``action`` over ``repeats`` runs, after ``warmup`` untimed runs.

    ``clock``: wall time by default; ``time.thread_time`` counts only the CPU this thread
    used, which other processes on a loaded machine do not change."""
    for _ in range(warmup):
        action()
    times = []
    for _ in range(repeats):
        start = clock()
        action()
        times.append(clock() - start)
    return statistics.median(times)


def interleaved(
    first: Callable[[], object],
    second: Callable[[], object],
    rounds: int,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, float, float]:
    """Run ``first`` and ``second`` alternately (order swapped every round, to cancel drift),
    timed by ``clock`` (as for ``median_seconds``).

    Returns (median seconds of first, median seconds of second, median of per-round ratios
    first/second).
    """
    for _ in range(warmup):
        first()
        second()
    a_times: list[float] = []
    b_times: list[float] = []
    for index in range(rounds):
        order = [(first, a_times), (second, b_times)]
        if index % 2:
            order.reverse()
        for action, sink in order:
            start = clock()
            action()
            sink.append(clock() - start)
    ratios = [a / b for a, b in zip(a_times, b_times, strict=True)]
    return statistics.median(a_times), statistics.median(b_times), statistics.median(ratios)


def raw_client(sandbox: Any, service: str = "sts") -> Any:
    """A plain boto3 client on the sandbox with its IAM user's keys: what stsmagic is held to."""
    import boto3

    keys = sandbox.source_credentials
    return boto3.Session(
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        region_name="us-east-1",
    ).client(service, endpoint_url=sandbox.endpoint_url)


def run_child(script: str, env: dict[str, str], name: str) -> dict[str, Any]:
    """Run ``script`` in a fresh Python process; the JSON object its last output line prints."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{name} child failed: {tail[0]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
