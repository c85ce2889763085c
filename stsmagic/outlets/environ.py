"""The environment outlet: the active session mirrored into ``os.environ`` while enabled.

For what reads credentials only from the environment: ``!aws ...``, child processes, and
native SDKs (pyarrow, DuckDB, polars' object_store). While enabled, ``os.environ`` holds the
active session (updated on every switch, removed when none is active); disabling removes what
it set and restores what was there before the first export.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import source
from ..errors import ParameterError
from ..ledger import SessionLedger, sessions
from . import wiring

if TYPE_CHECKING:
    from ..session import IssuedSession

OWNER = "environ"  # what this outlet sets aside in stsmagic.source

ENV_NAMES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
)

_lock = threading.RLock()


class EnvironExport:
    """Mirrors a ledger's active session into ``os.environ`` while enabled (one a process: the
    record's ``export``)."""

    def __init__(self) -> None:
        self.enabled = False
        self._ledger: SessionLedger | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._saved: dict[str, str | None] | None = None  # the values before ours
        self._written: dict[str, str] = {}

    def enable(self, ledger: SessionLedger) -> None:
        with _lock:
            self.enabled = True
            self.follow(ledger)

    def disable(self) -> None:
        with _lock:
            self.enabled = False
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
            self._ledger = None
            self._restore()

    def follow(self, ledger: SessionLedger) -> None:
        with _lock:
            if not self.enabled or ledger is self._ledger:
                if self.enabled:
                    self._sync()
                return
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._ledger = ledger
            self._unsubscribe = ledger.subscribe(self._on_event)
            self._sync()

    def _on_event(self, event: str, session: IssuedSession | None) -> None:
        with _lock:
            self._sync()

    def _sync(self) -> None:
        session = self._ledger.active if self._ledger is not None else None
        if session is None:
            self._restore()
            return
        if self._saved is None:
            self._saved = {name: os.environ.get(name) for name in ENV_NAMES}
            source.set_aside(OWNER, self._saved)
        creds = session.credentials
        values = {
            "AWS_ACCESS_KEY_ID": creds.access_key,
            "AWS_SECRET_ACCESS_KEY": creds.secret_key,
            "AWS_SESSION_TOKEN": creds.token or "",
            "AWS_CREDENTIAL_EXPIRATION": session.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for name, value in values.items():
            if value:
                os.environ[name] = value
            else:
                os.environ.pop(name, None)
        self._written = values

    def _restore(self) -> None:
        saved, self._saved = self._saved, None
        self._written = {}
        if saved is None:
            return
        source.put_back(OWNER, saved)


def export_environ(enabled: bool, ledger: SessionLedger | None = None) -> None:
    """Mirror the active session into ``os.environ`` (or stop, restoring what was there).

    ``ledger`` defaults to the one this process follows, else ``stsmagic.sessions``. Refused
    (``ParameterError``) while the kernel serves (``stsmagic.outlets.serve``): children fetch
    the session from the kernel then, and exported keys would come first in their chains.
    """
    record = wiring.current()
    if not enabled:
        if record is not None and record.export is not None:
            record.export.disable()
        return
    if record is not None and record.serving() is not None:
        raise ParameterError(
            "export_env",
            "the kernel is serving its session to child processes",
            "--env and serving exclude each other; stop serving first with %sts_serve --off",
        )
    if ledger is None:
        ledger = record.ledger if record is not None else sessions
    record = wiring.record_for(ledger)
    with _lock:
        if record.export is None:
            record.export = EnvironExport()
        export = record.export
    export.enable(ledger)


def follow(ledger: SessionLedger) -> None:
    """While exporting, mirror ``ledger``'s active session (the ledger this process follows)."""
    record = wiring.current()
    if record is not None and record.export is not None:
        record.export.follow(ledger)


def exporting() -> bool:
    record = wiring.current()
    return record is not None and record.export is not None and record.export.enabled
