"""The ledger's active session, live in every AWS consumer of this process: the wiring.

``watch(ledger)`` (what ``%load_ext`` calls; a Dask worker calls it with its own ledger) points
every outlet at ``ledger``:

- boto3's default session (this module): one ``LiveCredentials`` first in its chain. A
  credentials object the default session had already resolved (held by clients made before,
  e.g. before ``%load_ext``) is adopted: it answers from the live credentials too, until
  ``uninstall``. boto3 is imported when ``install`` runs; ``watch`` installs into the default
  session if boto3 has one, and otherwise into the one boto3 makes on first use (making one
  at load time would put a whole session's set-up into every ``%load_ext``, for kernels that
  may never call AWS); ``boto3.setup_default_session`` is wrapped so that a default session
  the user makes anew is live at once.
- every other botocore/boto3 session made from then on (``botocore_sessions``);
- every aiobotocore ``AioSession`` (``aiobotocore_sessions``), hooked only once aiobotocore is
  imported, never importing it;
- ``os.environ`` while exporting is on (``environ``);
- every session reached counts the calls its clients sign (``counting``);
- renewal ahead of time (``renew_ahead``): the active ``auto`` session renewed in the
  background before its end, so children, Dask workers and the export follow with no request
  in the kernel.

What it sets up is kept in the process's record (``wiring.Wiring``), which ``watch`` makes.
Each live credentials object asks ``gate.credentials`` at every request: the one place that
decides what signs. ``uninstall`` undoes all of it, and stops serving (``serve``) if it runs.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, NamedTuple

import boto3
from botocore.credentials import CredentialResolver, Credentials

from ..ledger import SessionLedger, sessions
from ..redact import redact_wire_logs
from . import botocore_sessions, counting, environ, renew_ahead, wiring
from .after_import import when_imported
from .live_credentials import LiveCredentials, LiveProvider, Source, live_provider_in, put_first
from .wiring import Wiring

__all__ = ["Installation", "credentials", "install", "installed", "uninstall", "watch"]

_lock = threading.RLock()


class Installation(NamedTuple):  # not a dataclass: quicker to define, at every %load_ext
    """What ``install`` changed in boto3's default session (the record keeps it, to undo)."""

    boto3_session: Any
    core: Any
    resolver: CredentialResolver
    provider: LiveProvider | None  # None: the botocore outlet had put one there already
    credentials: LiveCredentials
    previous: Credentials | None


def watch(ledger: SessionLedger | None = None) -> Wiring:
    """Make every outlet of this process follow ``ledger`` (default ``stsmagic.sessions``);
    returns the process's record (``wiring.Wiring``).

    boto3's default session: now if boto3 has one, else when boto3 makes one (its first
    ``boto3.client``/``resource``); every botocore/boto3 session made from now on; every
    aiobotocore session, once aiobotocore is imported (this does not import it); and
    ``os.environ`` while exporting. Idempotent; a second call switches the ledger.
    """
    redact_wire_logs()  # every signed request's canonical request carries the session token
    ledger = sessions if ledger is None else ledger
    with _lock:
        record = wiring.wire(ledger)
        if record.unhook_botocore is None:
            record.unhook_botocore = botocore_sessions.hook()
        if record.stop_waiting_for_aiobotocore is None:
            record.stop_waiting_for_aiobotocore = when_imported("aiobotocore.session", _hook_aio)
        _wrap_setup(record)
        environ.follow(ledger)
        renew_ahead.follow(ledger)
        if boto3.DEFAULT_SESSION is not None:
            install(ledger)
        return record


def _hook_aio(module: Any) -> None:
    from . import aiobotocore_sessions  # imports aiobotocore: only once the user has

    aiobotocore_sessions.hook(module)
    record = wiring.current()
    if record is not None:
        record.unhook_aiobotocore = aiobotocore_sessions.unhook


def _wrap_setup(record: Wiring) -> None:
    """Make ``boto3.setup_default_session`` install into each session it makes (under _lock)."""
    if record.original_setup is not None:
        return
    original = boto3.setup_default_session

    @functools.wraps(original)
    def setup_default_session(**kwargs: Any) -> None:
        original(**kwargs)
        ledger = wiring.following()
        if ledger is not None:
            install(ledger)

    record.boto3 = boto3
    record.original_setup = original
    boto3.setup_default_session = setup_default_session


def _unwrap_setup(record: Wiring) -> None:
    if record.original_setup is not None:
        record.boto3.setup_default_session = record.original_setup
        record.original_setup = None


def install(ledger: SessionLedger | None = None) -> LiveCredentials:
    """Put the live credentials first in boto3's default session (made if missing), following
    ``ledger`` (default ``stsmagic.sessions``).

    Idempotent per default session; a new default session (``boto3.setup_default_session``)
    gets them on the next call.
    """
    ledger = sessions if ledger is None else ledger
    record = wiring.current()
    if record is not None and record.ledger is ledger:
        # Every activation calls this: answer without a lock when nothing changed.
        current = record.installation
        if current is not None and boto3.DEFAULT_SESSION is current.boto3_session:
            return current.credentials
    redact_wire_logs()  # every signed request's canonical request carries the session token
    with _lock:
        record = wiring.wire(ledger)
        environ.follow(ledger)
        _wrap_setup(record)
        default = boto3.DEFAULT_SESSION
        if default is None:
            assert record.original_setup is not None
            record.original_setup()  # not the wrapper: this call installs below
            default = boto3.DEFAULT_SESSION
        current = record.installation
        if current is not None:
            if current.boto3_session is default:
                return current.credentials
            _uninstall_locked(record)
        core = default._session
        counting.count_on(core, counting.BOTOCORE)  # clients made from now on are counted
        resolver = core.get_component("credential_provider")
        previous = core._credentials
        provider: LiveProvider | None = live_provider_in(resolver)
        if provider is not None:
            # The botocore outlet reached this session first: its credentials are the live
            # ones, and clients made from it hold them already.
            credentials = provider._credentials
            provider, previous = None, None
        else:
            credentials = LiveCredentials(Source(resolver, previous))
            provider = LiveProvider(credentials)
            put_first(resolver, provider)
            if previous is not None:
                # Clients made before now hold `previous`; they switch too.
                previous.get_frozen_credentials = credentials.get_frozen_credentials
        # The next client made resolves through the chain, so gets the live credentials.
        core._credentials = None
        record.installation = Installation(default, core, resolver, provider, credentials, previous)
        return credentials


def uninstall() -> None:
    """Undo everything ``watch`` and ``install`` did: the default session as it was, no new
    session reached, nothing followed (live credentials handed out answer with their own
    sessions' chains), exporting off, serving stopped, ``os.environ`` and the config files as
    they were, and no renewal ahead of time. The process's record goes."""
    record = wiring.current()
    if record is not None and record.server is not None:
        record.server.stop()
    renew_ahead.stop()
    with _lock:
        record = wiring.unwire()
        if record is None:
            return
        _uninstall_locked(record)
        _unwrap_setup(record)
        for undo in (
            record.unhook_botocore,
            record.stop_waiting_for_aiobotocore,
            record.unhook_aiobotocore,
        ):
            if undo is not None:
                undo()
        record.unhook_botocore = None
        record.stop_waiting_for_aiobotocore = record.unhook_aiobotocore = None
        if record.export is not None:
            record.export.disable()


def _uninstall_locked(record: Wiring) -> None:
    current, record.installation = record.installation, None
    if current is None:
        return
    if current.provider is not None and current.provider in current.resolver.providers:
        current.resolver.providers.remove(current.provider)
    if current.previous is not None:
        current.previous.__dict__.pop("get_frozen_credentials", None)
    current.core._credentials = current.previous


def installed() -> bool:
    """True when boto3's default session is live: the live credentials are in it, or boto3 has
    none yet and will get them in the one it makes (``watch``)."""
    record = wiring.current()
    if record is None:
        return False
    if boto3.DEFAULT_SESSION is None:
        return record.original_setup is not None
    current = record.installation
    return current is not None and current.boto3_session is boto3.DEFAULT_SESSION


def credentials() -> LiveCredentials | None:
    """The installed live credentials, or None."""
    record = wiring.current()
    current = record.installation if record is not None else None
    return current.credentials if current else None
