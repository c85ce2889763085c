"""The botocore outlet: every botocore (so boto3) session made while it is hooked follows.

botocore builds a session's credential chain lazily, the first time the session needs
credentials, by calling the module attribute ``botocore.credentials.create_credential_resolver``.
Wrapping that one name puts a ``LiveProvider`` first in the chain of every ``botocore.Session``
and ``boto3.Session`` made from then on (no profile named: it follows any active session; a
named profile: only sessions issued from it). Sessions given explicit keys never build a
chain, so they keep them. Nothing of botocore's signing is touched. Each session reached also
counts what its clients sign (``counting``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import botocore.credentials

from .. import source
from . import counting
from .live_credentials import LiveCredentials, LiveProvider, Source, live_provider_in, put_first

_lock = threading.Lock()


def named_profile(session: Any) -> str | None:
    """The profile a botocore session was given by name (not from ``AWS_PROFILE``)."""
    return session.instance_variables().get("profile")


def reaching(
    original: Any, live_provider: Callable[[Any, str | None], Any], via: str = counting.BOTOCORE
) -> Any:
    """``original`` (a ``create_credential_resolver``) whose resolvers get
    ``live_provider(resolver, named profile)`` first in their chain, once, and whose sessions
    count their calls under ``via``. aiobotocore's outlet wraps its own function the same way."""

    @functools.wraps(original)
    def create_credential_resolver(session: Any, *args: Any, **kwargs: Any) -> Any:
        # Below the live provider the chain is the session's source: the user's own files,
        # even while serving points the environment at the children's copies.
        resolver = original(source.reading_source_files(session), *args, **kwargs)
        if live_provider_in(resolver) is None:
            put_first(resolver, live_provider(resolver, named_profile(session)))
        # before any client copies the session's events: the chain is made on first need
        counting.count_on(session, via)
        return resolver

    return create_credential_resolver


def _live_provider(resolver: Any, profile: str | None) -> LiveProvider:
    return LiveProvider(LiveCredentials(Source(resolver), profile))


def hook() -> Callable[[], None]:
    """Reach every botocore session made from now on; returns the undo (the record of this
    process, ``wiring``, keeps it). Sessions made while hooked keep their live provider, which
    answers with their own chain while nothing is followed."""
    with _lock:
        original = botocore.credentials.create_credential_resolver
        botocore.credentials.create_credential_resolver = reaching(original, _live_provider)

    def unhook() -> None:
        with _lock:
            botocore.credentials.create_credential_resolver = original

    return unhook
