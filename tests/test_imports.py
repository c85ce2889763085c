"""Import costs: `import stsmagic` pulls in neither boto3, pandas nor ipywidgets; and the
package's layout: no part imports one above it, no import circle, few module globals, no
``sys.modules`` peeks."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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


# --- the layout: which part may import which (read from the source with ast) -----------------

PACKAGE = Path(__file__).resolve().parent.parent / "stsmagic"

# Bottom to top: a part imports only parts of its own row or a row above it in this table
# (the design's round-4 layering, as the code holds it: the core rows beside the broker are
# ordered too, so the session, the ledger, renewal and usage import neither sso/ nor broker/,
# and sso/ never imports broker/). The key of a module is its first name under stsmagic.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "limits", "redact", "private_file", "_version"),  # need nothing of stsmagic's
    ("source",),  # the user's own AWS setup: files, environment, the http rule, the loader
    ("session", "usage", "ledger", "renewal", "policy_draft"),  # the core: pure, no AWS call
    ("sso",),  # the CLI's token cache and device login; imports source/, never broker/
    ("broker",),  # the requests; may import sso/ and source/
    ("outlets",),  # carrying the active session out: one wiring record per process
    ("magics", "widgets", "dask", "cli", "demo", "keep", "server_link"),  # the faces, their steps
    ("server",),  # the Jupyter server extension: nothing below it imports it
)
# The public names (loaded lazily) and a public re-export path import from anywhere.
EXEMPT = {"stsmagic", "stsmagic.console"}
# Only these start a sandbox; a kernel talks to one over HTTP.
SANDBOX_IMPORTERS = {"cli", "demo", "sandbox"}
# sys.modules read inside the package, and why (no peek to dodge an import circle).
SYS_MODULES_ALLOWED = {
    "outlets/after_import.py": "calls back at once when the module is imported already",
}
MAX_GLOBALS = 4


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (never run)."""
    found: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                todo.extend(child.orelse)  # type: ignore[attr-defined]
            else:
                todo.append(child)
    return found


def _is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or path.is_dir()


def imports(*, module_level_only: bool = False) -> dict[str, set[str]]:
    """Each stsmagic module -> the stsmagic modules it imports (a name imported from a package
    counts as its module when it is one, else as the package)."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = _nodes(tree) if not module_level_only else _module_level(tree)
        targets: set[str] = set()
        for node in nodes:
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.split(".")[0] == "stsmagic")
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if source.split(".")[0] != "stsmagic":
                    continue
                for alias in node.names:
                    full = f"{source}.{alias.name}"
                    targets.add(full if _is_module(full) else source)
        targets.discard(name)
        found[name] = targets
    return found


def _module_level(tree: ast.Module) -> list[ast.AST]:
    """The statements run when the module is imported (try/if bodies too, no function's)."""
    found: list[ast.AST] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if _is_type_checking(node) or isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        ):
            continue
        found.append(node)
        for field in ("body", "orelse", "finalbody", "handlers"):
            todo.extend(getattr(node, field, []))
    return found


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def layer_breaks(found: dict[str, set[str]]) -> list[str]:
    layer = {part: n for n, row in enumerate(LAYERS) for part in row}
    breaks = []
    for module, targets in found.items():
        if module in EXEMPT:
            continue
        for target in sorted(targets):
            mine, theirs = _part(module), _part(target)
            if theirs == "sandbox" or mine == "sandbox":
                if theirs == "sandbox" and mine not in SANDBOX_IMPORTERS:
                    breaks.append(f"{module} imports {target} (only cli and demo start one)")
                if mine == "sandbox" and theirs != "sandbox" and layer[theirs] > 0:
                    breaks.append(f"{module} imports {target} (the sandbox needs the bottom only)")
                continue
            if target in EXEMPT and target != "stsmagic":
                theirs = "broker"  # stsmagic.console re-exports broker.console
            if target == "stsmagic" or layer[theirs] > layer[mine]:
                breaks.append(f"{module} imports {target}, a part above it")
    return breaks


def circles(found: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle between modules (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in found.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(found):
        if node not in index:
            visit(node)
    return result


def globals_and_peeks() -> tuple[list[str], list[str]]:
    """The ``global`` statements outside sandbox/ that give no reason in a comment, and every
    count of them; the ``sys.modules`` reads outside the allow-list."""
    statements, peeks = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        if where.startswith("sandbox/"):
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Global):
                said = "#" in lines[node.lineno - 1] or "#" in lines[node.lineno - 2]
                statements.append(f"{where}:{node.lineno}" + ("" if said else " (no reason)"))
            elif (
                isinstance(node, ast.Attribute)
                and node.attr == "modules"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
                and where not in SYS_MODULES_ALLOWED
            ):
                peeks.append(f"{where}:{node.lineno}")
    return statements, peeks


def unexplained_function_imports() -> list[str]:
    """The imports inside a function outside sandbox/ (not under ``if TYPE_CHECKING:``) with no
    comment on their line or the line above: each must say why it is not at module level (import
    cost or an optional dependency)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        if where.startswith("sandbox/"):
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for function in _nodes(ast.parse(text)):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in _nodes(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    above = lines[node.lineno - 2].strip()  # a comment, or `try:  # why`
                    said = "#" in lines[node.lineno - 1] or (
                        "#" in above and not above.startswith(("import ", "from "))
                    )
                    if not said:
                        found.append(f"{where}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return sorted(set(found))


def test_no_part_imports_a_part_above_it() -> None:
    found = imports()
    assert set(map(_part, found)) - {"stsmagic", "sandbox", "console"} <= {
        part for row in LAYERS for part in row
    }, "a new part: give it a row in LAYERS"
    assert layer_breaks(found) == []


def test_no_import_circle_between_modules() -> None:
    # Every import that runs (function-level ones too; not those under TYPE_CHECKING).
    assert circles(imports()) == []


def test_few_globals_each_with_a_reason_and_no_sys_modules_peeks() -> None:
    statements, peeks = globals_and_peeks()
    assert len(statements) <= MAX_GLOBALS, statements
    assert [s for s in statements if s.endswith("(no reason)")] == []
    assert peeks == []


def test_function_level_imports_each_say_why() -> None:
    # Cheap or already loaded modules go at module level; the rest give their reason.
    assert unexplained_function_imports() == []


def test_the_layout_checks_fail_on_a_broken_layout() -> None:
    found = imports()
    up = {**found, "stsmagic.ledger": found["stsmagic.ledger"] | {"stsmagic.outlets.gate"}}
    assert layer_breaks(up) == ["stsmagic.ledger imports stsmagic.outlets.gate, a part above it"]
    sso = {**found, "stsmagic.sso.cache": found["stsmagic.sso.cache"] | {"stsmagic.broker"}}
    assert layer_breaks(sso) == ["stsmagic.sso.cache imports stsmagic.broker, a part above it"]
    sandbox = {**found, "stsmagic.dask": found["stsmagic.dask"] | {"stsmagic.sandbox"}}
    assert len(layer_breaks(sandbox)) == 1
    back = {**found, "stsmagic.outlets.wiring": {"stsmagic.outlets.gate"}}
    assert circles(back) == [["stsmagic.outlets.gate", "stsmagic.outlets.wiring"]]
