"""pytest plugin (``-p tests.helpers.nbval_outputs``) for the nbval run in test_notebooks.py: keep
every output the kernel produced.

nbval compares outputs but never saves them; this writes each cell's outputs as one JSON line
to the file named by STSMAGIC_NBVAL_OUTPUTS, so the test can scan them for secrets.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    outputs: Any = getattr(item, "test_outputs", None)
    path = os.environ.get("STSMAGIC_NBVAL_OUTPUTS")
    if path is None or outputs is None:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"cell": item.nodeid, "outputs": outputs}, default=str) + "\n")
