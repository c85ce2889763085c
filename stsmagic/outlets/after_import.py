"""Run a callback on a module once it is imported, without importing it.

``%load_ext`` must not import aiobotocore (it pulls in aiohttp, a large import that a kernel
without s3fs never needs), yet every ``AioSession`` made after it must be reached. A finder
first on ``sys.meta_path`` lets the other finders find the module and wraps its loader's
``exec_module`` so the callback runs right after the module's body; when the module is
already imported the callback runs now.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

Callback = Callable[[ModuleType], None]


class _AfterImport(MetaPathFinder):
    def __init__(self, name: str, callback: Callback) -> None:
        self.name = name
        self.callback = callback

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader: Any = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module
        callback = self.callback

        def exec_then_call(module: ModuleType) -> None:
            exec_module(module)
            loader.__dict__.pop("exec_module", None)
            callback(module)

        loader.exec_module = exec_then_call  # this spec's own loader instance
        return spec


def when_imported(name: str, callback: Callback) -> Callable[[], None]:
    """Call ``callback(module)`` now if ``name`` is imported, else right after its import
    (each time it is imported anew). Returns the function that stops waiting."""
    module = sys.modules.get(name)
    if module is not None:
        callback(module)
    finder = _AfterImport(name, callback)
    sys.meta_path.insert(0, finder)

    def cancel() -> None:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)

    return cancel
