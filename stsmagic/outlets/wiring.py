"""What this process follows: one record, made in one place.

A ``Wiring`` holds everything a process keeps while its outlets follow a ledger: the ledger
(and through it its renewer), boto3's default-session installation, the wrapped
``boto3.setup_default_session``, the botocore and aiobotocore hooks' undos, the ``--env``
export, the renewal-ahead timer and the credential server. ``live.watch(ledger)`` makes it (a
kernel's ``stsmagic.sessions``, a Dask worker's own ledger); ``serve_credentials(ledger)`` makes
one for a ledger nothing watches yet (a Jupyter server's own). ``live.uninstall()`` tears it
down. The outlets read it here; none keeps a copy of the ledger.

Only data and the one answer to "which ledger does this process follow" (``current()``,
``following()``): it imports nothing of the outlets, so every outlet may import it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..ledger import SessionLedger
    from ..renewal import Renewer
    from .environ import EnvironExport
    from .live import Installation
    from .renew_ahead import RenewalTimer
    from .serve import CredentialServer, ServedCredentials

__all__ = ["Wiring", "current", "following", "process", "record_for", "unwire", "wire"]


class Wiring:
    """What one process follows and what it set up to follow it (see the module)."""

    def __init__(self, ledger: SessionLedger) -> None:
        self.ledger = ledger
        # boto3's default session (live.install), and boto3 once live.watch wrapped it
        self.installation: Installation | None = None
        self.boto3: Any = None
        self.original_setup: Callable[..., None] | None = None
        # undo the botocore hook; stop waiting for aiobotocore; undo its hook once it came
        self.unhook_botocore: Callable[[], None] | None = None
        self.stop_waiting_for_aiobotocore: Callable[[], None] | None = None
        self.unhook_aiobotocore: Callable[[], None] | None = None
        self.export: EnvironExport | None = None  # the --env export (environ)
        self.timer: RenewalTimer | None = None  # renewal ahead of time (renew_ahead)
        self.server: CredentialServer | None = None  # serving children (serve)
        # bumped when the session served to this process changed (a joined Jupyter server's
        # switch): source credentials fetched from a credentials endpoint are fetched again
        self.served_changes = 0
        # In a child forked while its parent served: the parent's endpoint, which the gate
        # signs with instead of this copy of the ledger and the source keys held in memory.
        self.served: ServedCredentials | None = None

    @property
    def renewer(self) -> Renewer:
        """The followed ledger's renewer (``StsMagics.auto_renew`` sets its ``enabled``)."""
        return self.ledger.renewer

    def serving(self) -> CredentialServer | None:
        """The server while it runs, else None."""
        server = self.server
        return server if server is not None and server.running else None

    def __repr__(self) -> str:
        parts = [
            name
            for name, on in (
                ("boto3", self.installation is not None or self.original_setup is not None),
                ("botocore", self.unhook_botocore is not None),
                ("export", self.export is not None and self.export.enabled),
                ("timer", self.timer is not None),
                ("serving", self.serving() is not None),
            )
            if on
        ]
        return f"<Wiring {self.ledger!r}: {', '.join(parts) or 'nothing set up'}>"


class _Process:
    """This process's record: one slot, read once per signed request by the gate."""

    __slots__ = ("record",)

    def __init__(self) -> None:
        self.record: Wiring | None = None


# The one module-level reference: a slot, not a global statement (the gate reads
# ``process.record`` at every request, one attribute).
process = _Process()


def current() -> Wiring | None:
    """The record of this process, or None (nothing followed)."""
    return process.record


def following() -> SessionLedger | None:
    """The ledger this process follows, or None."""
    record = process.record
    return record.ledger if record is not None else None


def wire(ledger: SessionLedger) -> Wiring:
    """Make this process follow ``ledger``: its record, pointed at ``ledger`` (made if none).
    The callers (``live``) point the export and the timer at it."""
    record = process.record
    if record is None:
        record = process.record = Wiring(ledger)
    else:
        record.ledger = ledger
    return record


def record_for(ledger: SessionLedger) -> Wiring:
    """The record to keep an export, a timer or a server in: this process's, or one made to
    follow ``ledger`` when there is none (a process that serves without ``live.watch``)."""
    record = process.record
    if record is None:
        record = process.record = Wiring(ledger)
    return record


def unwire() -> Wiring | None:
    """Follow nothing from now on; the record that was followed (for ``live.uninstall`` to
    undo what it holds)."""
    record, process.record = process.record, None
    return record


def _after_fork_in_child() -> None:
    # A forked child keeps its copy of the record but not the timer's thread, which did not
    # survive, nor the server, its parent's. A parent that serves is followed through its
    # endpoint (switches, renewals and forget reach the child; it never signs with the source
    # keys it inherited); otherwise the child signs with the session active at the fork.
    record = process.record
    if record is not None:
        server, record.server = record.server, None
        record.timer = None
        if server is not None and server.running:
            record.served = server.fork_source()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
