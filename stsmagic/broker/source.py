"""The source credentials: a profile's own chain and the environment as the user set it.

Outlets write ``os.environ`` (``--env`` exports the active session; serving points children
elsewhere), yet issuing and renewal must sign with the user's own keys. An outlet that changes
a variable first ``set_aside``s the value it found; ``SourceEnviron`` is ``os.environ`` read
live with those values put back, and ``source_providers`` a credential chain without
stsmagic's live provider whose env provider reads it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

# The METHOD of stsmagic's live provider (stsmagic.outlets.live_credentials): never a source.
LIVE_METHOD = "stsmagic"

_lock = threading.Lock()
# owner -> {name: the value before the owner changed it (None: it was unset)}
_set_aside: dict[str, dict[str, str | None]] = {}


def set_aside(owner: str, values: Mapping[str, str | None]) -> None:
    """Record what ``owner`` found in ``os.environ`` before changing it (a name already
    recorded by another owner keeps the older value)."""
    with _lock:
        _set_aside[owner] = dict(values)


def release(owner: str) -> None:
    """``owner`` has put its variables back: the environment is the source again."""
    with _lock:
        _set_aside.pop(owner, None)


def originals() -> dict[str, str | None]:
    """Every set-aside name and its value before any outlet changed it."""
    with _lock:
        merged: dict[str, str | None] = {}
        # the first owner to change a name saw the user's value
        for values in _set_aside.values():
            for name, value in values.items():
                merged.setdefault(name, value)
        return merged


def source_environ() -> dict[str, str]:
    """``os.environ`` as it would be without stsmagic's outlets: where source keys live."""
    environ = dict(os.environ)
    for name, value in originals().items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


class SourceEnviron(Mapping[str, str]):
    """``os.environ``, read live, with every variable an outlet changed as the user had it.

    For botocore's ``EnvProvider`` in the source chains (the broker's and the live ones')."""

    def __getitem__(self, name: str) -> str:
        saved = originals()
        if name in saved:
            value = saved[name]
            if value is None:
                raise KeyError(name)
            return value
        return os.environ[name]

    def __iter__(self) -> Iterator[str]:
        return iter(source_environ())

    def __len__(self) -> int:
        return len(source_environ())


def source_providers(providers: Iterable[Any]) -> list[Any]:
    """A chain without stsmagic: no live provider, and the env provider reading the
    environment as the user set it (its keys are the user's, never an issued session's)."""
    from botocore.credentials import EnvProvider

    chain = []
    for provider in providers:
        if provider.METHOD == LIVE_METHOD:
            continue
        if isinstance(provider, EnvProvider):
            provider = type(provider)(environ=SourceEnviron())
        chain.append(provider)
    return chain
