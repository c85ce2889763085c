"""Every session issued in this kernel, at most one of them active."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from .errors import ParameterError, Superseded
from .limits import label as _check_label
from .renewal import Renewer
from .usage import UsageTable

if TYPE_CHECKING:
    import pandas as pd

    from .session import IssuedSession

log = logging.getLogger(__name__)

Callback = Callable[[str, "IssuedSession | None"], Any]
Clock = Callable[[], datetime]

FRAME_COLUMNS = (
    "label",
    "kind",
    "principal",
    "access_key",
    "issued_at",
    "expiration",
    "remaining",
    "status",
    "packed_policy_size",
    "profile",
    "region",
    "renewal",
    "renewed_at",
    "calls",
)


_EXPIRATION_US = attrgetter("_expiration_us")
_ISSUED_US = attrgetter("_issued_us")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SessionLedger:
    """Issued sessions in issue order; ``active`` is the one boto3 signs with, or None.

    Thread-safe. Subscribers are called as ``callback(event, session)`` after the lock is
    released; a subscriber's exception is logged, never raised.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or _utcnow
        self._lock = threading.RLock()
        self._sessions: dict[str, IssuedSession] = {}
        # read once per signed request (the gate, through .active): a plain reference
        self._active: IssuedSession | None = None
        self._count = 0
        self._subscribers: list[Callback] = []
        # labels held while their session is being issued: label -> the holding thread's id
        self._reserved: dict[str, int] = {}
        # label -> when its session was last renewed (ledger clock); forgotten with the label
        self._renewed_at: dict[str, datetime] = {}
        # what each label's sessions signed (renewals keep the label, so its counts go on)
        self.usage_table = UsageTable()
        # the pid of the process this ledger was copied from by a fork (None: made here)
        self._forked_from: int | None = None
        self._fork_said = False
        self._renewer: Renewer | None = None  # made on first use
        _ledgers.add(self)

    # --- reading --------------------------------------------------------------------------------

    @property
    def active(self) -> IssuedSession | None:
        """The session requests are signed with now, or None (the profile's own credentials)."""
        return self._active

    @property
    def sessions(self) -> tuple[IssuedSession, ...]:
        """Every session in the ledger, in the order they were added."""
        with self._lock:
            return tuple(self._sessions.values())

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels of every session in the ledger, in the order they were added."""
        with self._lock:
            return tuple(self._sessions)

    def now(self) -> datetime:
        """The time by the ledger's clock (what expiry and renewal are measured against)."""
        return self._clock()

    @property
    def clock(self) -> Clock:
        """The function that tells the ledger's time; assign one to move time in a demo or a
        test (every expiry check and renewal window reads it)."""
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._clock = clock

    @property
    def renewer(self) -> Renewer:
        """What renewing this ledger's sessions keeps (``stsmagic.renewal.Renewer``): whether
        they renew themselves (``renewer.enabled``), the per-label locks, the failures."""
        renewer = self._renewer
        if renewer is None:
            with self._lock:
                renewer = self._renewer
                if renewer is None:
                    renewer = self._renewer = Renewer(self)
        return renewer

    @property
    def forked_from(self) -> int | None:
        """The pid of the process this ledger was copied from by ``os.fork`` (a
        multiprocessing ``fork`` worker, a forked pool), or None in the process that made it.

        A forked copy tells none of the subscribers the parent had (the Dask push, the
        sessions file, widgets: they belong to the parent), and its sessions do not renew
        themselves (``stsmagic.renewal``): the parent renews them and the child would make a
        session nobody else sees. It logs that once, at INFO, on its first change."""
        return self._forked_from

    def _after_fork(self, parent: int) -> None:
        # Only this thread exists in the child: a lock another thread held at the fork would
        # stay held for ever, and what it reserved will never be added.
        self._lock = threading.RLock()
        self._reserved = {}
        self._subscribers = []
        if self._renewer is not None:  # its locks too; it renews nothing here (forked_from)
            enabled = self._renewer.enabled
            self._renewer = Renewer(self)
            self._renewer.enabled = enabled
        if self._forked_from is None or self._forked_from != parent:
            self._forked_from = parent
            self._fork_said = False

    def find(self, label: str) -> IssuedSession | None:
        """The session labelled ``label``, or None (``get`` refuses an unknown label)."""
        return self._sessions.get(label)

    def get(self, label: str) -> IssuedSession:
        """The session labelled ``label``; if there is none, a ``ParameterError`` naming the
        known labels."""
        with self._lock:
            try:
                return self._sessions[label]
            except KeyError:
                raise self._unknown(label) from None

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, label: object) -> bool:
        return label in self._sessions

    def __repr__(self) -> str:
        active = self._active.label if self._active else None
        return f"SessionLedger({len(self._sessions)} sessions, active={active!r})"

    def _unknown(self, label: object) -> ParameterError:
        known = ", ".join(self._sessions) or "none yet"
        return ParameterError("label", f"no session is labelled {label!r}", f"known: {known}")

    # --- changing -------------------------------------------------------------------------------

    def add(self, session: IssuedSession, activate: bool = True) -> IssuedSession:
        """Keep ``session`` (labelled ``<kind>-<n>`` if it has no label); make it active.

        A label that is taken, or is not printable text (``stsmagic.limits.label``), is
        refused (``ParameterError``)."""
        from .session import IssuedSession  # made by then; not imported at %load_ext

        if not isinstance(session, IssuedSession):
            raise TypeError(f"expected an IssuedSession, not {type(session).__name__}")
        if session.label is not None:
            _check_label(session.label)
        if activate:
            self._check_free(session.label)  # refused before any subscriber hears of it
        events: list[tuple[str, IssuedSession | None]] = []
        with self._lock:
            self._check_free(session.label)
            self._count += 1
            if session.label is None:
                n = self._count
                while f"{session.kind}-{n}" in self._sessions:
                    n += 1
                session = session.with_label(f"{session.kind}-{n}")
            assert session.label is not None
            self._sessions[session.label] = session
            events.append(("added", session))
            if activate:
                self._active = session
                events.append(("activated", session))
        self._notify(events)
        return session

    def _check_free(self, label: str | None) -> None:
        if label is None:
            return
        if label in self._sessions:
            raise ParameterError("label", f"{label!r} is already taken", "labels must be unique")
        holder = self._reserved.get(label)
        if holder is not None and holder != threading.get_ident():
            raise ParameterError(
                "label",
                f"{label!r} is taken by a session being issued now",
                "labels must be unique",
            )

    @contextlib.contextmanager
    def reserve(self, label: str | None) -> Iterator[None]:
        """Hold ``label`` while its session is being issued, so nothing is sent for a label
        that is taken: ``with sessions.reserve("x"): sessions.add(broker.get_...(label="x"))``.

        Refused (``ParameterError``) when the label is taken or held, or is not a label
        (``stsmagic.limits.label``: printable characters only); released when the block
        ends, issued or not. Only the holding thread can ``add`` under a held label. ``None``
        (a label made at ``add``) holds nothing.
        """
        if label is None:
            yield
            return
        _check_label(label)
        with self._lock:
            self._check_free(label)
            if label in self._reserved:  # held by this very thread, in an outer block
                raise ParameterError(
                    "label", f"{label!r} is already held by this thread", "labels must be unique"
                )
            self._reserved[label] = threading.get_ident()
        try:
            yield
        finally:
            with self._lock:
                self._reserved.pop(label, None)

    def replace(
        self, label: str, session: IssuedSession, *, expected: IssuedSession | None = None
    ) -> IssuedSession:
        """Swap in ``session`` (a renewal) under ``label``: same place, active if the old one
        was. Publishes ``renewed``. The renewer (``stsmagic.renewal``) calls this; the ledger
        never makes sessions itself.

        ``expected`` makes it a compare-and-swap: the swap happens only while ``label`` still
        holds that very session (the one renewed); if it was forgotten and issued again
        meanwhile, ``Superseded`` is raised and nothing changes."""
        from .session import IssuedSession  # loaded with the first session, not by %load_ext

        if not isinstance(session, IssuedSession):
            raise TypeError(f"expected an IssuedSession, not {type(session).__name__}")
        if session.label != label:
            session = session.with_label(label)
        with self._lock:
            old = self._sessions.get(label)
            if old is None:
                raise self._unknown(label)
            if expected is not None and old is not expected:
                raise Superseded(
                    f"{label!r} was forgotten and issued again while it was renewed; the "
                    "renewal of the old session was dropped"
                )
            self._sessions[label] = session
            if self._active is old:
                self._active = session
            self._renewed_at[label] = self._clock()
        self._notify([("renewed", session)])
        return session

    def renewed_at(self, label: str) -> datetime | None:
        """When the session labelled ``label`` was last renewed, or None."""
        return self._renewed_at.get(label)

    def activate(self, label: str) -> IssuedSession:
        """Make the session labelled ``label`` the one every boto3 request signs with."""
        self.get(label)  # an unknown label is refused before any subscriber hears of it
        with self._lock:
            session = self.get(label)
            self._active = session
        self._notify([("activated", session)])
        return session

    def deactivate(self) -> IssuedSession | None:
        """Back to the source credentials; returns the session that was active."""
        with self._lock:
            previous, self._active = self._active, None
        if previous is not None:
            self._notify([("deactivated", previous)])
        return previous

    def forget(self, label: str) -> IssuedSession:
        """Drop one session; when it was the active one, go back to the source credentials."""
        events: list[tuple[str, IssuedSession | None]] = []
        with self._lock:
            session = self._sessions.pop(label, None)
            if session is None:
                raise self._unknown(label)
            self._renewed_at.pop(label, None)
            self.usage_table.forget(label)
            if self._active is session:
                self._active = None
                events.append(("deactivated", session))
            events.append(("forgotten", session))
        self._notify(events)
        return session

    def forget_all(self) -> tuple[IssuedSession, ...]:
        """Drop every session and start labels from 1 again (no label can be ambiguous)."""
        events: list[tuple[str, IssuedSession | None]] = []
        with self._lock:
            dropped = tuple(self._sessions.values())
            if self._active is not None:
                events.append(("deactivated", self._active))
                self._active = None
            events.extend(("forgotten", s) for s in dropped)
            self._sessions.clear()
            self._renewed_at.clear()
            self.usage_table.clear()
            self._count = 0
        self._notify(events)
        return dropped

    # --- listening ------------------------------------------------------------------------------

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(event, session)`` on every change; returns the unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _notify(self, events: list[tuple[str, IssuedSession | None]]) -> None:
        if self._forked_from is not None and not self._fork_said:
            self._fork_said = True
            log.info(
                "stsmagic: process %d is a fork of process %d: changes to its sessions reach "
                "none of the parent's outlets (Dask workers, the sessions file, widgets), and "
                "no session renews itself here",
                os.getpid(),
                self._forked_from,
            )
        with self._lock:
            subscribers = list(self._subscribers)
        for event, session in events:
            for callback in subscribers:
                try:
                    callback(event, session)
                except Exception:
                    label = session.label if session else None
                    log.exception("ledger subscriber %r failed on %s %r", callback, event, label)

    # --- the table ------------------------------------------------------------------------------

    def to_frame(self, now: datetime | None = None) -> pd.DataFrame:
        """One row a session, issue order; no secret column. Imports pandas."""
        import numpy as np  # numpy and pandas: only for a table (stsmagic[widgets])
        import pandas as pd  # pandas: only when a frame is made

        now = now or self._clock()
        with self._lock:
            sessions = list(self._sessions.values())
            active = self._active
            renewed = dict(self._renewed_at)
        calls = self.usage_table.calls()
        n = len(sessions)
        from .session import epoch_us  # made by then (the table has sessions or is empty)

        now_us = epoch_us(now)
        # Whole columns at once, from values each session computed when it was made; one
        # DataFrame call. Object arrays keep pandas from inferring each text column again.
        expiration = np.fromiter(map(_EXPIRATION_US, sessions), dtype=np.int64, count=n)
        issued_at = np.fromiter(map(_ISSUED_US, sessions), dtype=np.int64, count=n)
        remaining = np.maximum(expiration - now_us, 0)
        status = np.where(remaining == 0, "expired", "standby").astype(object)
        if active is not None:
            index = next((i for i, s in enumerate(sessions) if s is active), None)
            if index is not None and remaining[index] > 0:
                status[index] = "active"

        packed = list(map(attrgetter("packed_policy_size"), sessions))

        def texts(name: str) -> Any:
            return np.array(list(map(attrgetter(name), sessions)), dtype=object)

        data: dict[str, Any] = {
            "label": texts("label"),
            "kind": texts("kind"),
            "principal": texts("principal"),
            "access_key": texts("masked_access_key"),
            "issued_at": pd.DatetimeIndex(issued_at.astype("datetime64[us]"), tz="UTC"),
            "expiration": pd.DatetimeIndex(expiration.astype("datetime64[us]"), tz="UTC"),
            "remaining": pd.TimedeltaIndex(remaining.astype("timedelta64[us]")),
            "status": status,
            "packed_policy_size": pd.arrays.IntegerArray(
                np.fromiter((0 if p is None else p for p in packed), dtype=np.int64, count=n),
                np.fromiter((p is None for p in packed), dtype=bool, count=n),
            ),
            "profile": texts("profile"),
            "region": texts("region"),
            "renewal": texts("renewal"),
            "renewed_at": pd.Series(
                [renewed.get(s.label or "") for s in sessions], dtype="datetime64[us, UTC]"
            ).array,
            "calls": np.fromiter((calls.get(s.label or "", 0) for s in sessions), np.int64, n),
        }
        return pd.DataFrame(data, columns=list(FRAME_COLUMNS))

    def usage(self, label: str | None = None) -> pd.DataFrame:
        """What the sessions signed (``label``'s only, if given): one row a label, via,
        service and operation, with ``calls``, ``errors``, ``last_error`` (the last AWS error
        code) and ``last_at``; never a parameter, a key or a resource name. Imports pandas."""
        with self._lock:
            order = tuple(self._sessions)
        if label is not None and label not in order and label not in self.usage_table.labels():
            raise self._unknown(label)
        return self.usage_table.to_frame(label, order)


_ledgers: weakref.WeakSet[SessionLedger] = weakref.WeakSet()
"""Every ledger of this process, so a forked child can mark its copies as copies."""


def _after_fork_in_child() -> None:
    parent = os.getppid()
    for ledger in list(_ledgers):
        ledger._after_fork(parent)


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


sessions = SessionLedger()
"""The kernel's ledger (``stsmagic.sessions``): the magics and widgets feed it; the outlets
subscribe to it (``stsmagic.outlets`` wires them); this module imports none of them."""
