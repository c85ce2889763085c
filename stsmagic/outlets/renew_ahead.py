"""Renewal ahead of time: the active ``auto`` session is renewed in the background as it nears
its end, with no request in the kernel needed.

The gate (``gate.credentials``) renews only when a request *in the kernel* finds the session in
its window; a job that runs only in children or on Dask workers would never recover. So one
daemon thread per process watches the followed ledger's active session and renews it
(``stsmagic.renewal.renew_ahead``, the renewer's own lock) ``AHEAD`` before its end (15 minutes,
or half the life of a shorter session): a child served by ``stsmagic.outlets.serve`` refreshes
15 minutes ahead (botocore's advisory window) and receives the renewed session; the Dask plugin
and the ``--env`` export follow the ``renewed`` event.

Only ``auto`` sessions: an ``mfa`` one is never prompted from here (the panel and the next
request in the kernel's main thread ask). A failure is logged in one line and retried after
``stsmagic.renewal.RETRY_AFTER``. Time is the ledger's clock (``ledger.now()``): ``check()`` runs
one check, so tests move the clock instead of sleeping; the thread re-plans on every ledger
event and naps at most ``LONGEST_NAP`` of wall time, so a moved clock or a suspended laptop is
noticed within it. With nothing to renew it waits for the next ledger event and costs nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .. import renewal
from ..errors import StsMagicError
from . import wiring

if TYPE_CHECKING:
    from ..ledger import SessionLedger
    from ..session import IssuedSession

log = logging.getLogger(__name__)

# The SDKs refresh container credentials 15 minutes before they end (botocore's advisory
# window; mandatory at 10): renewed by then, a child's refresh receives the new session.
AHEAD = timedelta(minutes=15)
LONGEST_NAP = 30.0  # seconds of wall time between two looks, at most, while something is due


def ahead_from(session: IssuedSession) -> datetime:
    """When ``session`` is renewed ahead: ``AHEAD`` before its end, or halfway through the life
    of a session shorter than twice that (a 15-minute session is not renewed at once)."""
    life = session.expiration - session.issued_at
    return session.expiration - max(min(AHEAD, life / 2), timedelta(0))


class RenewalTimer:
    """Renews ``ledger``'s active ``auto`` session ahead of its end, in a daemon thread.

    ``due()`` says when, by the ledger's clock; ``check()`` renews if that time has come (what
    the thread runs; with ``background=False`` there is no thread and only ``check()`` renews).
    The thread starts with the first session that is due some day, and stops with ``stop()``;
    it never keeps a process alive, and a forked child never starts one (a fork's copy of the
    ledger must not issue requests of its own).
    """

    def __init__(self, ledger: SessionLedger, *, background: bool = True) -> None:
        self._ledger = ledger
        self._background = background  # False: no thread, only check() (tests, a demo)
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        # the session that failed to renew, and when to try again (ledger clock)
        self._failed: tuple[IssuedSession, datetime] | None = None
        self._unsubscribe: Callable[[], None] | None = ledger.subscribe(self._on_event)
        self._on_event("watched", None)

    @property
    def ledger(self) -> SessionLedger:
        return self._ledger

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def due(self) -> datetime | None:
        """When the active session is to be renewed (ledger clock), or None: none is active,
        or it does not renew itself (``mfa``, ``none``, ``--no-renew``, auto-renew off)."""
        session = self._ledger.active
        if session is None or not renewal.renews_itself(self._ledger, session):
            return None
        when = ahead_from(session)
        failed = self._failed
        if failed is not None and failed[0] is session:
            when = max(when, failed[1])
        renewed = self._ledger.renewed_at(str(session.label))
        if renewed is not None:
            # Never two renewals closer than RETRY_AFTER: a session that arrives already inside
            # its window (a ledger clock moved ahead of the endpoint's) must not loop.
            when = max(when, renewed + renewal.RETRY_AFTER)
        return when

    def check(self) -> IssuedSession | None:
        """One look now, by the ledger's clock: renew the active session if it is due.

        Returns the renewed session, or None when nothing was due or the renewal failed (logged
        in one line, tried again after ``RETRY_AFTER``). Never raises an ``StsMagicError``.
        """
        session = self._ledger.active
        due = self.due()
        now = self._ledger.now()
        if session is None or due is None or now < due:
            return None
        try:
            renewed = renewal.renew_ahead(self._ledger, session, now)
        except StsMagicError as e:
            self._failed = (session, now + renewal.RETRY_AFTER)
            log.warning(
                "stsmagic: %s was not renewed ahead of its end (%s); trying again in %d s",
                session.label,
                e,
                renewal.RETRY_AFTER.total_seconds(),
            )
            return None
        self._failed = None
        return renewed

    def wake(self) -> None:
        """Look again now (after the ledger's clock was moved, say)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop following the ledger and end the thread (waits for it briefly)."""
        with self._lock:
            self._stopped = True
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            thread = self._thread
        if unsubscribe is not None:
            unsubscribe()
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _on_event(self, event: str, session: IssuedSession | None) -> None:
        self._wake.set()  # re-plan: another session, a renewal, a switch
        if self._thread is None and self.due() is not None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if not self._background or self._stopped or self._thread is not None:
                return
            if os.getpid() != self._pid:
                return
            self._thread = threading.Thread(
                target=self._run, name="stsmagic-renew-ahead", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.clear()  # a wake during the look below is kept for the wait after it
            try:
                self.check()
                due = self.due()
                nap = None if due is None else (due - self._ledger.now()).total_seconds()
            except Exception as e:  # a bug must not end the thread silently, nor loop hot
                log.warning("stsmagic: renewal ahead failed: %s", type(e).__name__)
                nap = LONGEST_NAP
            if self._stopped:
                return
            self._wake.wait(None if nap is None else min(max(nap, 0.0), LONGEST_NAP))

    def __repr__(self) -> str:
        state = "running" if self.running else ("stopped" if self._stopped else "idle")
        return f"<RenewalTimer {state}, {self._ledger!r}>"


_timer_lock = threading.Lock()


def follow(ledger: SessionLedger) -> RenewalTimer:
    """Renew ``ledger``'s active ``auto`` session ahead of time (idempotent; another ledger
    replaces the one followed). The timer is the process record's (``wiring``); a forked child
    starts without one."""
    with _timer_lock:
        record = wiring.record_for(ledger)
        current = record.timer
        if current is not None and current.ledger is ledger:
            return current
        timer = record.timer = RenewalTimer(ledger)
    if current is not None:
        current.stop()
    return timer


def stop() -> None:
    """No more renewal ahead of time in this process (``%unload_ext``)."""
    with _timer_lock:
        record = wiring.current()
        if record is None:
            return
        current, record.timer = record.timer, None
    if current is not None:
        current.stop()


def timer() -> RenewalTimer | None:
    """The timer of this process, or None."""
    record = wiring.current()
    return record.timer if record is not None else None
