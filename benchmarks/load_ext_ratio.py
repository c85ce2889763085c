"""`%load_ext stsmagic` as a share of `import boto3`, both timed in the same fresh process.

A ratio, not milliseconds: the machine's speed and load move both alike, so the figure says
what stsmagic adds to a kernel that uses boto3 anyway (goal: at most 10 %).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any

from timing import Figure

# As a kernel starts: IPython first (untimed), then the user's `import boto3` and
# `%load_ext stsmagic`, each timed on its own.
CHILD = """
import json, time
import IPython
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell
t0 = time.perf_counter()
import boto3
t1 = time.perf_counter()
config = Config()
config.HistoryManager.enabled = False
shell = InteractiveShell.instance(config=config)
t2 = time.perf_counter()
shell.run_line_magic("load_ext", "stsmagic")
t3 = time.perf_counter()
print(json.dumps({"boto3": t1 - t0, "load_ext": t3 - t2}))
"""


def _fresh_process(env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"load_ext ratio child failed: {tail[0]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(env: dict[str, str], pycache: str, repeats: int = 9) -> list[Figure]:
    """``pycache`` as in ``load_ext_time``: bytecode compiled once, by an untimed first run."""
    child_env: dict[str, Any] = {**os.environ, **env, "PYTHONPYCACHEPREFIX": pycache}
    child_env.pop("PYTHONDONTWRITEBYTECODE", None)
    runs = [_fresh_process(child_env) for _ in range(repeats + 1)][1:]
    ratio = statistics.median(r["load_ext"] / r["boto3"] for r in runs)
    boto3_ms = statistics.median(r["boto3"] for r in runs) * 1000
    load_ms = statistics.median(r["load_ext"] for r in runs) * 1000
    detail = (
        f"median of {repeats} fresh processes: load_ext {load_ms:.1f} ms,"
        f" import boto3 {boto3_ms:.1f} ms"
    )
    return [Figure("load_ext / import boto3", ratio * 100, " %", 10, detail)]
