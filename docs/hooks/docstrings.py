"""A missing docstring fails ``mkdocs build --strict``.

mkdocstrings leaves an object without a docstring out of the page, silently. This hook loads,
with griffe (mkdocstrings-python's own loader), every object a page names with ``::: path``
and logs a warning for each public module, class, function, method and property under it
that has no docstring: under ``--strict`` a warning fails the build. It looks where the page
does: public means no leading underscore; a module's submodules are left out (the pages do not
render them), and so are the names it imports, unless its ``__all__`` exports them; a
``members:`` option under the ``::: path`` narrows the check as it narrows the page.
"""

from __future__ import annotations

import logging
import re
import textwrap
from pathlib import Path
from typing import Any

import griffe
import yaml

log = logging.getLogger("mkdocs.plugins.stsmagic.docstrings")

# `::: path`, then the indented YAML of its options, as mkdocstrings reads them
BLOCK = re.compile(r"^:::[ \t]+([\w.]+)[ \t]*\n((?:[ \t]+\S.*(?:\n|$))*)", re.MULTILINE)

_loader: griffe.GriffeLoader | None = None
_reported: set[str] = set()


def search_paths(config: Any) -> list[str]:
    """The python handler's ``paths``, relative to the config file, as mkdocstrings reads them."""
    root = Path(config.config_file_path).parent
    paths = ["."]
    plugin = config.plugins.get("mkdocstrings")
    if plugin is not None:
        handler = plugin.config.get("handlers", {}).get("python", {})
        paths = handler.get("paths", paths)
    return [str((root / path).resolve()) for path in paths]


def on_pre_build(config: Any) -> None:
    """A fresh loader for each build (``mkdocs serve`` rebuilds after an edit)."""
    global _loader
    _loader = griffe.GriffeLoader(search_paths=search_paths(config))
    _reported.clear()


def find(identifier: str) -> Any:
    """The object ``identifier`` names (an alias gives its target); its package loads once."""
    assert _loader is not None
    package = identifier.split(".")[0]
    if package not in _loader.modules_collection:
        try:
            _loader.load(package)
        except (ImportError, griffe.LoadingError) as e:
            raise KeyError(identifier) from e
    found = _loader.modules_collection[identifier]
    return found.final_target if found.is_alias else found


def shown_members(obj: Any, members: Any = None) -> list[Any]:
    """The members of ``obj`` its page shows: public, no submodule, imports only if exported."""
    shown = []
    for name, member in obj.members.items():
        if name.startswith("_") or (isinstance(members, list) and name not in members):
            continue
        if member.is_alias:
            if not obj.is_module or name not in (obj.exports or ()):
                continue
            try:
                member = member.final_target
            except griffe.AliasResolutionError:
                continue  # an export griffe cannot follow: mkdocstrings will say so
        if not member.is_module:
            shown.append(member)
    return [] if members is False else shown


def undocumented(obj: Any, members: Any = None) -> list[str]:
    """The path of ``obj`` and of each object its page shows under it, without a docstring."""
    missing = [] if obj.docstring else [obj.path]
    for member in shown_members(obj, members):
        if member.is_class or member.is_function:
            missing.extend(undocumented(member))
        elif member.is_attribute and "property" in member.labels and not member.docstring:
            missing.append(member.path)
    return missing


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Warn for every object without a docstring under each ``::: path`` of the page."""
    for identifier, block in BLOCK.findall(markdown):
        options = (yaml.safe_load(textwrap.dedent(block)) or {}).get("options") or {}
        try:
            obj = find(identifier)
        except KeyError:
            log.warning("%s: '::: %s' names nothing griffe can find", page.file.src_uri, identifier)
            continue
        for path in undocumented(obj, options.get("members")):
            if path not in _reported:
                _reported.add(path)
                log.warning("%s: %s has no docstring", page.file.src_uri, path)
    return markdown
