"""Import costs: `import stsmagic` pulls in neither boto3, pandas nor ipywidgets."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.new_shell import run_in_new_shell

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
        "from stsmagic import limits\n"
        "limits.duration_seconds(3600)"
    )
    assert loaded_after(code) == set()


def test_the_ledger_needs_no_boto3_nor_pandas_until_used() -> None:
    # The kernel's ledger: boto3 only on the first activation, pandas only for a frame.
    assert loaded_after("import stsmagic; stsmagic.sessions") & {"boto3", "pandas"} == set()
    assert "pandas" in loaded_after("import stsmagic; stsmagic.sessions.to_frame()")


def test_broker_and_live_need_boto3_but_not_pandas_or_widgets() -> None:
    loaded = loaded_after(
        "import stsmagic; stsmagic.Broker; from stsmagic.outlets import live; live.install()"
    )
    assert "boto3" in loaded
    assert loaded & {"pandas", "ipywidgets", "IPython"} == set()


def test_load_ext_defers_what_only_a_magic_needs() -> None:
    """Issue 12, performance: `%load_ext` builds no argparse parser and imports no module that
    only a magic's run needs; the first `%magic?` or run builds that magic's parser alone."""
    counting = (
        "import argparse, sys\n"
        "built = []\n"
        "init = argparse.ArgumentParser.__init__\n"
        "def counting(self, *args, **kwargs):\n"
        "    built.append(kwargs.get('prog') or args[0])\n"
        "    init(self, *args, **kwargs)\n"
    )
    code = (
        "argparse.ArgumentParser.__init__ = counting  # IPython's own are built by now\n"
        "ip.run_line_magic('load_ext', 'stsmagic')\n"
        "lazy = ['broker.broker', 'session', 'broker.profiles', 'sso', 'sso.cache',\n"
        "        'sso.login', 'sso.oidc', 'outlets.remember', 'dask', 'broker.answers',\n"
        "        'source.plain_http', 'widgets']\n"
        "print(sorted(m for m in lazy if 'stsmagic.' + m in sys.modules), built)\n"
        "doc = ip.find_line_magic('sts_use').__doc__\n"
        "ip.run_line_magic('sts_use', '--source')\n"
        "print(doc.split()[0], built)\n"
    )
    printed = run_in_new_shell(code, before=counting).splitlines()
    assert printed[0] == "[] []"
    assert printed[-1] == "%sts_use ['sts_use']"
