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
