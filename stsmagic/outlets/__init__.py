"""Wires the kernel's ledger to the outlets, from above both.

The ledger (``ledger.py``) publishes; the outlets (``live``: boto3's default session, every
botocore and aiobotocore session, ``os.environ``) follow whichever ledger ``live.watch`` was
given. ``%load_ext`` calls ``live.watch()``. From plain Python, with no ``%load_ext``, the
first activation in ``stsmagic.sessions`` does it: this module subscribes for that, and
``stsmagic.sessions`` is loaded through it. boto3 is imported only once a session is
activated.
"""

from __future__ import annotations

from typing import Any

from ..ledger import sessions
from . import wiring

__all__ = ["sessions"]


def _on_event(event: str, session: Any) -> None:
    if event != "activated":
        return
    from . import live  # boto3: at the first activation, not at `import stsmagic`

    record = wiring.current()
    if record is None or record.ledger is not sessions or record.unhook_botocore is None:
        live.watch(sessions)
    # As before the outlets subscribed: an activation leaves boto3 with a live default session
    # (install answers at once when it has one).
    live.install(sessions)


sessions.subscribe(_on_event)
