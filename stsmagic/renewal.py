"""Sessions that renew themselves: the renewer the gate (``stsmagic.outlets.gate``) calls.

A ``Recipe`` is how a session was made: the operation and its parameters, never a one-time
code, a trade-in token or an SSO bearer token (SSO re-reads the CLI's cache, which refreshes
an expired token). The Broker attaches it to every session it issues (``profiles.issue`` its
own, over the whole chain); the ledger only swaps the session under its label
(``SessionLedger.replace``), the way botocore's ``RefreshableCredentials`` calls
``refresh_using``.

``renewal`` kinds: ``auto`` re-issues with the same parameters; ``mfa`` needs a new code, asked
with ``getpass.getpass`` in the kernel's main thread when the kernel can ask; ``none`` cannot
be made again (a trade-in token is single use).

What renewal keeps for a ledger (automatic renewal on or off, one lock per label, the
renewals that failed) is a ``Renewer``, one per ledger (``SessionLedger.renewer``, made on first
use): nothing of it is module state, and a label's lock and memo go when the label is forgotten.

``renew_due(ledger, session, now)`` is what ``stsmagic.outlets.gate.credentials`` calls once the
active session is inside its refresh window (``IssuedSession.renew_from``) or expired. One lock
per label: eight threads finding the window at once cause one renewal. The renewal's own
request never comes back here (the Broker signs with the source chain, ``--chain`` with an
explicit session; and a thread that is renewing skips the renewer).
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .errors import SessionExpired, StsMagicError, refusal_without_frames
from .limits import printable

if TYPE_CHECKING:
    from botocore.credentials import ReadOnlyCredentials

    from .ledger import SessionLedger
    from .session import IssuedSession

log = logging.getLogger(__name__)

# After a failed automatic renewal inside the window (the old session still signs), wait this
# long (by the ledger's clock) before trying again, so a failing endpoint is not hammered.
RETRY_AFTER = timedelta(seconds=60)


def without_renewal(session: IssuedSession) -> IssuedSession:
    """``session`` with automatic renewal off (what ``--no-renew`` keeps)."""
    recipe = session.recipe
    return session if recipe is None else session.with_recipe(recipe.without_renewal())


# --- the renewer ------------------------------------------------------------------------------

_busy = threading.local()  # .renewing: this thread is issuing a renewal right now


def renewing() -> bool:
    """True in a thread that is issuing a renewal (its requests must not renew again)."""
    return getattr(_busy, "renewing", False)


class Renewer:
    """What renewing ``ledger``'s sessions keeps: whether sessions renew themselves
    (``enabled``, what ``StsMagics.auto_renew`` sets; off, the panel's Renew still renews), one
    lock per label, and the renewals that failed (so a failing endpoint is not hammered).

    One per ledger: ``SessionLedger.renewer``. A label's lock and memo go when the ledger
    forgets the label (its ``forgotten`` event).
    """

    def __init__(self, ledger: SessionLedger) -> None:
        self.ledger = ledger
        self.enabled = True
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        # label -> (the session that failed to renew, when to try again)
        self._failed: dict[str, tuple[IssuedSession, datetime]] = {}
        ledger.subscribe(self._on_event)

    def _on_event(self, event: str, session: IssuedSession | None) -> None:
        if event == "forgotten" and session is not None and session.label is not None:
            with self._locks_lock:
                # A renewal holding the lock now finds the label gone (ledger.find) and stops.
                self._locks.pop(session.label, None)
                self._failed.pop(session.label, None)

    @property
    def labels(self) -> frozenset[str]:
        """The labels it holds a lock or a failed renewal for (gone with the label)."""
        with self._locks_lock:
            return frozenset(self._locks) | frozenset(self._failed)

    def lock_for(self, label: str) -> threading.Lock:
        """The lock that lets one renewal of ``label`` run at a time (made on first use)."""
        lock = self._locks.get(label)
        if lock is None:
            with self._locks_lock:
                lock = self._locks.setdefault(label, threading.Lock())
        return lock

    def renews_itself(self, session: IssuedSession) -> bool:
        """Whether ``session`` may be renewed with nobody asked: ``auto``, labelled, automatic
        renewal on (``enabled``, no ``--no-renew``)."""
        recipe = session.recipe
        return (
            self.enabled
            and recipe is not None
            and recipe.renewal == "auto"
            and recipe.auto_renew
            and session.label is not None
        )

    def due(self, session: IssuedSession, now: datetime) -> ReadOnlyCredentials:
        """The credentials to sign with, for the active ``session`` found inside its window
        (``renew_due``)."""
        ledger = self.ledger
        expired = now >= session.expiration
        recipe = session.recipe
        label = session.label or "(unlabelled)"
        if ledger.forked_from is not None:
            # A forked child (a process pool): the parent renews; a renewal here would be a
            # session the parent never sees.
            return _old(session, expired, forked_cause(ledger.forked_from))
        if recipe is None or recipe.renewal == "none" or session.label is None:
            return _old(session, expired)
        if not self.enabled or not recipe.auto_renew or renewing():
            return _old(session, expired)
        failed = self._failed.get(label)
        if not expired and failed is not None and failed[0] is session and now < failed[1]:
            return session.credentials  # tried and failed in this window: the old one signs
        if recipe.renewal == "mfa" and not expired and not _can_ask():
            return session.credentials  # asked only where it can be; expired, it says why below
        with self.lock_for(label):
            current = ledger.find(label)
            if current is not session:
                # Another thread renewed it (or it was forgotten) while this one waited.
                if current is not None and now < current.expiration:
                    return current.credentials
                return _old(session, expired)
            try:
                renewed = renew(ledger, label, now=now)
            except StsMagicError as e:
                cause = str(e)
            else:
                self._failed.pop(label, None)
                return renewed.credentials
            # raised here, not in the handler: the refusal (and its frames) is not its context
            if expired:
                raise SessionExpired(label, session.kind, session.expiration, cause)
            if recipe.renewal == "mfa":
                # Declined or wrong: not asked again in this window; asked again once expired.
                self._failed[label] = (session, session.expiration)
            else:
                self._failed[label] = (session, now + RETRY_AFTER)
            log.warning(
                "stsmagic: %s was not renewed (%s); it signs until it expires", label, cause
            )
            return session.credentials

    def ahead(self, session: IssuedSession, now: datetime) -> IssuedSession:
        """Renew ``session`` now, ahead of its end (``renew_ahead``)."""
        label = session.label
        if label is None or not self.renews_itself(session):
            name = label or "(unlabelled)"
            raise StsMagicError(f"{name!r} does not renew itself ({session.renewal})")
        with self.lock_for(label):
            current = self.ledger.find(label)
            if current is None:
                raise StsMagicError(f"{label!r} was forgotten")
            if current is not session:
                return current  # renewed meanwhile (a request in its window)
            renewed = renew(self.ledger, label, now=now)
            self._failed.pop(label, None)
            return renewed

    def __repr__(self) -> str:
        return f"<Renewer {'on' if self.enabled else 'off'}, {self.ledger!r}>"


def renew_due(ledger: SessionLedger, session: IssuedSession, now: datetime) -> ReadOnlyCredentials:
    """The credentials to sign with, for the active ``session`` found inside its window.

    Renews it when it may (a new session under the same label, swapped in the ledger);
    otherwise the old one signs while it is valid, and an expired one raises
    ``SessionExpired`` naming why it was not renewed.
    """
    return ledger.renewer.due(session, now)


def renews_itself(ledger: SessionLedger, session: IssuedSession) -> bool:
    """Whether ``ledger``'s ``session`` may be renewed with nobody asked: ``auto``, labelled,
    automatic renewal on (``StsMagics.auto_renew``, no ``--no-renew``)."""
    return ledger.renewer.renews_itself(session)


def renew_ahead(ledger: SessionLedger, session: IssuedSession, now: datetime) -> IssuedSession:
    """Renew ``session`` (an ``auto`` one, see ``renews_itself``) now, ahead of its end, from a
    timer: under the same per-label lock as the renewer, so a request finding the window at
    the same moment causes no second renewal. Never asks for anything.

    Returns the session the ledger holds under the label afterwards (renewed here, or by
    another thread meanwhile). Raises an ``StsMagicError`` (one line) when it was not renewed;
    the ledger is then unchanged.
    """
    return ledger.renewer.ahead(session, now)


def _old(session: IssuedSession, expired: bool, cause: str | None = None) -> ReadOnlyCredentials:
    """The old session's credentials while it is valid; expired, why it was not renewed."""
    if expired:
        raise SessionExpired(
            session.label or "(unlabelled)", session.kind, session.expiration, cause
        )
    return session.credentials


def forked_cause(parent: int) -> str:
    """Why a forked child did not renew a session: one clause for ``SessionExpired``."""
    return (
        f"process {os.getpid()} is a fork of process {parent}, which renews its sessions "
        "(a session renewed here would be one it never sees)"
    )


@refusal_without_frames
def renew(
    ledger: SessionLedger,
    label: str,
    *,
    TokenCode: str | None = None,
    now: datetime | None = None,
) -> IssuedSession:
    """Make the session labelled ``label`` again and swap it in (event ``renewed``).

    An ``mfa`` session uses ``TokenCode``, or asks for one with ``getpass.getpass`` (main
    thread, a kernel that can ask). Raises an ``StsMagicError`` (one line) and changes
    nothing when it cannot: no recipe, ``none``, no code, the request refused. The panel's
    Renew calls this; the renewer too.
    """
    session = ledger.get(label)
    recipe = session.recipe
    if recipe is None or recipe.renewal == "none":
        why = "a trade-in token is single use" if session.kind == "delegated" else "its recipe"
        raise StsMagicError(f"{label!r} cannot be made again ({why}); issue a new session")
    signed_by = None
    if recipe.signer is not None:
        signed_by = _signer(ledger, recipe.signer, now or ledger.now())
    asked = recipe.renewal == "mfa" and TokenCode is None
    if asked:
        TokenCode = ask_code(str(recipe.serial_number), label)
    _busy.renewing = True
    try:
        renewed = recipe.issue(label=label, TokenCode=TokenCode, signed_by=signed_by)
    finally:
        _busy.renewing = False
    del TokenCode
    ledger.replace(label, renewed)
    log.info("stsmagic: renewed %s (%s)", label, renewed.masked_access_key)
    if asked:  # the user typed a code into a prompt: say what it did, under the prompt
        print(
            f"Renewed {printable(label)} ({renewed.masked_access_key}) with the code typed; "
            f"valid until {renewed.expiration:%Y-%m-%d %H:%M:%S} UTC"
        )
    return renewed


def _signer(ledger: SessionLedger, label: str, now: datetime) -> IssuedSession:
    """The session that signed a chained role, as the ledger holds it now (it may itself have
    been renewed); gone or expired, the chained role cannot be made again."""
    signer = ledger.find(label)
    if signer is None:
        raise StsMagicError(f"the session that signed it, {label!r}, was forgotten")
    if now >= signer.expiration:
        raise StsMagicError(f"the session that signed it, {label!r}, has expired too")
    return signer


# --- asking for a code ------------------------------------------------------------------------


class CannotAsk(StsMagicError):
    """The kernel cannot ask for input here (no stdin, another thread)."""


def _can_ask() -> bool:
    if threading.current_thread() is not threading.main_thread():
        return False
    if getattr(getpass.getpass, "__module__", None) == "getpass":
        # The standard library's own: not inside a kernel's cell; only a terminal can answer.
        stdin = sys.stdin
        return stdin is not None and hasattr(stdin, "isatty") and stdin.isatty()
    return True  # a kernel's (or a frontend's) getpass: it says itself when it cannot


def ask_code(serial: str, label: str) -> str:
    """Ask for an MFA code with ``getpass.getpass``; raise one line when it cannot be asked or
    nothing was typed."""
    try:  # IPython: optional (a Dask worker has none), and not loaded by a plain process
        from IPython.core.error import StdinNotImplementedError
    except ImportError:  # a plain process (a Dask worker): nothing else raises it
        StdinNotImplementedError = EOFError  # type: ignore[misc,assignment]

    # Only why: SessionExpired adds how to renew (the magic, the panel's Renew), once.
    if not _can_ask():
        thread = threading.current_thread() is not threading.main_thread()
        why = "not in the kernel's main thread" if thread else "no stdin to ask for a code"
        raise CannotAsk(why)
    try:
        code = getpass.getpass(f"MFA code for {serial} to renew {label}: ")
    except (StdinNotImplementedError, EOFError, OSError):
        raise CannotAsk("this kernel cannot ask for input (no stdin)") from None
    code = (code or "").strip()
    if not code:
        raise StsMagicError(f"no MFA code was typed; {label!r} was not renewed")
    return code
