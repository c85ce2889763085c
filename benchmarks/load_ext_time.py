"""`%load_ext stsmagic` in a fresh kernel-like process that has already imported boto3."""

from __future__ import annotations

import os
import statistics

from timing import Figure, run_child

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

# The same work in its three parts, to say where the time goes.
PARTS = """
import json, time
import IPython, boto3
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell
config = Config()
config.HistoryManager.enabled = False
shell = InteractiveShell.instance(config=config)
t0 = time.perf_counter()
import stsmagic.magics
t1 = time.perf_counter()
boto3.setup_default_session()
t2 = time.perf_counter()
shell.run_line_magic("load_ext", "stsmagic")
t3 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "default_session": t2 - t1, "register_install": t3 - t2}))
"""


def measure(env: dict[str, str], pycache: str, repeats: int = 9) -> list[Figure]:
    """``pycache``: a directory for bytecode, as an installed package has it compiled.

    Without it (PYTHONDONTWRITEBYTECODE, as on these machines) every run would compile
    stsmagic's sources first and time the compiler. One untimed run writes the cache.
    """
    child_env = {**os.environ, **env, "PYTHONPYCACHEPREFIX": pycache}
    child_env.pop("PYTHONDONTWRITEBYTECODE", None)
    runs = [run_child(CHILD, child_env, "load_ext") for _ in range(repeats + 1)]
    results = runs[1:]  # the first run compiled the bytecode
    parts = [run_child(PARTS, child_env, "load_ext") for _ in range(repeats)]
    heavy = sorted({name for r in results for name in ("pandas", "ipywidgets") if r[name]})
    magics = results[0]["magics"]
    detail = f"median of {repeats} fresh processes; magics {len(magics)}"
    detail += f"; imported {', '.join(heavy)}" if heavy else "; pandas/ipywidgets not imported"
    ms = statistics.median(r["seconds"] for r in results) * 1000
    split = {k: statistics.median(p[k] for p in parts) * 1000 for k in parts[0]}
    imports, default, rest = split["imports"], split["default_session"], split["register_install"]
    where = (
        f"import stsmagic.magics {imports:.1f} ms, boto3.setup_default_session() {default:.1f}"
        f" ms, register + live.install {rest:.1f} ms"
    )
    return [
        Figure("load_ext stsmagic", ms, " ms", 15, detail),
        Figure("load_ext, its parts summed", sum(split.values()), " ms", None, where),
    ]
