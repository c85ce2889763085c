"""Every code block of README.md and docs/ runs as pasted: Python and magic blocks in a real
kernel (one per page, blocks in page order) against the sandbox, shell blocks checked by
``bash -n``. Sybil reads the pages; its evaluators run each block.

The kernel's AWS setup is the demo's (``stsmagic.demo.write_demo_config``), with the profile
the pages name, ``work``, as a copy of ``demo``. A block that shows an SSO device link is
approved as a user would approve it, from the code the kernel displayed.

A block that is meant to fail says so in an HTML comment just before it,
``<!-- fails: the one line it prints -->``; the test checks that line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "docs" / "guide").glob("*.md")]
)
USER_CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b")
FAILS = re.compile(r"<!--\s*fails:\s*(.+?)\s*-->\s*\n\s*```")


class Kernel:
    """A real IPython kernel (jupyter_client) that runs blocks and approves SSO devices."""

    def __init__(self, env: dict[str, str], box: Any) -> None:
        from jupyter_client.manager import start_new_kernel

        self.box = box
        self.manager, self.client = start_new_kernel(kernel_name="python3", env=env)

    def run(self, code: str, timeout: float = 120) -> tuple[str, str | None]:
        """(what the block printed, the error it ended with or None)."""
        msg_id = self.client.execute(code, allow_stdin=False, stop_on_error=True)
        out: list[str] = []
        error = None
        while True:
            message = self.client.get_iopub_msg(timeout=timeout)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                out.append(content["text"])
                if content["name"] == "stderr" and "UsageError" in content["text"]:
                    error = content["text"].strip()
            elif kind in ("display_data", "execute_result"):
                text = content["data"].get("text/plain", "")
                out.append(text + "\n")
                for code_shown in USER_CODE.findall(text):
                    self.box.approve_device(code_shown)  # the user clicks Approve
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out), error

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def environment(tmp_path: Path, box: Any) -> dict[str, str]:
    from stsmagic.demo import write_demo_config

    aws = tmp_path / "aws"
    env = write_demo_config(aws, box)
    config, credentials = Path(env["AWS_CONFIG_FILE"]), Path(env["AWS_SHARED_CREDENTIALS_FILE"])
    demo = config.read_text().split("[profile demo]\n", 1)[1].split("\n\n", 1)[0]
    config.write_text(config.read_text() + f"\n[profile work]\n{demo}\n")
    keys = credentials.read_text().split("[demo]\n", 1)[1]
    credentials.write_text(credentials.read_text() + f"\n[work]\n{keys}")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **env,
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def python_block(example: Any) -> None:
    kernel: Kernel = example.namespace["kernel"]
    expected = example.namespace["fails"].get(example.start)
    out, error = kernel.run(example.parsed)
    where = f"{example.path}, line {example.line}"
    # a shell command the block runs (`!aws`) must be there: bash would only print this
    assert "command not found" not in out, f"{where}: {out}"
    if expected is None:
        assert error is None, f"{where}: the block failed: {error}\n{out}"
    else:
        assert error is not None and expected in error, f"{where}: expected {expected!r}: {out}"


def shell_block(example: Any) -> None:
    checked = subprocess.run(
        ["bash", "-n"], input=example.parsed, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, f"{example.path}, line {example.line}: {checked.stderr}"


@pytest.fixture
def kernel(tmp_path: Path, sandbox: Any) -> Iterator[Kernel]:
    running = Kernel(environment(tmp_path, sandbox), sandbox)
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.once
@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_block_of_the_page_runs_as_pasted(page: Path, kernel: Kernel) -> None:
    from sybil import Sybil
    from sybil.parsers.markdown import CodeBlockParser

    sybil = Sybil(
        parsers=[
            CodeBlockParser(language="python", evaluator=python_block),
            CodeBlockParser(language="bash", evaluator=shell_block),
        ]
    )
    document = sybil.parse(page)
    text = page.read_text()
    document.namespace["kernel"] = kernel
    document.namespace["fails"] = {
        match.end() - 3: match.group(1) for match in FAILS.finditer(text)
    }
    for example in document:
        example.evaluate()


def test_the_docs_never_comment_after_load_ext() -> None:
    # IPython's own %load_ext takes the rest of the line as the module's name
    for page in PAGES:
        for number, line in enumerate(page.read_text().splitlines(), 1):
            assert not re.match(r"\s*%load_ext\s+\S+\s+#", line), f"{page}:{number}: {line}"
