"""`%load_ext stsmagic` in a fresh kernel-like process that has already imported boto3."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from timing import Figure

# Everything a kernel has before the user's first cell: IPython, boto3, a shell. Only the
# load_ext call itself is timed.
CHILD = """
import json, sys, time
import IPython, boto3
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell
config = Config()
config.HistoryManager.enabled = False
shell = InteractiveShell.instance(config=config)
start = time.perf_counter()
shell.run_line_magic("load_ext", "stsmagic")
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds,
    "pandas": "pandas" in sys.modules,
    "ipywidgets": "ipywidgets" in sys.modules,
    "magics": [m for m in shell.magics_manager.magics["line"] if m.startswith(("sts", "sso"))],
}))
"""


def measure(env: dict[str, str], repeats: int = 9) -> list[Figure]:
    results = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", CHILD],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"load_ext child failed: {tail[0]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    heavy = sorted({name for r in results for name in ("pandas", "ipywidgets") if r[name]})
    magics = results[0]["magics"]
    detail = f"median of {repeats} fresh processes; magics {len(magics)}"
    detail += f"; imported {', '.join(heavy)}" if heavy else "; pandas/ipywidgets not imported"
    ms = statistics.median(r["seconds"] for r in results) * 1000
    return [Figure("load_ext stsmagic", ms, " ms", 15, detail)]
