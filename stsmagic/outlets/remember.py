"""``StsMagics.remember``: issued sessions kept in a file, so a new kernel gets them back.

An outlet of the ledger like the others: it subscribes, and every change rewrites the file
(the unexpired sessions and which one is active). The file holds secrets, so it is JSON with
explicit fields (never a pickle), created 0600 in a 0700 directory, replaced atomically:
``$XDG_CACHE_HOME/stsmagic/sessions.json``, else ``~/.cache/stsmagic/sessions.json``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..private_file import write_private
from ..session import IssuedSession, from_record, to_record

if TYPE_CHECKING:
    from ..ledger import SessionLedger

log = logging.getLogger(__name__)

FILE_NAME = "sessions.json"
FORMAT = 1


def default_path() -> Path:
    """``$XDG_CACHE_HOME/stsmagic/sessions.json`` (an absolute XDG_CACHE_HOME), else
    ``~/.cache/stsmagic/sessions.json``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stsmagic" / FILE_NAME


def save(ledger: SessionLedger, path: Path | None = None) -> None:
    """Write the ledger's unexpired sessions and its active label to ``path``."""
    now = ledger.now()
    active = ledger.active
    kept = [s for s in ledger.sessions if not s.expired_at(now)]
    document = {
        "format": FORMAT,
        "active": active.label if active is not None and any(s is active for s in kept) else None,
        "sessions": [to_record(s) for s in kept],
    }
    write_private(path or default_path(), json.dumps(document))


def load(
    path: Path | None = None, now: datetime | None = None
) -> tuple[list[IssuedSession], str | None]:
    """The unexpired sessions in the file and the label that was active; none if no file.

    A file that cannot be read as this format is logged and ignored, never raised.
    """
    path = path or default_path()
    now = now or datetime.now(timezone.utc)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT:
            raise ValueError(f"format {document.get('format')!r}")
        sessions = [from_record(r) for r in document["sessions"]]
        active = document.get("active")
    except FileNotFoundError:
        return [], None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        # the message names the problem only: a record's values are secrets
        log.warning("stsmagic: ignoring %s: not a sessions file (%s)", path, type(e).__name__)
        return [], None
    unexpired = [s for s in sessions if not s.expired_at(now)]
    return unexpired, active if isinstance(active, str) else None


def remove(path: Path | None = None) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path or default_path())


class Remembering:
    """Keeps ``ledger`` in the file from ``start()`` until ``stop()``."""

    def __init__(self, ledger: SessionLedger, path: Path | None = None) -> None:
        self.ledger = ledger
        self.path = path or default_path()
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> tuple[IssuedSession, ...]:
        """Bring back the file's unexpired sessions (those whose label and key are new to the
        ledger; the active one active again), then write the file on every change."""
        stored, active = load(self.path, self.ledger.now())
        keys = {s.access_key_id for s in self.ledger.sessions}
        restored = []
        for session in stored:
            if session.label in self.ledger or session.access_key_id in keys:
                continue
            restored.append(self.ledger.add(session, activate=False))
        wanted = active is not None and any(s.label == active for s in restored)
        if wanted and active is not None and self.ledger.active is None:
            self.ledger.activate(active)
        if self._unsubscribe is None:
            self._unsubscribe = self.ledger.subscribe(self._changed)
        self._save()
        return tuple(restored)

    def stop(self, *, delete: bool = False) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if delete:
            with self._lock:
                remove(self.path)

    def _changed(self, event: str, session: IssuedSession | None) -> None:
        self._save()

    def _save(self) -> None:
        with self._lock:  # the snapshot and the write together: the newest state wins
            save(self.ledger, self.path)
