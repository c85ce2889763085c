"""`%load_ext stsmagic` as a share of `import boto3`, both timed in the same fresh process.

A ratio, not milliseconds: the machine's speed and load move both alike, so the figure says
what stsmagic adds to a kernel that uses boto3 anyway (goal: at most 10 %).
"""

from __future__ import annotations

import os
import statistics
from typing import Any

from timing import Figure, run_child

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


def measure(env: dict[str, str], pycache: str, repeats: int = 9) -> list[Figure]:
    """``pycache`` as in ``load_ext_time``: bytecode compiled once, by an untimed first run."""
    child_env: dict[str, Any] = {**os.environ, **env, "PYTHONPYCACHEPREFIX": pycache}
    child_env.pop("PYTHONDONTWRITEBYTECODE", None)
    runs = [run_child(CHILD, child_env, "load_ext ratio") for _ in range(repeats + 1)][1:]
    ratio = statistics.median(r["load_ext"] / r["boto3"] for r in runs)
    boto3_ms = statistics.median(r["boto3"] for r in runs) * 1000
    load_ms = statistics.median(r["load_ext"] for r in runs) * 1000
    detail = (
        f"median of {repeats} fresh processes: load_ext {load_ms:.1f} ms,"
        f" import boto3 {boto3_ms:.1f} ms"
    )
    return [Figure("load_ext / import boto3", ratio * 100, " %", 10, detail)]
