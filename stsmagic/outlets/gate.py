"""Which credentials sign now: the one check every outlet's credentials make per request.

``live.watch``/``live.install`` point this process's record (``wiring``) at a ledger; every live
credentials object (boto3's default session, every botocore session, every aiobotocore
session) calls ``credentials(profile)`` when a request is signed. Anything that must happen
at request time (the expiry check, renewal) happens here and only here. It also notes which
session signed (``signed_by``), for the usage outlet (``counting``) to count the call under.

Imports nothing heavy: no botocore, no boto3.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from ..renewal import renew_due
from .wiring import process

if TYPE_CHECKING:
    from botocore.credentials import ReadOnlyCredentials

# The label of the session that signed the request being made in this thread (or asyncio
# task), or None: set here, cleared before each signing and read after the call by the usage
# outlet (a context variable: s3fs's coroutines sign side by side in one thread).
signed_by: ContextVar[str | None] = ContextVar("stsmagic_signed_by", default=None)


def credentials(profile: str | None = None) -> ReadOnlyCredentials | None:
    """The active session's frozen credentials for a session of ``profile``, or None when the
    caller should sign with its own source credentials.

    ``profile`` is the profile the caller's botocore session names explicitly: None (no
    profile named) follows whatever session is active; a named profile follows only a session
    issued from that profile. Inside the session's refresh window (or expired) it is renewed
    first when it can be (``stsmagic.renewal``). Raises ``SessionExpired`` when the session
    that would sign has expired and was not renewed, so the request fails before it is sent.
    In a child forked while its parent served, the parent's endpoint answers instead
    (``Wiring.served``): it raises when that gives no keys, never falls back to the source.
    """
    record = process.record  # None: nothing followed, nothing is ever active
    if record is None:
        return None
    served = record.served
    if served is not None and (profile is None or profile in served.profiles):
        # A fork of a process that serves: its endpoint, never this copy's source keys.
        return served()
    ledger = record.ledger
    # Read the active session once: another thread may switch it while this one signs, and
    # the triple returned must be one session's.
    session = ledger.active
    if session is None:
        return None
    if profile is not None and profile != session.profile:
        return None
    now = ledger.now()
    if now < session.renew_from:
        # Outside the refresh window, the one comparison and the note of who signs are all a
        # request costs.
        signed_by.set(session.label)
        return session.credentials
    # Inside the refresh window, or expired: renew (or say why not).
    frozen = renew_due(ledger, session, now)  # raises when it cannot sign: not counted
    signed_by.set(session.label)  # a renewal keeps the label
    return frozen
