"""Wires the kernel's ledger to the outlets, from above both.

The ledger (``ledger.py``) publishes; the outlets (``live``: boto3's default session, every
botocore and aiobotocore session, ``os.environ``) follow whichever ledger ``live.watch`` was
given. ``%load_ext`` calls ``live.watch()``. From plain Python, with no ``%load_ext``, the
first activation in ``stsmagic.sessions`` does it: this module subscribes for that, and
``stsmagic.sessions`` is loaded through it. boto3 is imported only once a session is
activated.
"""

from __future__ import annotations

import sys
from typing import Any

from ..ledger import sessions

__all__ = ["sessions"]


def _on_event(event: str, session: Any) -> None:
    if event != "activated":
        return
    live: Any = sys.modules.get("stsmagic.outlets.live")
    if live is None or live.gate.following() is not sessions or not live.botocore_sessions.hooked():
        from . import live

        live.watch(sessions)
    # As before the outlets subscribed: an activation leaves boto3 with a live default session
    # (install answers at once when it has one).
    live.install(sessions)


sessions.subscribe(_on_event)
