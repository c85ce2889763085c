"""Tracebacks as ``%xmode Verbose`` prints them, and a scan of text for secrets."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# The tests folder (this file is in tests/helpers/): its frames stand for the user's cell.
TESTS = str(Path(__file__).parent.parent)


def verbose_traceback(error: BaseException) -> str:
    """IPython's VerboseTB of ``error``: every frame with its arguments and the values of the
    variables on its line, every chained cause and context.

    The test's own frames are left out: they stand for the user's cell, whose variables are the
    user's to show (a notebook passes a token by a variable's name, a test by value).
    """
    from IPython.core.ultratb import VerboseTB

    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(TESTS):
        tb = tb.tb_next
    formatter = VerboseTB(color_scheme="NoColor", include_vars=True)
    return formatter.text(type(error), error, tb)


def leaked(text: str, secrets: Iterable[str]) -> list[str]:
    """The secrets (shown by their first 6 characters) that appear in ``text``."""
    return [secret[:6] + "…" for secret in secrets if secret and secret in text]


def frames_holding(error: BaseException | None, secrets: Iterable[str]) -> list[str]:
    """Where a secret is held in the frames reachable from ``error``: the locals of every
    frame of its traceback, its cause's and its context's, and theirs (``function:name``).
    What a debugger, ``%tb``, an error reporter or a pretty traceback could show. The test's
    own frames are left out, as in ``verbose_traceback``."""
    secrets = [s for s in secrets if s]
    found: list[str] = []
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            tb = tb.tb_next
            if frame.f_code.co_filename.startswith(TESTS):
                continue
            for name, value in frame.f_locals.items():
                try:
                    text = repr(value)
                except Exception:  # a repr that fails shows nothing
                    continue
                if any(secret in text for secret in secrets):
                    found.append(f"{frame.f_code.co_name}:{name}")
        pending += [current.__cause__, current.__context__]
    return found
