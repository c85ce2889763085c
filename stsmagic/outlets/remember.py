"""``StsMagics.remember``: issued sessions kept in a file, so a new kernel gets them back.

An outlet of the ledger like the others: it subscribes, and every change writes the file
(the unexpired sessions and which one is active). The file holds secrets, so it is JSON with
explicit fields (never a pickle), created 0600 in a 0700 directory of the user's own, replaced
atomically: ``$XDG_CACHE_HOME/stsmagic/sessions.json``, else ``~/.cache/stsmagic/sessions.json``.

The file is read as hostile: only a regular file of the user's own that no one else may read,
at most ``MAX_BYTES``; a record of the wrong shape is refused alone, the others restored;
anything else wrong is one logged line, never a traceback, and the kernel goes on.

Several kernels may remember into the same file: each writes its own changes since it last
read or wrote the file (sessions it added, sessions it forgot, a change of active session)
over what the file holds now, so a session one kernel forgot is not written back by another.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ParameterError, StsMagicError
from ..limits import printable
from ..private_file import NotPrivate, check_private_dir, read_private, write_private
from ..session import IssuedSession, describe, from_record, to_record

if TYPE_CHECKING:
    from ..ledger import SessionLedger

log = logging.getLogger(__name__)

FILE_NAME = "sessions.json"
FORMAT = 1
# A record is about 1.5 KB: 1 MiB holds some 700 sessions, far more than a kernel keeps, and is
# read and parsed in milliseconds. A bigger file is not one stsmagic wrote.
MAX_BYTES = 1 << 20


def default_path() -> Path:
    """``$XDG_CACHE_HOME/stsmagic/sessions.json`` (an absolute XDG_CACHE_HOME), else
    ``~/.cache/stsmagic/sessions.json``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stsmagic" / FILE_NAME


def read_records(path: Path) -> tuple[list[Any], str | None]:
    """The file's records (as they are: ``from_record`` checks each) and its active label.

    No file: none. A file that is not private, too big, not JSON of this format or nested
    past what the parser takes: ``StsMagicError``, one line naming the problem, never a value.
    """
    text = read_private(path, MAX_BYTES)
    if text is None:
        return [], None
    document: Any = None
    problem = None
    try:
        document = json.loads(text)
    except RecursionError:
        problem = "is nested too deeply"
    except ValueError:
        problem = "is not JSON"
    del text
    if problem is None and not isinstance(document, dict):
        problem = "is not a JSON object"
    elif problem is None and document.get("format") != FORMAT:
        problem = f"is not format {FORMAT}"
    elif problem is None and not isinstance(document.get("sessions"), list):
        problem = "has no list of sessions"
    if problem is not None:
        raise StsMagicError(f"{path} {problem}")
    active = document.get("active")
    return document["sessions"], active if isinstance(active, str) else None


def _sessions(path: Path, records: list[Any]) -> list[IssuedSession]:
    """The records that make a session; each one that does not is one logged line."""
    sessions = []
    for number, record in enumerate(records, 1):
        try:
            sessions.append(from_record(record))
        except (ValueError, TypeError) as e:
            # from_record names the field, never its value
            log.warning("stsmagic: %s: session record %d ignored: %s", path, number, e)
    return sessions


def load(
    path: Path | None = None, now: datetime | None = None
) -> tuple[list[IssuedSession], str | None]:
    """The unexpired sessions in the file and the label that was active; none if no file.

    A file that cannot be read as this format is logged (one line) and ignored, never raised.
    """
    path = path or default_path()
    now = now or datetime.now(timezone.utc)
    try:
        records, active = read_records(path)
    except StsMagicError as e:
        log.warning("stsmagic: ignoring the sessions file: %s", e)
        return [], None
    unexpired = [s for s in _sessions(path, records) if not s.expired_at(now)]
    return unexpired, active


def save(ledger: SessionLedger, path: Path | None = None) -> None:
    """Write the ledger's unexpired sessions and its active label to ``path`` (replacing what
    is there: ``Remembering`` merges instead)."""
    records, active = _snapshot(ledger)
    _write(path or default_path(), list(records.values()), active)


def _snapshot(ledger: SessionLedger) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The ledger's unexpired sessions as records by access key, and its active label."""
    now = ledger.now()
    active = ledger.active
    kept = [s for s in ledger.sessions if not s.expired_at(now)]
    label = active.label if active is not None and any(s is active for s in kept) else None
    return {s.access_key_id: to_record(s) for s in kept}, label


def _write(path: Path, records: list[dict[str, Any]], active: str | None) -> None:
    check_private_dir(path.parent)
    document = {"format": FORMAT, "active": active, "sessions": records}
    write_private(path, json.dumps(document))


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Other processes' reads and writes of the folder's file wait (``flock`` on the folder,
    where there is one)."""
    try:
        import fcntl  # POSIX only
    except ImportError:  # Windows: one writer at a time is not enforced there
        yield
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def remove(path: Path | None = None) -> None:
    """Delete the sessions file (default: ``default_path()``); nothing if there is none."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path or default_path())


class Remembering:
    """Keeps ``ledger`` in the file from ``start()`` until ``stop()``."""

    def __init__(self, ledger: SessionLedger, path: Path | None = None) -> None:
        self.ledger = ledger
        self.path = path or default_path()
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None
        # What this kernel last read from or wrote to the file: its changes since are merged
        self._seen: set[str] = set()
        self._seen_active: str | None = None

    def start(self) -> tuple[IssuedSession, ...]:
        """Bring back the file's unexpired sessions (those whose label and key are new to the
        ledger; the active one active again), then write the file on every change.

        A folder or file that is not the user's own and private is refused
        (``StsMagicError``, one line): nothing is read, written or restored.
        """
        check_private_dir(self.path.parent)
        with self._lock, _locked(self.path.parent):
            try:
                records, active = read_records(self.path)
            except NotPrivate:
                raise
            except StsMagicError as e:
                log.warning("stsmagic: ignoring the sessions file: %s", e)
                records, active = [], None
            now = self.ledger.now()
            stored = [s for s in _sessions(self.path, records) if not s.expired_at(now)]
            keys = {s.access_key_id for s in self.ledger.sessions}
            restored = []
            for session in stored:
                if session.label in self.ledger or session.access_key_id in keys:
                    continue
                try:
                    restored.append(self.ledger.add(session, activate=False))
                except ParameterError as e:  # a label no magic would have taken
                    log.warning("stsmagic: not restoring a session from %s: %s", self.path, e)
            wanted = active is not None and any(s.label == active for s in restored)
            if wanted and active is not None and self.ledger.active is None:
                self.ledger.activate(active)
            in_file = {r.get("access_key_id") for r in records if isinstance(r, dict)}
            self._seen = {s.access_key_id for s in self.ledger.sessions} & in_file
            self._seen_active = active
        if self._unsubscribe is None:
            self._unsubscribe = self.ledger.subscribe(self._changed)
        self._save()
        return tuple(restored)

    def stop(self, *, delete: bool = False) -> None:
        """Stop writing the file; ``delete``: remove the file this one wrote (its path as it
        was when remembering started, wherever ``XDG_CACHE_HOME`` points now)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if delete:
            with self._lock:
                remove(self.path)

    def _changed(self, event: str, session: IssuedSession | None) -> None:
        try:
            self._save()
        except StsMagicError as e:
            log.warning("stsmagic: the sessions file was not written: %s", e)

    def _save(self) -> None:
        # the snapshot, the merge and the write together: the newest state wins
        with self._lock, _locked(self.path.parent):
            mine, active = _snapshot(self.ledger)
            try:
                records, stored_active = read_records(self.path)
            except NotPrivate:
                raise
            except StsMagicError:
                records, stored_active = [], None  # not a sessions file: written anew
            merged = _merge(records, mine, self._seen)
            if active == self._seen_active and stored_active is not None:
                # the active session did not change here: another kernel's choice stands
                labels = {r.get("label") for r in merged}
                active = stored_active if stored_active in labels else None
            now = self.ledger.now()
            _write(self.path, [r for r in merged if not _expired(r, now)], active)
            self._seen = set(mine)
            self._seen_active = active


def switch_remembering(
    on: bool, ledger: SessionLedger, remembering: Remembering | None
) -> tuple[Remembering | None, str | None]:
    """``StsMagics.remember``: start keeping ``ledger`` in the file, bringing its sessions back
    (``remembering`` None), or stop and delete the file ``remembering`` wrote (``on`` False).

    Returns what keeps the file now (None: nothing) and the line to print (None: nothing to
    say). Never raises: it runs inside ``%load_ext`` when a config file turns it on, and the
    magics must be registered whatever the file holds.
    """
    if not on:
        if remembering is not None:
            # the file it wrote, wherever XDG_CACHE_HOME points now
            remembering.stop(delete=True)
        return None, None
    if remembering is not None:
        return remembering, None
    remembering = Remembering(ledger)
    try:
        restored = remembering.start()
    except StsMagicError as e:
        remembering.stop()
        return None, f"StsMagics.remember: {' '.join(str(e).split())}; nothing is kept"
    except Exception as e:  # a record's values are secrets: the kind of error only
        remembering.stop()
        return None, f"StsMagics.remember: the sessions file failed ({type(e).__name__})"
    if not restored:
        return remembering, None
    active = ledger.active
    return remembering, (
        f"Restored {len(restored)} session{'' if len(restored) == 1 else 's'} "
        f"from {printable(str(remembering.path))}"
        + (f"; using {describe(active)}" if active is not None else "")
    )


def _merge(
    stored: list[Any], mine: Mapping[str, dict[str, Any]], seen: set[str]
) -> list[dict[str, Any]]:
    """The file's records with this kernel's changes since it last saw the file: the ones it
    forgot (seen, no longer its) out, the ones it added (its, not seen) in; the rest as the
    file holds them, so another kernel's forgetting stands."""
    forgotten = seen - set(mine)
    objects = [r for r in stored if isinstance(r, dict)]
    merged = [r for r in objects if r.get("access_key_id") not in forgotten]
    present = {r.get("access_key_id") for r in merged}
    merged += [r for key, r in mine.items() if key not in seen and key not in present]
    return merged


def _expired(record: Mapping[str, Any], now: datetime) -> bool:
    try:
        return from_record(record).expired_at(now)
    except (ValueError, TypeError):
        return True  # not a session: not written back
