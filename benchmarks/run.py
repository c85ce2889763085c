"""stsmagic's measured figures: `python benchmarks/run.py`, one line per figure.

Everything runs side by side in this one process against one in-process sandbox, with an AWS
config written to a temporary directory (nothing from the machine's ~/.aws or AWS_* is used).
Pass `--strict` to exit 1 when a goal is missed.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask_switch
import issue_latency
import issue_overhead
import ledger_scale
import load_ext_ratio
import load_ext_time
import reach_overhead
import renewal_overhead
import role_overhead
import serve_latency
import signing_overhead
import usage_overhead
from timing import Figure


def aws_environment(sandbox: Any, home: Path) -> dict[str, str]:
    """A `default` profile for the sandbox's IAM user, as the test fixture `aws_profile` has."""
    keys = sandbox.source_credentials
    aws = home / "aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        f"[default]\naws_access_key_id = {keys.access_key}\n"
        f"aws_secret_access_key = {keys.secret_key}\n"
    )
    (aws / "config").write_text(
        f"[default]\nregion = us-east-1\nmfa_serial = {sandbox.mfa_serial}\n"
        f"endpoint_url = {sandbox.endpoint_url}\n"
    )
    (home / "ipython").mkdir()
    return {
        "AWS_CONFIG_FILE": str(aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
        "IPYTHONDIR": str(home / "ipython"),
        "HOME": str(home),
    }


def shell_with_extension() -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "stsmagic")
    return shell


def active_session() -> Any:
    """The kernel's active session, which the issue figures' `%sts_session` calls left."""
    import stsmagic

    active = stsmagic.sessions.active
    if active is None:
        raise RuntimeError("no active session after %sts_session")
    return active


def report(produce: Callable[[], list[Figure]], name: str, missed: list[str]) -> None:
    try:
        figures = produce()
    except Exception as error:  # a figure that cannot be measured is reported, not hidden
        print(f"{name:<34} FAILED: {type(error).__name__}: {error}".splitlines()[0], flush=True)
        missed.append(name)
        return
    for figure in figures:
        print(figure.line(), flush=True)
        if figure.met is False:
            missed.append(figure.name)


def main(argv: list[str]) -> int:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    from stsmagic.sandbox import Sandbox

    missed: list[str] = []
    # Timings on a shared machine move with its load: say what it was.
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# {os.cpu_count()} cores, load average {load} (1, 5, 15 min)", flush=True)
    with tempfile.TemporaryDirectory(prefix="stsmagic-bench-") as tmp, Sandbox() as sandbox:
        env = aws_environment(sandbox, Path(tmp))
        os.environ.update(env)
        pycache = str(Path(tmp) / "pycache")
        report(lambda: load_ext_time.measure(env, pycache), "load_ext stsmagic", missed)
        report(lambda: load_ext_ratio.measure(env, pycache), "load_ext / import boto3", missed)
        shell = shell_with_extension()
        report(lambda: issue_overhead.measure(sandbox, shell), "issue overhead", missed)
        report(lambda: issue_latency.measure(sandbox, shell), "issue overhead, 20 ms RTT", missed)

        report(
            lambda: signing_overhead.measure(sandbox, active_session().access_key_id),
            "signing overhead",
            missed,
        )
        report(lambda: usage_overhead.measure(sandbox), "usage counting", missed)
        report(lambda: role_overhead.measure(sandbox, shell), "role overhead", missed)
        report(lambda: renewal_overhead.measure(sandbox), "renewal overhead", missed)
        report(
            lambda: reach_overhead.measure(sandbox, active_session().credentials),
            "reach overhead",
            missed,
        )
        report(ledger_scale.measure, "ledger scale", missed)
        report(lambda: dask_switch.measure(sandbox), "dask switch", missed)
        report(lambda: serve_latency.measure(sandbox), "serve latency", missed)
        shell.run_line_magic("unload_ext", "stsmagic")
    if missed:
        print(f"missed or failed: {', '.join(missed)}")
    return 1 if missed and "--strict" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
