"""Import costs: `import stsmagic` pulls in neither boto3, pandas nor ipywidgets."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("boto3", "botocore", "pandas", "ipywidgets", "IPython")


def loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return set(out.stdout.split())


def test_import_stsmagic_is_light() -> None:
    assert loaded_after("import stsmagic") == set()


def test_public_names_and_errors_stay_light() -> None:
    code = (
        "import stsmagic\n"
        "from stsmagic import ParameterError, RequestRefused, SessionExpired, StsMagicError\n"
        "from stsmagic import params\n"
        "params.duration_seconds(3600)"
    )
    assert loaded_after(code) == set()


def test_the_ledger_needs_no_boto3_nor_pandas_until_used() -> None:
    # The kernel's ledger: boto3 only on the first activation, pandas only for a frame.
    assert loaded_after("import stsmagic; stsmagic.sessions") & {"boto3", "pandas"} == set()
    assert "pandas" in loaded_after("import stsmagic; stsmagic.sessions.to_frame()")


def test_broker_and_live_need_boto3_but_not_pandas_or_widgets() -> None:
    loaded = loaded_after(
        "import stsmagic; stsmagic.Broker; from stsmagic import live; live.install()"
    )
    assert "boto3" in loaded
    assert loaded & {"pandas", "ipywidgets", "IPython"} == set()
