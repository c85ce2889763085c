"""Every public name the reference documents is reachable after `import stsmagic` alone, and
loads its module only when first used."""

from __future__ import annotations

import subprocess
import sys

import pytest

PATHS = [
    "stsmagic.console.signin_url",
    "stsmagic.broker.profiles",
    "stsmagic.broker.console.signin_url",
    "stsmagic.policy_draft.draft",
    "stsmagic.renewal.renew",
    "stsmagic.usage.UsageTable",
    "stsmagic.sso.cache",
    "stsmagic.source.source_session",
    "stsmagic.dask",
]


def run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.strip()


@pytest.mark.parametrize("path", PATHS)
def test_a_documented_name_is_reachable_from_import_stsmagic(path: str) -> None:
    module = path.split(".")[1]
    code = (
        "import sys, stsmagic\n"
        f"before = {('stsmagic.' + module)!r} in sys.modules\n"
        f"value = {path}\n"
        "print(before, value is not None)"
    )
    # `stsmagic.errors` and `stsmagic._version` load with the package; the rest on first use
    assert run(code) == "False True"


def test_a_name_that_is_not_there_is_still_an_attribute_error() -> None:
    assert (
        run(
            "import stsmagic\ntry:\n    stsmagic.nothing\nexcept AttributeError as e:\n    print(e)"
        )
        == "module 'stsmagic' has no attribute 'nothing'"
    )
