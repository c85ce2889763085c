"""The example notebooks run under nbval against a fresh sandbox, and hold no secret."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from stsmagic.demo import write_demo_config
from stsmagic.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent


FOLDER = "notebooks"  # the wheel maps them into the package (pyproject.toml)


def shipped_notebooks(root: Path) -> list[Path]:
    """The notebooks the repository ships: git-tracked ones in a checkout (an ``Untitled.ipynb``
    left by File > New is not one), every ``notebooks/*.ipynb`` outside git (an sdist)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", f"{FOLDER}/*.ipynb"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return sorted((root / FOLDER).glob("*.ipynb"))
    return sorted(root / name for name in listed.decode().split("\0") if name)


NOTEBOOKS = shipped_notebooks(ROOT)
EXPECTED = [
    "01-quick-start.ipynb",
    "02-federation.ipynb",
    "03-sso.ipynb",
    "04-delegated.ipynb",
    "05-panel.ipynb",
    "06-pandas-and-friends.ipynb",
    "07-long-running.ipynb",
    "08-roles.ipynb",
    "09-dask.ipynb",
]

# A secret access key is 40 characters of base64; a session token far longer. Key ids are masked
# in every output (ASIA…WXYZ), so a full one is a leak too.
SECRET_SHAPED = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
TOKEN_SHAPED = re.compile(r"[A-Za-z0-9/+=_-]{100,}")
KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")


def code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def output_text(outputs: list[dict]) -> str:
    """Every text an output shows: stream text, each mime type's data, tracebacks."""
    parts: list[str] = []
    for out in outputs:
        parts.append(
            out.get("text", "")
            if isinstance(out.get("text"), str)
            else "".join(out.get("text", []))
        )
        for value in (out.get("data") or {}).values():
            parts.append(value if isinstance(value, str) else json.dumps(value))
        parts.extend(out.get("traceback", []))
        parts.append(out.get("evalue", ""))
    return "\n".join(parts)


def leaks(text: str) -> list[str]:
    """Secret-shaped strings: 40-char secrets, session-token-length runs, unmasked key ids."""
    found = [m.group(0) for m in KEY_ID.finditer(text)]
    found += [m.group(0) for m in TOKEN_SHAPED.finditer(text)]
    found += [m.group(0) for m in SECRET_SHAPED.finditer(text) if not m.group(0).isalpha()]
    return found


def test_the_example_notebooks_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == EXPECTED


def test_a_stray_notebook_is_not_one_the_repo_ships(tmp_path: Path) -> None:
    (tmp_path / FOLDER).mkdir(parents=True)
    for name in ("01-a.ipynb", "Untitled.ipynb"):
        (tmp_path / FOLDER / name).write_text("{}")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", f"{FOLDER}/01-a.ipynb"], cwd=tmp_path, check=True)
    assert shipped_notebooks(tmp_path) == [tmp_path / FOLDER / "01-a.ipynb"]


def test_leak_scan_finds_a_planted_secret() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert leaks(f"aws_secret_access_key = {secret}") == [secret]
    assert leaks("key ASIAIOSFODNN7EXAMPLE") == ["ASIAIOSFODNN7EXAMPLE"]
    assert leaks("FwoGZXIvYXdzE" + "A" * 120)
    assert leaks("access_key='ASIA…WXYZ', expires in 0:59:59") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_saved_notebook_is_executed_in_order_with_outputs(path: Path) -> None:
    cells = code_cells(path)
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), "run it top to bottom in a fresh kernel"
    assert sum(1 for c in cells if c["outputs"]) >= len(cells) // 2
    assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_saved_notebook_holds_nothing_secret_shaped(path: Path) -> None:
    """Outputs, sources and the saved widget state: the whole file, decoded."""
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        assert leaks(output_text(cell.get("outputs", []))) == [], cell["source"]
        assert leaks("".join(cell["source"])) == [], cell["source"]
    assert leaks(json.dumps(notebook["metadata"], ensure_ascii=False)) == []


class NbvalRun(NamedTuple):
    result: subprocess.CompletedProcess[str]
    recorded: list[dict]  # every cell's outputs, as the kernel produced them
    secrets: set[str]  # every secret the run's sandbox issued, and its source secret key


@pytest.fixture(scope="module")
def nbval_run(tmp_path_factory: pytest.TempPathFactory) -> NbvalRun:
    """pytest --nbval over notebooks/ with the demo's profile, as a user would run them.

    Its own sandbox, not the session's: no state another test left (a moved clock, a queued
    failure) can reach the notebooks.
    """
    folder = tmp_path_factory.mktemp("nbval")
    with Sandbox() as box:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(write_demo_config(folder / "aws", box))
        outputs = folder / "outputs.jsonl"
        env["STSMAGIC_NBVAL_OUTPUTS"] = str(outputs)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        # the environment's own commands (aws) first, as in a user's activated venv
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--nbval",
                *(str(p.relative_to(ROOT)) for p in NOTEBOOKS),
                "--nbval-sanitize-with",
                "tests/nbval_sanitize.cfg",
                "--nbval-cell-timeout",
                "60",
                "-p",
                "tests.helpers.nbval_outputs",
                "-p",
                "no:cacheprovider",
                "-q",
                "-o",
                "addopts=",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        secrets = set(box.issued_secrets()) | {box.source_credentials.secret_key}
    recorded = (
        [json.loads(line) for line in outputs.read_text().splitlines()] if outputs.exists() else []
    )
    return NbvalRun(result, recorded, secrets)


@pytest.mark.once  # the magics' own tests cover each Python; nine kernels cost minutes
def test_every_notebook_cell_passes_under_nbval(nbval_run: NbvalRun) -> None:
    result, recorded, _ = nbval_run
    expected = sum(len(code_cells(p)) for p in NOTEBOOKS)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(rf"\b{expected} passed\b", summary), summary
    assert "failed" not in summary and "error" not in summary and "skipped" not in summary
    assert len(recorded) == expected


@pytest.mark.once
def test_nbval_outputs_hold_no_secret_the_sandbox_issued(nbval_run: NbvalRun) -> None:
    _, recorded, secrets = nbval_run
    assert recorded, "the nbval run recorded no outputs"
    assert len(secrets) > 5  # sessions, federation, SSO, trade-in tokens were issued
    text = "\n".join(output_text(cell["outputs"]) for cell in recorded)
    assert [s for s in secrets if s in text] == []
    assert leaks(text) == []


# --- Run All in JupyterLab, with a reader at the keyboard -----------------------------------------

# The notebooks that show the MFA form or may ask for a code while they run.
WITH_FORMS_OR_PROMPTS = ["01-quick-start.ipynb", "07-long-running.ipynb", "08-roles.ipynb"]
SHOWN_CODE = re.compile(r"authenticator shows (\d{6})\b")

# After the run, in the same kernel: every MfaForm alive, what its status said, and what a code
# typed into it then does (the reader scrolling back up to try it).
PROBE = """
import json
import ipywidgets
import stsmagic
from stsmagic.sandbox import connect
from stsmagic.widgets.mfa_form import MfaForm

_instances = getattr(ipywidgets.widgets.widget, "_instances", None) or ipywidgets.Widget.widgets
_report = []
for _form in [w for w in list(_instances.values()) if isinstance(w, MfaForm)]:
    _said = _form.status.value
    _stale = "active until" in _said and stsmagic.sessions.active is not _form.session
    _form.token_code.value = connect().mfa_code()
    _report.append({"id": _form.model_id, "stale": _stale, "said": _said, "error": _form.error})
print(json.dumps(_report))
"""


def run_like_jupyterlab(kc: Any, code: str, *, stop_on_error: bool) -> dict[str, Any]:
    """One cell as JupyterLab's Run All sends it (stdin allowed; an input request answered
    with the code the cell printed for the reader, if it printed one)."""
    import queue

    msg_id = kc.execute(code, allow_stdin=True, stop_on_error=stop_on_error)
    out: dict[str, Any] = {"stdout": "", "error": None, "asked": [], "widgets": []}
    request = None
    while True:
        if request is None:
            try:
                request = kc.get_stdin_msg(timeout=0.05)
                asked_at = time.monotonic()
            except queue.Empty:
                pass
        try:
            msg = kc.get_iopub_msg(timeout=0.05)
        except queue.Empty:
            msg = None
        if request is not None and msg is None and time.monotonic() - asked_at > 1:
            # what the reader sees above the box has arrived: answer as they would
            shown = SHOWN_CODE.findall(out["stdout"])
            out["asked"].append((request["content"]["prompt"], bool(shown)))
            kc.input(shown[-1] if shown else "")  # nothing to type: the reader is stuck
            request = None
        if msg is None or msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content["name"] == "stdout":
            out["stdout"] += content["text"]
        elif kind == "error":
            out["error"] = f"{content['ename']}: {content['evalue']}"
        elif kind in ("display_data", "execute_result"):
            view = content["data"].get("application/vnd.jupyter.widget-view+json")
            if view:
                out["widgets"].append(view["model_id"])
        elif kind == "status" and content["execution_state"] == "idle":
            return out


@pytest.mark.once  # as the nbval run: a kernel per notebook, the same answer on each Python
@pytest.mark.parametrize("name", WITH_FORMS_OR_PROMPTS)
def test_run_all_in_jupyterlab_leaves_every_form_working_and_nobody_stuck(
    name: str, tmp_path: Path
) -> None:
    """A reader runs all cells of a notebook with stdin (JupyterLab: a password box appears
    for a question): every question comes with a way to answer it and an answer is confirmed;
    every form made is shown, says what is true at the end, and takes a code typed later."""
    from jupyter_client.manager import start_new_kernel

    cells = code_cells(ROOT / FOLDER / name)
    with Sandbox() as box:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(write_demo_config(tmp_path / "aws", box))
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        # the environment's own commands (aws) first, as in a user's activated venv
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(ROOT / FOLDER))
        try:
            shown: list[str] = []
            for n, cell in enumerate(cells):
                tags = cell.get("metadata", {}).get("tags", [])
                out = run_like_jupyterlab(
                    kc, "".join(cell["source"]), stop_on_error="raises-exception" not in tags
                )
                # Run All stops at an error in a cell not tagged raises-exception
                assert out["error"] is None or "raises-exception" in tags, (n, out["error"])
                for prompt, code_was_shown in out["asked"]:
                    assert code_was_shown, f"cell {n} asked {prompt!r} with no code shown"
                if out["asked"]:
                    assert "Renewed" in out["stdout"], (n, out["stdout"])  # confirmed
                shown += out["widgets"]
            probe = run_like_jupyterlab(kc, PROBE, stop_on_error=True)
            assert probe["error"] is None, probe
            forms = json.loads(probe["stdout"].splitlines()[-1])
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    for form in forms:
        assert form["id"] in shown, "a form was made but never shown"
        assert not form["stale"], form["said"]
        assert form["error"] is None, form["error"]
    if name != "07-long-running.ipynb":
        assert forms, "the notebook shows a form"
