"""stsmagic's own errors raised in a cell: one line, the full traceback one ``%tb`` away.

A magic turns its errors into one line itself; an error raised by a cell's own code (a boto3
call that finds the active session expired, a ``Broker`` request refused) would show a
traceback through botocore's frames, a hundred lines for a message that is one. IPython lets
an extension handle chosen exception types in every cell (``shell.set_custom_exc``); there is
one such handler per shell, so one that was there before is kept: it handles everything it
handled, and is put back at ``%unload_ext``.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

from ..errors import StsMagicError
from .args import one_line

HINT = "(%tb shows the full traceback)"


class OneLine:
    """The shell's custom exception handler while stsmagic is loaded: ``StsMagicError`` as one
    line; any other type the previous handler took, to that handler."""

    def __init__(self, previous_types: tuple[type, ...], previous: Any) -> None:
        self.previous_types = previous_types
        self.previous = previous  # the shell's CustomTB before ours (a bound method), or None
        self.installed: Any = None  # the shell's CustomTB made of this handler

    def __call__(
        self, shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
    ) -> Any:
        if not issubclass(etype, StsMagicError) and self.previous is not None:
            return self.previous(etype, value, tb, tb_offset=tb_offset)
        # What %tb shows: IPython's showtraceback would have stored these; it is not called.
        sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
        if sys.version_info >= (3, 12):
            sys.last_exc = value
        line = f"{etype.__name__}: {one_line(str(value))} {HINT}"
        # The shell's own way to show a traceback, given just the line: a kernel sends it as
        # the cell's error (the reply carries it too), a terminal prints it. Returning it to
        # IPython would show nothing (the handler must show its line itself).
        show = getattr(shell, "_showtraceback", None)
        if show is None:
            print(line, file=sys.stderr)
        else:
            show(etype, value, [line])
        return None


_handlers: weakref.WeakKeyDictionary[Any, OneLine] = weakref.WeakKeyDictionary()


def install(shell: Any) -> None:
    """Handle ``StsMagicError`` in ``shell``'s cells, chaining to a handler that was there."""
    mine = _handlers.get(shell)
    if mine is not None and shell.CustomTB is mine.installed:
        return  # loaded already
    previous_types = tuple(shell.custom_exceptions)
    handler = OneLine(previous_types, shell.CustomTB if previous_types else None)
    types = (StsMagicError, *(t for t in previous_types if t is not StsMagicError))
    shell.set_custom_exc(types, handler)
    handler.installed = shell.CustomTB
    _handlers[shell] = handler


def uninstall(shell: Any) -> None:
    """Put back the handler ``install`` found (or none); a handler set since is left alone."""
    mine = _handlers.pop(shell, None)
    if mine is None or shell.CustomTB is not mine.installed:
        return
    if mine.previous is None:
        shell.set_custom_exc((), None)
    else:
        shell.custom_exceptions = mine.previous_types
        shell.CustomTB = mine.previous
