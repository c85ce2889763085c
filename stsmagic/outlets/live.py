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

Each live credentials object asks ``gate.credentials`` at every request: the one place that
decides what signs. ``uninstall`` undoes all of it, and stops serving (``serve``) if it runs.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.credentials import CredentialResolver, Credentials

from . import botocore_sessions, counting, environ, gate, renew_ahead
from .after_import import when_imported
from .live_credentials import LiveCredentials, LiveProvider, Source, live_provider_in, put_first

if TYPE_CHECKING:
    from ..ledger import SessionLedger

__all__ = ["credentials", "install", "installed", "uninstall", "watch"]

_lock = threading.RLock()


class _Installation(NamedTuple):  # not a dataclass: quicker to define, at every %load_ext
    boto3_session: Any
    core: Any
    resolver: CredentialResolver
    provider: LiveProvider | None  # None: the botocore outlet had put one there already
    credentials: LiveCredentials
    previous: Credentials | None


_installation: _Installation | None = None
# While watching: the ledger for the default sessions boto3 makes, and the function we wrapped.
_watched_ledger: SessionLedger | None = None
_original_setup: Callable[..., None] | None = None
_stop_waiting_for_aiobotocore: Callable[[], None] | None = None


def _the_ledger(ledger: SessionLedger | None) -> SessionLedger:
    if ledger is not None:
        return ledger
    from ..ledger import sessions

    return sessions


def watch(ledger: SessionLedger | None = None) -> None:
    """Make every outlet of this process follow ``ledger`` (default ``stsmagic.sessions``).

    boto3's default session: now if boto3 has one, else when boto3 makes one (its first
    ``boto3.client``/``resource``); every botocore/boto3 session made from now on; every
    aiobotocore session, once aiobotocore is imported (this does not import it); and
    ``os.environ`` while exporting. Idempotent; a second call switches the ledger.
    """
    global _watched_ledger, _stop_waiting_for_aiobotocore
    import boto3

    from ..redact import redact_wire_logs

    redact_wire_logs()  # every signed request's canonical request carries the session token
    ledger = _the_ledger(ledger)
    with _lock:
        _watched_ledger = ledger
        gate.follow(ledger)
        botocore_sessions.hook()
        if _stop_waiting_for_aiobotocore is None:
            _stop_waiting_for_aiobotocore = when_imported("aiobotocore.session", _hook_aio)
        _wrap_setup(boto3)
        environ.follow(ledger)
        renew_ahead.follow(ledger)
        if boto3.DEFAULT_SESSION is not None:
            install(ledger)


def _hook_aio(module: Any) -> None:
    from . import aiobotocore_sessions

    aiobotocore_sessions.hook(module)


def _wrap_setup(boto3: Any) -> None:
    """Make ``boto3.setup_default_session`` install into each session it makes (under _lock)."""
    global _original_setup
    if _original_setup is not None:
        return
    original = boto3.setup_default_session

    @functools.wraps(original)
    def setup_default_session(**kwargs: Any) -> None:
        original(**kwargs)
        ledger = _watched_ledger
        if ledger is not None:
            install(ledger)

    _original_setup = original
    boto3.setup_default_session = setup_default_session


def _unwrap_setup() -> None:
    global _original_setup, _watched_ledger
    _watched_ledger = None
    if _original_setup is not None:
        boto3: Any = sys.modules["boto3"]
        boto3.setup_default_session = _original_setup
        _original_setup = None


def install(ledger: SessionLedger | None = None) -> LiveCredentials:
    """Put the live credentials first in boto3's default session (made if missing), following
    ``ledger`` (default ``stsmagic.sessions``).

    Idempotent per default session; a new default session (``boto3.setup_default_session``)
    gets them on the next call.
    """
    global _installation, _watched_ledger
    ledger = _the_ledger(ledger)
    current = _installation
    if current is not None and ledger is gate.following():
        # Every activation calls this: answer without a lock when nothing changed.
        boto3_module = sys.modules.get("boto3")
        if boto3_module is not None and boto3_module.DEFAULT_SESSION is current.boto3_session:
            return current.credentials
    import boto3

    from ..redact import redact_wire_logs

    redact_wire_logs()  # every signed request's canonical request carries the session token
    with _lock:
        _watched_ledger = ledger
        gate.follow(ledger)
        environ.follow(ledger)
        _wrap_setup(boto3)
        default = boto3.DEFAULT_SESSION
        if default is None:
            assert _original_setup is not None
            _original_setup()  # not the wrapper: this call installs below
            default = boto3.DEFAULT_SESSION
        current = _installation
        if current is not None:
            if current.boto3_session is default:
                return current.credentials
            _uninstall_locked()
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
        _installation = _Installation(default, core, resolver, provider, credentials, previous)
        return credentials


def uninstall() -> None:
    """Undo everything ``watch`` and ``install`` did: the default session as it was, no new
    session reached, nothing followed (live credentials handed out answer with their own
    sessions' chains), exporting off, serving stopped, ``os.environ`` and the config files as
    they were, and no renewal ahead of time."""
    global _stop_waiting_for_aiobotocore
    serve = sys.modules.get(f"{__package__}.serve")
    if serve is not None:
        serve.stop_serving()
    renew_ahead.stop()
    with _lock:
        gate.follow(None)
        _uninstall_locked()
        _unwrap_setup()
        botocore_sessions.unhook()
        if _stop_waiting_for_aiobotocore is not None:
            _stop_waiting_for_aiobotocore()
            _stop_waiting_for_aiobotocore = None
        aio = sys.modules.get(f"{__package__}.aiobotocore_sessions")
        if aio is not None:
            aio.unhook()
        environ.export_environ(False)


def _uninstall_locked() -> None:
    global _installation
    current = _installation
    if current is None:
        return
    _installation = None
    if current.provider is not None and current.provider in current.resolver.providers:
        current.resolver.providers.remove(current.provider)
    if current.previous is not None:
        current.previous.__dict__.pop("get_frozen_credentials", None)
    current.core._credentials = current.previous


def installed() -> bool:
    """True when boto3's default session is live: the live credentials are in it, or boto3 has
    none yet and will get them in the one it makes (``watch``)."""
    current = _installation
    boto3 = sys.modules.get("boto3")
    if boto3 is None:
        return False
    if boto3.DEFAULT_SESSION is None:
        return _original_setup is not None
    return current is not None and current.boto3_session is boto3.DEFAULT_SESSION


def credentials() -> LiveCredentials | None:
    """The installed live credentials, or None."""
    current = _installation
    return current.credentials if current else None
