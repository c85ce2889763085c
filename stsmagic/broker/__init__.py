"""The requests: a ``Broker`` asks AWS for short-lived credentials with a profile's long-term
ones, checks each answer, and hands back an ``IssuedSession`` that knows how to be made again.

``broker.py`` is the Broker, ``profiles.py`` what the AWS CLI would do for a profile,
``source.py`` the source credentials (the chain and environment without stsmagic),
``answers.py`` the checks on what comes back, ``plain_http.py`` the https/loopback rule. The
broker never serves, renews or keeps a session: the ledger keeps, ``stsmagic.renewal`` renews.

Loaded on first use, like the package: the outlets read ``source`` at ``%load_ext`` without
paying for the Broker's imports.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .broker import ROLE_SESSION_KINDS, Broker, default_role_session_name

__all__ = ["ROLE_SESSION_KINDS", "Broker", "default_role_session_name"]


_MODULES = frozenset({"answers", "broker", "console", "profiles"})


def __getattr__(name: str) -> Any:
    if name in _MODULES:  # stsmagic.broker.profiles after `import stsmagic` alone
        return import_module(f"{__name__}.{name}")
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.broker"), name)
    globals()[name] = value
    return value
