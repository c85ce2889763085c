"""Code run in a new Python process with an IPython shell in it: a kernel of its own, started
for one test, so what it imports and builds is its alone."""

from __future__ import annotations

import subprocess
import sys

SHELL = """\
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config
c = Config(); c.HistoryManager.enabled = False; c.HistoryManager.hist_file = ':memory:'
ip = InteractiveShell.instance(config=c)
"""


def run_in_new_shell(code: str, *, before: str = "", timeout: float = 60) -> str:
    """What ``code`` prints, run after ``before`` and a new shell ``ip`` (history off) are made;
    fails the test with the child's stderr if it exits non-zero."""
    done = subprocess.run(
        [sys.executable, "-c", f"{before}\n{SHELL}{code}"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
